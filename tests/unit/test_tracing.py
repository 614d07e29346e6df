"""The request an event was sent for: W3C traceparents read and made, the headers events carry
and what is read back of them."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from core.tracing import TraceParent, parse_traceparent, reasonable_request_id
from stories.commands.emit import request_headers
from streams.tracing import Traced, trace_headers, traced

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
GIVEN = f"00-{TRACE_ID}-{SPAN_ID}-01"


def test_a_valid_traceparent_is_read_field_by_field() -> None:
    assert parse_traceparent(GIVEN) == TraceParent(TRACE_ID, SPAN_ID, "01")
    assert parse_traceparent(GIVEN.encode()) == TraceParent(TRACE_ID, SPAN_ID, "01")
    assert parse_traceparent(f" {GIVEN[:-2]}00\t") == TraceParent(TRACE_ID, SPAN_ID, "00")


@pytest.mark.parametrize("given", [
    None, "", "00", GIVEN.upper(), GIVEN.replace("-", "_"), GIVEN + "-extra",
    f"00-{'0' * 32}-{SPAN_ID}-01", f"00-{TRACE_ID}-{'0' * 16}-01",
    f"ff-{TRACE_ID}-{SPAN_ID}-01", f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID}-1", f"00-{TRACE_ID}g-{SPAN_ID}-01",
    f"cc-{TRACE_ID}-{SPAN_ID}-01.more",
])
def test_anything_else_is_no_traceparent(given: str | None) -> None:
    assert parse_traceparent(given) is None


def test_a_later_version_is_read_by_its_first_four_fields() -> None:
    assert parse_traceparent(f"cc-{TRACE_ID}-{SPAN_ID}-01-what-comes-next") == TraceParent(
        TRACE_ID, SPAN_ID, "01")


def test_a_new_trace_and_a_child_span_are_valid_version_00_traceparents() -> None:
    started = TraceParent.start()
    child = started.child()
    for made in (started, child):
        assert parse_traceparent(str(made)) == made and str(made).startswith("00-")
    assert started.flags == "01"
    assert child.trace_id == started.trace_id and child.parent_id != started.parent_id
    assert TraceParent.start().trace_id != started.trace_id


def test_a_child_keeps_the_flags_it_was_given() -> None:
    assert TraceParent(TRACE_ID, SPAN_ID, "00").child().flags == "00"


@pytest.mark.parametrize(("given", "kept"), [
    ("req-1", "req-1"), (b"req-1", "req-1"), ("x" * 128, "x" * 128), ("x" * 129, None),
    ("has space", None), ("line\nbreak", None), ("café", None), ("", None), (None, None),
])
def test_a_request_id_is_kept_only_when_fit_for_a_log_line(given: Any, kept: str | None) -> None:
    assert reasonable_request_id(given) == kept


def test_an_event_of_a_request_carries_its_id_and_a_span_under_the_senders() -> None:
    sender = TraceParent(TRACE_ID, SPAN_ID)
    headers = dict(trace_headers("req-1", sender))
    sent = parse_traceparent(headers["traceparent"])
    assert headers["x-request-id"] == b"req-1"
    assert sent is not None and sent.trace_id == TRACE_ID and sent.parent_id != SPAN_ID
    assert trace_headers(None, None) == []
    assert [name for name, _ in trace_headers("req-1", None)] == ["x-request-id"]


def test_the_request_is_read_back_from_headers_of_any_shape() -> None:
    headers = [("event-type", b"StoryViewed"), ("x-request-id", b"req-1"),
               ("traceparent", GIVEN.encode())]
    assert traced(headers) == Traced("req-1", TRACE_ID)
    assert traced(dict(headers)) == Traced("req-1", TRACE_ID)
    assert traced(None) == Traced() and traced(()) == Traced()
    assert traced([("x-request-id", b"bad\nid"), ("traceparent", b"00-nope")]) == Traced()
    assert Traced("req-1", TRACE_ID).fields() == {"request_id": "req-1", "trace_id": TRACE_ID}
    assert Traced(None, TRACE_ID).fields() == {"trace_id": TRACE_ID}
    assert (str(Traced("req-1", TRACE_ID)), str(Traced("req-1"))) == (f" (trace {TRACE_ID})", "")


def test_stories_emit_sends_the_request_it_is_given_and_refuses_bad_ones() -> None:
    headers = dict(request_headers("ops-1", GIVEN))
    span = parse_traceparent(headers["traceparent"])
    assert headers["x-request-id"] == b"ops-1" and span is not None
    assert span.trace_id == TRACE_ID and span.parent_id != SPAN_ID
    assert request_headers(None, None) == []
    with pytest.raises(typer.BadParameter):
        request_headers("has space", None)
    with pytest.raises(typer.BadParameter):
        request_headers(None, f"00-{'0' * 32}-{SPAN_ID}-01")
