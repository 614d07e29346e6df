"""What a fold returns: the store operations to make, in order, for each store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from projections.stores.base import ActiveWrites, RecordWrites

__all__ = ["Writes", "Call"]


@dataclass(frozen=True, slots=True)
class Call:
    """One store operation: a method of the store's writer and its arguments."""

    method: str
    args: tuple[Any, ...]


class _Recorder:
    """Stands in for a store writer and remembers each operation instead of making it."""

    def __init__(self, calls: list[Call]):
        self._calls = calls

    def __getattr__(self, method: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self._calls.append(Call(method, args))
        return record


@dataclass
class Writes:
    """The operations a fold decided on, for the active store and the record store."""

    active_calls: list[Call] = field(default_factory=list)
    record_calls: list[Call] = field(default_factory=list)

    @property
    def active(self) -> ActiveWrites:
        return cast("ActiveWrites", _Recorder(self.active_calls))

    @property
    def record(self) -> RecordWrites:
        return cast("RecordWrites", _Recorder(self.record_calls))

    def __bool__(self) -> bool:
        return bool(self.active_calls or self.record_calls)

    def extend(self, other: Writes) -> None:
        self.active_calls += other.active_calls
        self.record_calls += other.record_calls

    def replay_onto(self, active: ActiveWrites | None, record: RecordWrites | None) -> None:
        """Buffer every operation on real writers (which send them at their flush)."""
        for call in self.active_calls:
            getattr(active, call.method)(*call.args)
        for call in self.record_calls:
            getattr(record, call.method)(*call.args)
