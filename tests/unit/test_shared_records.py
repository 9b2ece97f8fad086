"""Records merged over a backfill (transforms.delivery.shared_records.LatestFields): each field's
latest value in order, the same whichever way the runner splits and merges the inputs."""
import itertools
import random

from transforms.delivery.shared_records import LatestFields

INPUTS = [((True, 30.0, "g3"), {"Name": "Hooli", "Plan": "paid"}),
          ((True, 10.0, "g1"), {"Name": "Hooli", "Plan": "free", "Industry": "Search"}),
          ((False, 0.0, "g0"), {"Name": "Hooli", "Industry": "unknown", "Seats": 1}),
          ((True, 20.0, "g2"), {"Name": "Hooli Inc", "Seats": 40})]
LATEST = {"Name": "Hooli", "Plan": "paid", "Industry": "Search", "Seats": 40}


def combine(parts) -> dict:
    fn = LatestFields()
    accumulators = []
    for part in parts:
        accumulator = fn.create_accumulator()
        for element in part:
            accumulator = fn.add_input(accumulator, element)
        accumulators.append(accumulator)
    return fn.extract_output(fn.merge_accumulators(accumulators))


def test_each_field_takes_its_latest_value_and_events_without_a_time_count_as_earliest():
    assert combine([INPUTS]) == LATEST


def test_any_split_and_order_of_the_inputs_gives_the_same_record():
    for ordering in itertools.permutations(INPUTS):
        for cut in range(len(INPUTS) + 1):
            assert combine([ordering[:cut], ordering[cut:]]) == LATEST
    shuffled = random.Random(3).sample(INPUTS, len(INPUTS))
    assert combine([[element] for element in shuffled]) == LATEST


def test_two_events_at_the_same_instant_are_ordered_by_messageId():
    tied = [((True, 5.0, "b"), {"Plan": "b"}), ((True, 5.0, "a"), {"Plan": "a"})]
    assert combine([tied]) == combine([tied[::-1]]) == {"Plan": "b"}
