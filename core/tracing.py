"""W3C Trace Context: the `traceparent` a request brings or starts, and the spans handed on.

A traceparent is `00-<trace id>-<parent id>-<flags>`: 32 and 16 lowercase hex digits, neither
all zeros, and 2 hex digits of flags (https://www.w3.org/TR/trace-context/#traceparent-header).
A header of a later version is read by its first four fields, as the recommendation asks;
what is written is always version 00. Nothing here records spans: the trace id is carried so
that log lines, events and dead letters of one request can be found together.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["TRACE", "TraceParent", "parse_traceparent", "reasonable_request_id"]

_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_REASONABLE_ID = re.compile(rb"[!-~]{1,128}")  # visible ASCII: no spaces, controls or bytes >127
SAMPLED = "01"  # the flags of a trace started here: its lines are recorded (logged)


@dataclass(frozen=True, slots=True)
class TraceParent:
    """One span of a trace, as a `traceparent` names it to whatever comes next."""

    trace_id: str
    parent_id: str
    flags: str = SAMPLED

    @classmethod
    def start(cls) -> TraceParent:
        """A new trace, and its first span."""
        return cls(_nonzero(16), _nonzero(8))

    def child(self) -> TraceParent:
        """A new span of the same trace, under this one (the flags are passed on as they are)."""
        return TraceParent(self.trace_id, _nonzero(8), self.flags)

    def __str__(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags}"


def _nonzero(size: int) -> str:
    """`size` random bytes in hex, never all zeros (an invalid id).

    Ids must be unique, not secret: `random` (reseeded in each forked process) spares a system
    call per id, as OpenTelemetry's id generator does."""
    while True:
        made = random.getrandbits(size * 8)
        if made:
            return made.to_bytes(size, "big").hex()


def parse_traceparent(value: str | bytes | None) -> TraceParent | None:
    """The traceparent a header holds, or None when it is absent or not a valid one."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = text.strip(" \t")
    found = _FIELDS.match(text)
    if found is None:
        return None
    version, trace_id, parent_id, flags = found.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    rest = text[found.end():]
    if rest and (version == "00" or not rest.startswith("-")):
        return None  # version 00 has exactly four fields; a later one may add "-..." fields
    return TraceParent(trace_id, parent_id, flags)


def reasonable_request_id(value: str | bytes | None) -> str | None:
    """A request id fit for logs and headers (1 to 128 visible ASCII characters), else None."""
    if value is None:
        return None
    raw = value.encode("utf-8", "replace") if isinstance(value, str) else value
    return raw.decode("ascii") if _REASONABLE_ID.fullmatch(raw) else None


# The gateway's span of the request being served (set beside core.logs.REQUEST_ID).
TRACE: ContextVar[TraceParent | None] = ContextVar("trace", default=None)
