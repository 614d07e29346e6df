"""Packing CQL rows into unlogged batches by owner and shape (no services)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.settings import Settings
from projections.stores.cql_batches import BatchShape, batches_by_owner, one_owner, packed


def partitions(*sizes: int) -> dict[str, list[tuple[str, int]]]:
    """Partitions p0, p1, ... holding rows (partition, index)."""
    return {f"p{n}": [(f"p{n}", i) for i in range(size)] for n, size in enumerate(sizes)}


def shape_of(batches: list[list[tuple[str, int]]]) -> list[tuple[int, int]]:
    """(rows, partitions) of each batch."""
    return [(len(batch), len({key for key, _ in batch})) for batch in batches]


def test_single_row_partitions_fill_batches_up_to_the_partition_bound():
    batches = batches_by_owner(partitions(*[1] * 25), one_owner, BatchShape(rows=30, partitions=10))
    assert shape_of(batches) == [(10, 10), (10, 10), (5, 5)]


def test_a_batch_stops_before_the_row_bound_and_never_splits_a_partition_that_fits():
    batches = batches_by_owner(partitions(4, 4, 4, 4), one_owner, BatchShape(rows=10, partitions=10))
    assert shape_of(batches) == [(8, 2), (8, 2)]


def test_a_partition_larger_than_a_batch_is_sliced():
    batches = batches_by_owner(partitions(70), one_owner, BatchShape(rows=30, partitions=10))
    assert shape_of(batches) == [(30, 1), (30, 1), (10, 1)]
    assert [row for batch in batches for row in batch] == partitions(70)["p0"]


def test_partitions_of_different_owners_never_share_a_batch():
    rows = partitions(*[1] * 12)
    owner = {key: "node-a" if n % 3 else "node-b" for n, key in enumerate(rows)}.__getitem__
    batches = batches_by_owner(rows, owner, BatchShape(rows=100, partitions=100))
    assert sorted(len(batch) for batch in batches) == [4, 8]
    assert all(len({owner(key) for key, _ in batch}) == 1 for batch in batches)


def test_packing_keeps_the_order_of_the_groups():
    assert packed([[1, 2], [3], [4, 5, 6]], BatchShape(rows=3, partitions=5)) == [[1, 2, 3], [4, 5, 6]]
    assert packed([], BatchShape(rows=3, partitions=5)) == []


@pytest.mark.parametrize(("rows", "parts"), [(0, 10), (30, 0), (-1, -1)])
def test_a_shape_holds_at_least_one_row_of_one_partition(rows, parts):
    with pytest.raises(ValueError, match="at least one row"):
        BatchShape(rows, parts)


def test_the_shape_comes_from_the_settings():
    settings = Settings(cql_batch_rows=200, cql_batch_partitions=50, cql_batch_value_bytes=9000)
    assert BatchShape.from_settings(settings) == BatchShape(rows=200, partitions=50, value_bytes=9000)


@given(sizes=st.lists(st.integers(1, 40), max_size=60), rows=st.integers(1, 50),
       parts=st.integers(1, 20), owners=st.integers(1, 4))
def test_every_row_is_sent_once_within_the_shape_and_with_one_owner(sizes, rows, parts, owners):
    found = partitions(*sizes)
    owner = {key: f"node-{n % owners}" for n, key in enumerate(found)}.__getitem__
    batches = batches_by_owner(found, owner, BatchShape(rows, parts))
    sent = [row for batch in batches for row in batch]
    assert sorted(sent) == sorted(row for group in found.values() for row in group)
    for batch in batches:
        assert 1 <= len(batch) <= rows
        assert len({key for key, _ in batch}) <= parts
        assert len({owner(key) for key, _ in batch}) == 1


def test_a_batch_of_several_partitions_stays_below_the_byte_bound():
    long_rows = partitions(1, 1, 1, 2, 1)
    size = {"p0": 400, "p1": 400, "p2": 300, "p3": 600, "p4": 100}
    batches = batches_by_owner(long_rows, one_owner, BatchShape(rows=30, partitions=10, value_bytes=1000),
                               lambda row: size[row[0]])
    assert [sorted({key for key, _ in batch}) for batch in batches] == [["p0", "p1"], ["p2"], ["p3"], ["p4"]]


def test_one_partition_alone_may_pass_the_byte_bound():
    batches = packed([["huge"], ["small"]], BatchShape(rows=30, partitions=10, value_bytes=10),
                     lambda row: 1000 if row == "huge" else 1)
    assert batches == [["huge"], ["small"]]
