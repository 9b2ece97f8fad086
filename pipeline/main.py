"""run(): parse flags, validate them, build the graph, run it, print and write the summary."""
import dataclasses
import datetime
import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (DirectOptions, PipelineOptions, StandardOptions,
                                                  TestOptions)

from pipeline import cli_help
from pipeline.graph import build_pipeline
from pipeline.processes.local_workers import chose_running_mode, worker_count
from pipeline.processes.memory import collect_garbage_less_often
from pipeline.processes.pubsub_pull import shorten_local_pulls
from pipeline.progress import ProgressReporter
from pipeline.report.output import build_page, write_report
from pipeline.options import ConfigError, JobConfig, extract_keys, resolve_config, unknown_flags
from pipeline.summary import build_summary, counter_values, distribution_values, format_table
from transforms.delivery import destinations
from transforms.common import report_tally, stopping, worker_files
from transforms.stages.read import to_read
from transforms.common.counters import LOCAL_TALLY
from transforms.delivery.http_delivery import next_utc_day
from transforms.delivery.key_check import REJECTED, VALID, check_key
from transforms.shuffle.spill import make_spill_dir
from transforms.shuffle.user_blocks import user_buckets

# A backfill on Dataflow sends its events to the per-user step in this many buckets (its
# parallelism there; a local run picks by the input's size: transforms.shuffle.user_blocks).
REMOTE_USER_BUCKETS = 1024

# Beam 2.77's DirectRunner first tries to download a Prism binary. Run a backfill on the
# in-process FnApiRunner and a stream on the BundleBasedDirectRunner unless the user picks.
DEFAULT_BATCH_RUNNER = "FnApiRunner"
DEFAULT_STREAMING_RUNNER = "BundleBasedDirectRunner"
# How long a stopped local stream waits for the runner's workers to finish their current work.
CANCEL_WAIT_SECONDS = 20.0
# Beam's local running modes that give the default's answer, event for event (tests/e2e/
# test_running_modes.py). multi_threading is refused: see check_local_running_mode.
ACCEPTED_RUNNING_MODES = ("in_memory", "multi_processing")

# Set once a local backfill has written every output and printed its summary: the CLI may then
# end the process without the interpreter's teardown (exit_process).
_outputs_complete = False


# Exit code of a local backfill stopped by SIGTERM or Ctrl-C (docs/outputs.md, exit codes).
EXIT_STOPPED = 4
# Exit code of a backfill that went well but whose --report could not be written.
EXIT_REPORT_FAILED = 6
# Exit code of a backfill that spent the day's --max_requests_per_day (docs/gainsight-api.md).
EXIT_BUDGET_SPENT = 7


def run(argv: list[str] | None = None, environ=None, warm=None) -> int:
    """Runs the job; returns the process exit code (see README: 0 to 5). `warm`: worker
    processes the CLI started before its imports (pipeline.processes.warm_workers), used if the run is a
    local backfill on workers, else stopped; stopped when the run ends either way."""
    try:
        return _run(argv, environ, warm)
    finally:
        if warm is not None:
            warm.close()


def _run(argv, environ, warm) -> int:
    global _outputs_complete
    _outputs_complete = False
    started = time.time()
    argv = sys.argv[1:] if argv is None else argv
    answered = cli_help.handle(argv)  # --help, --help_beam, --version
    if answered is not None:
        return answered
    try:
        options, config = configure(argv, os.environ if environ is None else environ)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    dry_run = options.view_as(TestOptions).dry_run
    for note in config.sink.destination_in_use().notes:   # what its flags leave out, and why
        print(f"{config.destination}: {note}", file=sys.stderr, flush=True)
    if not dry_run:
        code = _check_key_before_reading(config)
        if code:
            return code
    runner = options.view_as(StandardOptions).runner
    remote = _is_remote(runner)
    facts = {"started": started, "flags": extract_keys(list(argv))[1], "runner": runner}
    total_bytes, files = (None, 0) if remote or config.streaming else input_size(config.inputs, config.window)
    config = with_event_travel(config, remote or dry_run, total_bytes)
    workers = None
    if not (remote or dry_run or config.streaming):
        direct = options.view_as(DirectOptions)
        workers = worker_count(direct.direct_running_mode, direct.direct_num_workers,
                               chose_running_mode(argv), total_bytes, files, os.cpu_count() or 1)
    if warm is not None and workers is None:
        warm.close()   # started on a guess (pipeline.__main__) that the checks did not bear out
    try:
        pipeline = beam.Pipeline(options=options) if workers is None else beam.Pipeline(
            runner=local_runner(options.view_as(DirectOptions), workers, warm), options=options)
        build_pipeline(pipeline, config)
        if dry_run:
            pipeline.run()
            print("dry run: the job graph was built and not submitted")
            return 0
        if remote:
            return _run_remotely(pipeline, config, facts)
        return _run_locally(pipeline, config, total_bytes, workers, facts)
    finally:
        if config.spill_dir:
            shutil.rmtree(config.spill_dir, ignore_errors=True)


def local_runner(direct: DirectOptions, workers: int, warm=None):
    """The local runner of a backfill on `workers` processes, each `python -m pipeline.processes.worker`
    (Beam's SDK harness, which leaves Ctrl-C to this process and hears its stop requests); with
    `warm` (pipeline.processes.warm_workers), the runner's command hands each worker's start to one of the
    processes started early, which have imported Beam meanwhile.

    Beam's own multi_processing mode would start its harness without these; the runner is
    given the worker command instead, and the mode flag is cleared so that the runner does not
    replace it (the flag's only reader is the runner's start: fn_runner.run_pipeline)."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner  # pylint: disable=import-outside-toplevel
    from apache_beam.transforms.environments import SubprocessSDKEnvironment  # pylint: disable=import-outside-toplevel
    direct.direct_num_workers = workers
    direct.direct_running_mode = None
    # The runner starts it with a shell (`sh -c`); exec: no shell stays between, to die of Ctrl-C.
    command = (warm.attach_command() if warm is not None
               else f"exec {shlex.quote(sys.executable)} -m pipeline.processes.worker")
    return FnApiRunner(default_environment=SubprocessSDKEnvironment.from_command_string(command))


def with_event_travel(config: JobConfig, through_shuffle: bool,
                      total_bytes: int | None) -> JobConfig:
    """How a backfill's events travel to the per-user step (transforms.shuffle.user_blocks): run
    locally, in buckets for the input's size, spilled to a directory made for this run in
    $TMPDIR (transforms.shuffle.spill; removed when the run ends); `through_shuffle` (Dataflow, a dry
    run), in REMOTE_USER_BUCKETS buckets through the runner's shuffle. A stream is left as it is."""
    if config.streaming:
        return config
    if through_shuffle:
        return dataclasses.replace(config, user_buckets=REMOTE_USER_BUCKETS)
    return dataclasses.replace(config, user_buckets=user_buckets(total_bytes),
                               spill_dir=make_spill_dir())


def configure(argv: list[str], environ) -> tuple[PipelineOptions, JobConfig]:
    """Flags -> (Beam options without the access key, validated JobConfig); picks the local
    runner when none is given. Raises ConfigError naming the flag."""
    keys, argv = extract_keys(list(argv))
    unknown = unknown_flags(argv)
    if unknown:
        raise ConfigError(unknown[0], "unknown flag (see --help)")
    options = PipelineOptions(argv)
    config = resolve_config(options, keys, environ)
    standard = options.view_as(StandardOptions)
    standard.streaming = standard.streaming or config.streaming
    if not standard.runner:
        standard.runner = DEFAULT_STREAMING_RUNNER if config.streaming else DEFAULT_BATCH_RUNNER
    if not _is_remote(standard.runner):
        check_local_running_mode(options.view_as(DirectOptions))
    return options, config


def _check_key_before_reading(config: JobConfig) -> int:
    """The destination's key check (Gainsight PX: POST []), when it has one and the key is known
    here (not --preview, not read from Secret Manager on the workers). 0 to go on, else the
    exit code: 3 the key was rejected, 5 the destination did not answer."""
    destination = config.sink.destination_in_use()
    key = config.sink.access_key.reveal()
    if destination.key_check is None or config.preview or not key:
        return 0
    result = check_key(destination, config.sink.endpoint, key, config.sink.retry_policy,
                       config.sink.ca_bundle)
    if result.verdict == VALID:
        return 0
    flag = destination.credential.flag
    if result.verdict == REJECTED:
        print(f"error: {destination.title} rejected the key ({result.detail}): check {flag} (or "
              f"{destination.credential.env}); nothing was read or sent", file=sys.stderr)
        return 3
    print(f"error: {destination.title}'s key check at {config.sink.url} got no usable answer "
          f"({result.detail}); nothing was read or sent. Check --gainsight_endpoint / "
          f"--gainsight_domain / --px_region and the network, then run again", file=sys.stderr)
    return 5


def check_local_running_mode(direct: DirectOptions) -> None:
    """Refuses the local modes that do not give the default's outcome; raises ConfigError.

    multi_threading runs Beam's SDK harness in this process over gRPC with a 1 s time-based
    output buffer (worker_handlers.DATA_BUFFER_TIME_LIMIT_MS): a timer thread flushes the
    buffer while the bundle's thread is still writing to it, without a lock, so elements
    written between its get() and its clear are dropped, and a flush can cut an element in
    two, which the runner then decodes as garbage (Beam 2.77, data_plane.py,
    TimeBasedBufferingClosableOutputStream). in_memory and multi_processing buffer by size.
    """
    mode = direct.direct_running_mode
    if mode not in ACCEPTED_RUNNING_MODES:
        raise ConfigError("--direct_running_mode", (
            f"{mode} is refused: in Beam 2.77 its workers flush their output buffers from a timer "
            "thread while a bundle is still writing, which drops or corrupts events (requests "
            "missing, a summary that does not balance, or memory exhausted). Use in_memory (the "
            "default) or multi_processing"))
    if direct.direct_num_workers is not None and direct.direct_num_workers < 0:
        raise ConfigError("--direct_num_workers", "must be 0 (one worker per CPU) or more")


def _is_remote(runner: str) -> bool:
    return any(name in runner for name in ("Dataflow", "Portable", "Flink", "Spark"))


def _run_remotely(pipeline, config: JobConfig, facts: dict | None = None) -> int:
    """Submits the job; waits for a batch job (unless --no_wait) and reports its summary."""
    result = pipeline.run()
    if config.streaming or config.no_wait:
        print("job submitted; follow it in the Dataflow console (a streaming job runs until "
              "you drain it: `gcloud dataflow jobs drain JOB_ID --region REGION`)")
        return 0
    result.wait_until_finish()
    return _report(build_summary(counter_values(result)), config, facts, None,
                   distribution_values(result))


def _run_locally(pipeline, config: JobConfig, total_bytes: int | None = None,
                 workers: int | None = None, facts: dict | None = None) -> int:
    """Runs here, in this process or on `workers` worker processes, with a progress line; a
    stream runs until interrupted."""
    global _outputs_complete
    collect_garbage_less_often()
    if config.streaming:
        shorten_local_pulls()
        with ProgressReporter():
            return _follow_local_stream(pipeline.run())
    with ProgressReporter(total_bytes=total_bytes,
                          rate_cap=_events_per_second_cap(config),
                          workers_dir=config.spill_dir if workers else None), \
            StopOnSignals(), WorkersHear(config.spill_dir if workers else None), \
            report_tally.recording(bool(config.report)):
        report_tally.reset()
        result = pipeline.run()
        result.wait_until_finish()
    tally = report_tally.merged([report_tally.snapshot()] + (
        worker_files.read_report_tallies(config.spill_dir) if workers else []))
    code = _report(build_summary(counter_values(result)), config, facts, tally,
                   distribution_values(result))
    _outputs_complete = True
    return code


class WorkersHear:
    """Context manager: while a local backfill runs on worker processes, they find the run's
    directory in their environment (started by the runner, they inherit it), and a stop
    request reaches them there (transforms.common.stopping, transforms.common.worker_files). None: the run
    is in this process, nothing to do."""

    def __init__(self, directory: str | None):
        self._directory = directory

    def __enter__(self):
        if self._directory is not None:
            os.environ[worker_files.RUN_DIR_ENV] = self._directory
            stopping.share_with_workers(self._directory)
        return self

    def __exit__(self, *exc_info):
        if self._directory is not None:
            os.environ.pop(worker_files.RUN_DIR_ENV, None)
            stopping.share_with_workers(None)


def _events_per_second_cap(config: JobConfig) -> float | None:
    """The most events a second the sink can settle, for the progress line's estimate before a
    rate is measured: the request cap times the events a request carries. None for --preview,
    and for a destination that merges events into calls of its own (how many a call holds
    depends on the data: its estimate waits for the measured rate)."""
    destination = config.sink.destination_in_use()
    if config.preview or destination.deliver is not None:
        return None
    return config.sink.max_requests_per_second * destination.max_events_per_request


def exit_process(code: int) -> None:
    """Ends the CLI's process with `code`. After a local backfill, whose every output is
    written and closed by then, it skips the interpreter's teardown (freeing millions of
    objects, joining Beam's threads): stdout and stderr are flushed, then os._exit. Otherwise,
    and whenever run() is called as a library, nothing changes: sys.exit."""
    if not _outputs_complete:
        sys.exit(code)
    for stream in [*logging.getLogger().handlers, sys.stdout, sys.stderr]:
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more can be said there
            pass
    os._exit(code)


def input_size(patterns, window=None) -> tuple[int | None, int]:
    """(bytes, number) of the files the --input patterns match (as the reader will read them:
    transforms.stages.read.to_read, with the --from / --to window); (None, 0) when they cannot be
    matched here."""
    try:
        matched = FileSystems.match(list(patterns))
    except Exception:  # pylint: disable=broad-except  (sizing only: never fail the run for it)
        return None, 0
    sizes = [m.size_in_bytes for result in matched for m in result.metadata_list
             if to_read(m.path, patterns, window)]
    return sum(sizes) or None, len(sizes)


class StopOnSignals:
    """Context manager for a local backfill: the first SIGTERM or SIGINT (Ctrl-C) asks the job to
    stop (transforms.common.stopping: the reader reads no more, the sink sends no new request) and the
    run ends normally, flushing the checkpoint and the dead letters; a second one aborts at once.
    The previous handlers are back on exit."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self):
        stopping.reset()
        self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    @staticmethod
    def _handle(signum, frame):
        name = signal.Signals(signum).name
        if stopping.stop_requested():
            print(f"{name} again: aborting now (what was settled in the last second may be sent "
                  "again on resume)", file=sys.stderr, flush=True)
            os._exit(128 + signum)  # pylint: disable=protected-access
        stopping.request_stop(f"interrupted by {name}")
        print(f"{name}: stopping: no more lines are read; requests in flight finish, then the "
              "summary so far (send it again to abort at once)", file=sys.stderr, flush=True)


def _follow_local_stream(result) -> int:
    """Runs until Ctrl-C or SIGTERM, then cancels the job and prints what it counted."""
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    print("streaming: reading Pub/Sub until interrupted (Ctrl-C)", flush=True)
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        cancel_within(result, CANCEL_WAIT_SECONDS)
    finally:
        # Printed however the run ends, so what was counted is never lost with it. The local
        # streaming runner drops metric updates (see counters.LocalTally): use the tally.
        print(format_table(build_summary(LOCAL_TALLY.snapshot())), flush=True)
    return 0


def cancel_within(result, seconds: float) -> bool:
    """Cancels a local run, waiting at most `seconds`; True when it stopped in time.

    The local runner's cancel waits for each worker's current work, and a worker can be held by
    a blocking read or a delivery's retries: the summary must not wait for that. Its worker
    threads are daemons, so the process can exit without them.
    """
    stopper = threading.Thread(target=result.cancel, name="cancel", daemon=True)
    stopper.start()
    stopper.join(seconds)
    if stopper.is_alive():
        print(f"streaming: the runner did not stop within {seconds:g} s; exiting without it",
              file=sys.stderr, flush=True)
        return False
    return True


def _stop_like_ctrl_c(signum, frame):
    raise KeyboardInterrupt()


def _report(summary: dict, config: JobConfig, facts: dict | None = None, tally: dict | None = None,
            distribution: dict | None = None) -> int:
    """Prints the table and outputs; writes --summary, then --report (facts, tally, distribution:
    pipeline.report.output.build_page's); the exit code says if all went well. A report that
    cannot be written is said, and makes a run that went well exit EXIT_REPORT_FAILED."""
    code = _outcome(summary, config)
    if not config.report:
        return code
    try:
        page = build_page(summary, config, {**(facts or {}), "ended": time.time(),
                                            "exit_code": code}, tally, distribution)
        write_report(config.report, page)
    except Exception as err:  # pylint: disable=broad-except  (the summary and dead letters are written)
        print(f"error: --report: could not write {config.report} ({type(err).__name__}: "
              f"{str(err)[:300]}); the summary and the dead letters are written as above",
              file=sys.stderr, flush=True)
        return code or EXIT_REPORT_FAILED
    print(f"report: {config.report}")
    return code


def _outcome(summary: dict, config: JobConfig) -> int:
    """Prints the table and outputs; writes --summary; the exit code says if all went well."""
    print(format_table(summary))
    print(f"dead letters: {config.dead_letter}-*.jsonl")
    if config.preview:
        print(f"preview: {config.preview}-*.jsonl")
    if config.summary:
        with FileSystems.create(config.summary) as out:  # local (parents created) or gs://
            out.write(json.dumps(summary, indent=2, sort_keys=True).encode("utf-8"))
        print(f"summary: {config.summary}")
    destination = destinations.get(config.destination)
    stopped = stopping.stop_requested() and not config.streaming
    if stopped:
        print(_resume_hint(config), file=sys.stderr, flush=True)
    if not summary["balanced"]:
        print("error: the counts do not add up (see the table); please report this", file=sys.stderr)
        return 1
    held = (f"{summary['unsent']} events were not sent: run the same command again to resume"
            if config.sink.resumable else
            f"{summary['dead_lettered']} undelivered events are in the dead letter (with "
            f"--checkpoint they would wait for a resume instead)")
    if summary["key_rejected"]:
        credential = destination.credential
        print(f"error: {destination.title} rejected the key repeatedly (HTTP 401/403), so "
              f"delivery stopped; {held}. Check {credential.flag} (or {credential.env})"
              + ("." if config.sink.resumable else " and replay the dead letter with --input."),
              file=sys.stderr)
        return 3
    if summary["outage_stopped"]:
        print(f"error: {destination.title} was unreachable for longer than --max_outage_minutes, "
              f"so delivery stopped; {held}.", file=sys.stderr)
        return 5
    if summary["budget_spent"]:
        print(budget_message(config.sink.max_requests_per_day, summary, config.sink.resumable),
              file=sys.stderr)
        return EXIT_BUDGET_SPENT
    return EXIT_STOPPED if stopped else 0


def budget_message(per_day: int, summary: dict, resumable: bool, now: float | None = None) -> str:
    """What a backfill says when the day's request budget ran out: when it renews, and how to go on.

    >>> print(budget_message(45000, {"unsent": 3}, True, now=86_400 * 20_000 + 3600 * 22.5))
    error: the day's request budget (--max_requests_per_day 45000) was spent, so delivery stopped; 3 events were not sent. The budget renews at 00:00 UTC, in 1 h 30 min (2024-10-05T00:00:00Z): run the same command again then, and it resumes where this run stopped.
    """
    now = time.time() if now is None else now
    renews = next_utc_day(now)
    left = int(renews - now) // 60
    when = datetime.datetime.fromtimestamp(renews, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if resumable:
        held = f"{summary['unsent']} events were not sent"
        then = "run the same command again then, and it resumes where this run stopped"
    else:
        held = f"{summary['budget_spent']} events not sent are in the dead letter"
        then = ("replay the dead letter with --input then (with --checkpoint, the same command "
                "would resume instead)")
    return (f"error: the day's request budget (--max_requests_per_day {per_day}) was spent, so "
            f"delivery stopped; {held}. The budget renews at 00:00 UTC, in {left // 60} h "
            f"{left % 60} min ({when}): {then}.")


def _resume_hint(config: JobConfig) -> str:
    """The one line a stopped backfill ends with: how to go on from here."""
    reason = stopping.stop_reason() or "stopped"
    if config.checkpoint:
        return (f"stopped ({reason}) before the end: to resume, run the same command again with "
                f"the same --checkpoint {config.checkpoint}; what it recorded as settled is not sent again")
    return (f"stopped ({reason}) before the end: running the same command again would send again "
            "what this run delivered; give --checkpoint DIR next time, and the same command then "
            "resumes where it stopped")
