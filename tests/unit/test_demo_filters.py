"""samples/destination_filters.json shows each action on the bundled samples."""
import gzip
import json
from pathlib import Path

from transforms.stages.destination_filters import apply_filters, parse_filters

ROOT = Path(__file__).resolve().parents[2]


def sample_events():
    for path in sorted((ROOT / "samples" / "segment-logs").glob("*/*/*.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            try:   # the samples hold malformed lines on purpose
                event = json.loads(line.decode("utf-8"))
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event


def test_every_filter_acts_on_the_samples_and_the_disabled_one_would():
    filters = parse_filters((ROOT / "samples" / "destination_filters.json").read_text())
    acted = {f.title: 0 for f in filters}
    kinds = set()
    for event in sample_events():
        for f in filters:
            sent, dropped_by = apply_filters(event, [f])
            if dropped_by is not None or sent is not event:
                acted[f.title] += 1
                kinds.update(action.type for action in f.actions)
    assert all(acted.values()), acted
    assert kinds == {"SAMPLE", "DROP", "DROP_PROPERTIES", "ALLOW_PROPERTIES"}
    assert [f.title for f in filters if not f.enabled] == ["Drop Acme (disabled)"]


def test_the_samples_keep_part_of_each_sampled_event():
    filters = [f for f in parse_filters((ROOT / "samples" / "destination_filters.json").read_text())
               if f.actions[0].type == "SAMPLE"]
    for f in filters:
        fates = [apply_filters(event, [f])[1] for event in sample_events() if f.matches(event)]
        assert 0 < fates.count(None) < len(fates), f.title
