"""The request an event was sent for, in its Kafka headers: `x-request-id` and `traceparent`.

The gateway puts them on every event a request emits (the traceparent names a span of its own,
a child of the request's); a service using the producer library passes its own. The worker
reads them back only when it has something to say about one event (a dead letter, a failing
fold), never for the events it folds, so carrying them costs the hot path nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.tracing import TraceParent, parse_traceparent, reasonable_request_id

__all__ = ["REQUEST_ID_HEADER", "TRACEPARENT_HEADER", "TRACE_HEADERS", "Traced", "trace_headers",
           "traced"]

REQUEST_ID_HEADER = "x-request-id"
TRACEPARENT_HEADER = "traceparent"
TRACE_HEADERS = (REQUEST_ID_HEADER, TRACEPARENT_HEADER)

HeaderItems = Iterable[tuple[str, Any]] | Mapping[str, Any] | None


def trace_headers(request_id: str | None, span: TraceParent | None) -> list[tuple[str, bytes]]:
    """The headers of an event sent for a request: its id, and a new span of its trace under
    `span` (the sender's); either is left out when there is none."""
    headers: list[tuple[str, bytes]] = []
    if request_id:
        headers.append((REQUEST_ID_HEADER, request_id.encode()))
    if span is not None:
        headers.append((TRACEPARENT_HEADER, str(span.child()).encode()))
    return headers


@dataclass(frozen=True, slots=True)
class Traced:
    """The request id and trace id a message carries (None when absent or malformed)."""

    request_id: str | None = None
    trace_id: str | None = None

    def fields(self) -> dict[str, str]:
        """As log fields (`extra`): only those it has."""
        found = {"request_id": self.request_id, "trace_id": self.trace_id}
        return {name: value for name, value in found.items() if value is not None}

    def __str__(self) -> str:
        """` (trace <id>)` to end a log line about the message; the text format shows the
        request id in its own place."""
        return f" (trace {self.trace_id})" if self.trace_id else ""


def traced(headers: HeaderItems) -> Traced:
    """What a message's headers say of its request; unreadable values are left out."""
    items = headers.items() if isinstance(headers, Mapping) else headers or ()
    request_id = trace = None
    for name, value in items:
        if name == REQUEST_ID_HEADER and request_id is None:
            request_id = reasonable_request_id(value)
        elif name == TRACEPARENT_HEADER and trace is None:
            trace = parse_traceparent(value)
    return Traced(request_id, trace.trace_id if trace is not None else None)
