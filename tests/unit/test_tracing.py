"""W3C traceparents read and made, and request ids fit for a log line."""

from __future__ import annotations

from typing import Any

import pytest

from core.tracing import TraceParent, parse_traceparent, reasonable_request_id

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
