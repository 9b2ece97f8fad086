"""`python -m bench.filter_cost --input GLOB --filters FILE`: what destination filters cost per
event, in one plain Python process (no Beam): the events are read and parsed once, then
filter_check (transforms.stages.destination_filters) runs over all of them `--repeat` times.

    filters: 10 (bench/ten_filters.json) over 200,000 events
    parse        4.91 us/event   (transforms.stages.parse.parse_line, for scale)
    filters      3.02 us/event   median of 3 passes: 3.02, 3.05, 2.99
    dropped      23,456 (11.7%)   changed 151,000

Times are CPU time of this process (time.process_time): on a shared machine, wall time counts
the other processes' turns too. Each pass gets its own copy of the parsed events (property
actions change a copy anyway; the copy is made before the clock starts).
"""
import argparse
import copy
import glob
import statistics
import sys
import time

from transforms.common import counters
from transforms.stages.destination_filters import filter_check, parse_filters
from transforms.stages.parse import InvalidEvent, parse_line
from transforms.stages.read import is_blank, iter_lines, open_events_file


def read_events(pattern: str) -> tuple[list, float]:
    """(parsed events of every file the glob matches, seconds spent parsing them)."""
    events, parse_seconds = [], 0.0
    for path in sorted(glob.glob(pattern)):
        with open_events_file(path) as stream:
            for _, raw in iter_lines(stream):
                if is_blank(raw):
                    continue
                started = time.process_time()
                try:
                    event = parse_line(raw)
                except InvalidEvent:
                    continue
                finally:
                    parse_seconds += time.process_time() - started
                events.append(event)
    return events, parse_seconds


def measure(events: list, filters_text: str, repeat: int) -> dict:
    """Seconds per pass of filter_check over `events`, and what the last pass did."""
    apply = filter_check(parse_filters(filters_text))
    seconds, counts = [], {}
    for _ in range(repeat):
        batch = copy.deepcopy(events)
        counts = {}

        def count(name, value=1):
            counts[name] = counts.get(name, 0) + value
        started = time.process_time()
        results = [apply(event, count) for event in batch]
        seconds.append(time.process_time() - started)
    changed = sum(1 for before, after in zip(batch, results) if after is not None and after is not before)
    return {"seconds": seconds, "dropped": counts.get(counters.DROPPED_BY_FILTER, 0), "changed": changed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.filter_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, metavar="GLOB")
    parser.add_argument("--filters", required=True, metavar="FILE")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with open(args.filters, encoding="utf-8") as handle:
        text = handle.read()
    events, parse_seconds = read_events(args.input)
    if not events:
        print("no events", file=sys.stderr)
        return 1
    result = measure(events, text, args.repeat)
    per_event = [s / len(events) * 1e6 for s in result["seconds"]]
    print(f"filters: {len(parse_filters(text))} ({args.filters}) over {len(events):,} events")
    print(f"parse    {parse_seconds / len(events) * 1e6:8.2f} us/event   CPU (parse_line, for scale)")
    print(f"filters  {statistics.median(per_event):8.2f} us/event   CPU, median of {len(per_event)} passes: "
          + ", ".join(f"{value:.2f}" for value in per_event))
    print(f"dropped  {result['dropped']:,} ({result['dropped'] / len(events):.1%})   changed {result['changed']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
