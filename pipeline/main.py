"""run(): parse flags, validate them, build the graph, run it, print and write the summary."""
import json
import logging
import os
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

from pipeline.graph import build_pipeline
from pipeline.options import (ACCESS_KEY_ENV, ConfigError, extract_access_key, resolve_config,
                              unknown_flags)
from pipeline.summary import build_summary, counter_values, format_table

# Beam 2.77's DirectRunner first tries to download a Prism binary; run batch on the
# in-process FnApiRunner unless the user picks a runner.
DEFAULT_BATCH_RUNNER = "FnApiRunner"


def run(argv: list[str] | None = None, environ=None) -> int:
    """Runs the job; returns the process exit code (2 for a configuration error)."""
    access_key, argv = extract_access_key(list(sys.argv[1:] if argv is None else argv))
    unknown = unknown_flags(argv)
    if unknown:
        return _config_failure(ConfigError(unknown[0], "unknown flag (see --help)"))
    options = PipelineOptions(argv)
    if not options.view_as(StandardOptions).runner:
        options.view_as(StandardOptions).runner = DEFAULT_BATCH_RUNNER
    try:
        config = resolve_config(options, access_key, os.environ if environ is None else environ)
    except ConfigError as err:
        return _config_failure(err)

    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config)
    result = pipeline.run()
    if options.view_as(TestOptions).dry_run:
        print("dry run: the job graph was built and not submitted")
        return 0
    result.wait_until_finish()
    summary = build_summary(counter_values(result))
    print(format_table(summary))
    print(f"dead letters: {config.dead_letter}-*.jsonl")
    if config.preview:
        print(f"preview: {config.preview}-*.jsonl")
    if config.summary:
        with open(config.summary, "w", encoding="utf-8") as out:
            json.dump(summary, out, indent=2, sort_keys=True)
        print(f"summary: {config.summary}")
    if summary["key_rejected"]:
        print(f"error: Gainsight rejected the access key repeatedly (HTTP 401/403), so delivery "
              f"stopped; {summary['dead_lettered']} undelivered events are in the dead letter. "
              f"Check --access_key (or {ACCESS_KEY_ENV}) and replay the dead letter with --input.",
              file=sys.stderr)
        return 3
    if not summary["balanced"]:
        print("error: the counts do not add up (see the table); please report this", file=sys.stderr)
        return 1
    return 0


def _config_failure(err: ConfigError) -> int:
    print(f"configuration error: {err}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.WARNING)
    sys.exit(run())
