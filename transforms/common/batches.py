"""Cutting a sequence into batches: plain functions the sink and the destinations share.

    list(chunked(range(5), 2))                  -> [[0, 1], [2, 3], [4]]
    list(packed_batches([[1, 2], [3]], 2))      -> [[1, 2], [3]]   (a group kept whole)
"""
import itertools


def chunked(items, size: int):
    """Lists of up to `size` items, read lazily from any iterable.

    >>> list(chunked(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def packed_batches(groups, size: int):
    """Batches of up to `size` items with each group (a list) kept whole: a group that does not
    fit in the batch being filled starts the next; only a group larger than `size` is cut.

    >>> list(packed_batches([[1, 2], [3], [4, 5, 6], [7, 8, 9, 10, 11], [12]], 3))
    [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]
    """
    batch = []
    for group in groups:
        if batch and len(batch) + len(group) > size:
            yield batch
            batch = []
        while len(group) > size:
            yield group[:size]
            group = group[size:]
        batch.extend(group)
    if batch:
        yield batch
