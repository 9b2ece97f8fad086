"""The job's building blocks, one package per kind; pipeline/ puts them together.

    common/    shared by all: JSON, counter names, output tags, paths, the stop request
    stages/    the job's steps, Read to AttachAccountId, each a plain-function core and a thin composite
    delivery/  the sink: requests, batches, the sender, the circuit breaker, the key check, destinations/
    outputs/   what a run leaves behind durably: dead letters, the checkpoint, JSONL files
    shuffle/   how a backfill's events and side inputs reach the per-user step (blocks, spill, tables)

Nothing here imports pipeline/. Which package may import which: tests/unit/test_layout.py.
"""
