"""How rows of the CQL record store are packed into unlogged batches: pure grouping, no driver.

Rows of one partition go together; partitions whose first replica is the same node are packed
into one request up to a shape (rows, partitions and bytes of values per request), so
token-aware routing still sends each request to a node that owns every partition in it. The
byte bound keeps a batch of several partitions below the server's batch size failure threshold
however long its rows' texts are (a batch of one partition is never refused for its size).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from core.settings import Settings

__all__ = ["BatchShape", "DEFAULT_SHAPE", "one_owner", "packed", "batches_by_owner", "no_size"]

Row = TypeVar("Row")
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class BatchShape:
    """The most rows, partitions and bytes of bound values one unlogged batch carries."""

    rows: int
    partitions: int
    value_bytes: int = 20_000

    def __post_init__(self) -> None:
        if min(self.rows, self.partitions, self.value_bytes) < 1:
            raise ValueError(f"a batch holds at least one row of one partition, not {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchShape:
        return cls(settings.cql_batch_rows, settings.cql_batch_partitions,
                   settings.cql_batch_value_bytes)

    def __str__(self) -> str:
        return f"{self.rows} rows x {self.partitions} partitions"


DEFAULT_SHAPE = BatchShape.from_settings(Settings.model_construct())


def one_owner(_: object) -> str:
    """Every partition on the same node: a cluster of one host needs no replica lookup."""
    return ""


def no_size(_: object) -> int:
    return 0


def packed(groups: Sequence[Sequence[Row]], shape: BatchShape,
           size: Callable[[Row], int] = no_size) -> list[list[Row]]:
    """Whole partition groups filled into batches, never past the row, partition or byte bound
    (a group alone may pass the byte bound: one partition is one mutation).

    A group larger than `shape.rows` must already be split (see `batches_by_owner`)."""
    batches: list[list[Row]] = []
    batch: list[Row] = []
    partitions = filled = 0
    for group in groups:
        group_bytes = sum(size(row) for row in group)
        if partitions and (partitions == shape.partitions or len(batch) + len(group) > shape.rows
                           or filled + group_bytes > shape.value_bytes):
            batches.append(batch)
            batch, partitions, filled = [], 0, 0
        batch.extend(group)
        partitions, filled = partitions + 1, filled + group_bytes
    if batch:
        batches.append(batch)
    return batches


def batches_by_owner(partitions: Mapping[Key, Sequence[Row]], owner: Callable[[Key], str],
                     shape: BatchShape, size: Callable[[Row], int] = no_size) -> list[list[Row]]:
    """Each partition's rows in slices of at most `shape.rows`; the slices of partitions with
    the same owner packed together. `size`: a row's bytes of values."""
    by_owner: dict[str, list[Sequence[Row]]] = {}
    for key, rows in partitions.items():
        slices = by_owner.setdefault(owner(key), [])
        slices.extend(rows[start:start + shape.rows] for start in range(0, len(rows), shape.rows))
    return [batch for groups in by_owner.values() for batch in packed(groups, shape, size)]
