"""The floor: what reading a backfill costs at the least, with none of the job's rules.

    python -m bench.floor --input GLOB [--input GLOB ...] --out PATH

Decompresses every file (sorted by path), parses each non-blank line with orjson, and writes
each object that parsed back as one compact JSON line to PATH. No validation, consent, dedupe,
identity, accounts or summary: the job and the baseline (bench/baseline.py) cannot be faster
than this on one core. docs/performance.md quotes it beside B1.
"""
import argparse
import glob
import gzip
import sys
import time

import orjson


def copy_bodies(paths, out) -> int:
    """Each parsable line of `paths` (gzip by the .gz extension) -> a compact line in `out`."""
    written = 0
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as stream:
            for line in stream:
                if not line.strip():
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                out.write(orjson.dumps(event) + b"\n")
                written += 1
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True, help="glob of input files (repeatable)")
    parser.add_argument("--out", required=True, help="where the bodies go (one JSONL file)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    paths = sorted(path for pattern in args.input for path in glob.glob(pattern, recursive=True))
    with open(args.out, "wb", buffering=1 << 20) as out:
        written = copy_bodies(paths, out)
    print(f"{written} bodies from {len(paths)} files in {time.monotonic() - started:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
