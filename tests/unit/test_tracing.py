"""The request an event was sent for: W3C traceparents read and made, the headers events carry,
what the worker and the dead letters read back of them."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
import typer

from core.logs import TEXT_FORMAT
from core.tracing import TraceParent, parse_traceparent, reasonable_request_id
from stories import worker
from stories.commands.emit import request_headers
from streams.dead_letters import DeadLetter, parse_headers, summary
from streams.dead_letters.redrive import _Resend, _resent_headers
from streams.producer import CONTENT_TYPE, dead_letter_headers
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


def _message(offset: int, headers: Any = None) -> Any:
    return SimpleNamespace(topic="unit.engagement", partition=2, offset=offset, headers=headers,
                           value=b"v", key=b"k")


TRACED = (("event-type", b"StoryViewed"), ("x-request-id", b"req-1"),
          ("traceparent", GIVEN.encode()))


def test_a_batch_of_one_names_its_request_and_a_larger_batch_does_not() -> None:
    alone = worker.BatchPlace.of([_message(5, TRACED)])
    assert alone.fields() == {"topic": "unit.engagement", "offsets": {2: [5, 5]},
                              "request_id": "req-1", "trace_id": TRACE_ID}
    assert str(alone.request) == f" (trace {TRACE_ID})"
    several = worker.BatchPlace.of([_message(5, TRACED), _message(6, TRACED)])
    assert "request_id" not in several.fields() and str(several.request) == ""
    assert worker.BatchPlace.of([SimpleNamespace(topic="t", partition=0, offset=1)]).fields() \
        == {"topic": "t", "offsets": {0: [1, 1]}}


class _Producer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(self, topic: str, **message: Any) -> None:
        self.sent.append({"topic": topic, **message})


def test_a_dead_letter_keeps_the_headers_it_came_with_and_its_line_names_the_request(
        caplog: pytest.LogCaptureFixture) -> None:
    producer = _Producer()
    dead = worker.DeadLetters(producer, "unit.dead-letter")  # type: ignore[arg-type]
    came_with = (*TRACED, ("dlq-reason", b"an older reason"))
    dead.send(b"v", b"k", "emoji: not one", _message(9, came_with), "validation")

    [letter] = producer.sent
    headers = dict(letter["headers"])
    assert headers["x-request-id"] == b"req-1" and headers["traceparent"] == GIVEN.encode()
    assert headers["event-type"] == b"StoryViewed"
    assert [name for name, _ in letter["headers"]].count("dlq-reason") == 1
    assert parse_headers(letter["headers"]).reason == "emoji: not one"
    [line] = [r for r in caplog.records if r.getMessage().startswith("dead-lettered")]
    assert line.getMessage() == (f"dead-lettered unit.engagement[2]@9: emoji: not one "
                                 f"(trace {TRACE_ID})")
    assert (line.request_id, line.trace_id) == ("req-1", TRACE_ID)  # type: ignore[attr-defined]


def test_a_message_without_headers_is_dead_lettered_with_only_the_reason() -> None:
    producer = _Producer()
    worker.DeadLetters(producer, "d").send(  # type: ignore[arg-type]
        b"v", None, "bad magic", _message(1), "decode")
    assert [name for name, _ in producer.sent[0]["headers"]] == [
        "dlq-reason", "dlq-source-topic", "dlq-source-partition", "dlq-source-offset"]


def _letter(headers: Any) -> DeadLetter:
    return DeadLetter(partition=0, offset=3, timestamp=None, key=b"k", value=b"v",
                      headers=tuple(headers))


def test_dlq_summaries_name_the_request_and_a_redrive_sends_it_on() -> None:
    letter = _letter(dead_letter_headers("x: y", "p.engagement", 1, 2, TRACED))
    entry = summary(letter)
    assert (entry["request_id"], entry["trace_id"]) == ("req-1", TRACE_ID)
    assert (summary(_letter(dead_letter_headers("x: y", "p.engagement", 1, 2)))["trace_id"]
            is None)

    resent = _resent_headers(_Resend(letter, "StoryReacted", {}, "p.engagement", b"k"))
    assert resent == [("event-type", b"StoryReacted"), ("content-type", CONTENT_TYPE),
                      ("dlq-redriven-from", b"0:3"), ("x-request-id", b"req-1"),
                      ("traceparent", GIVEN.encode())]


def test_a_line_about_one_event_puts_its_request_id_where_the_text_format_has_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"}))
    log = logging.getLogger("unit.tracing")
    log.addHandler(handler)
    log.propagate = False  # only this handler's lines, whatever an earlier test configured
    try:
        request = Traced("req-1", TRACE_ID)
        log.warning("about one%s", request, extra=request.fields())
        log.warning("about none%s", Traced(), extra=Traced().fields())
    finally:
        log.removeHandler(handler)
        log.propagate = True
    one, none = capsys.readouterr().err.splitlines()
    assert one.endswith(f" WARNING [req-1] unit.tracing: about one (trace {TRACE_ID})")
    assert none.endswith(" WARNING [-] unit.tracing: about none")
