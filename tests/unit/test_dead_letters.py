"""Dead letters without a broker: headers, reason classes, time filters, redaction, details."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import schemas
from streams.dead_letters import (
    REDACTED,
    DeadLetter,
    Origin,
    details,
    inspect,
    matches_reason,
    parse_headers,
    parse_id,
    parse_since,
    reason_class,
    redact,
    select,
    summary,
)
from streams.producer import dead_letter_headers
from streams.topics import DEAD_LETTER_REDRIVEN, TOPICS

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _letter(value: bytes | None, reason: str = "x: y", offset: int = 7,
            when: datetime | None = NOW, key: bytes | None = b"k") -> DeadLetter:
    headers = tuple((name, value if isinstance(value, bytes) or value is None else value.encode())
                    for name, value in dead_letter_headers(reason, "p.engagement", 4, 99))
    return DeadLetter(partition=2, offset=offset, timestamp=when, key=key, value=value,
                      headers=headers)


def _post(**fields) -> dict:
    base = dict(actor_id="ada", story_id=str(uuid.uuid4()), kind="TEXT", text="my secret day",
                stickers=[{"sticker_id": "s1", "kind": "POLL", "prompt": "which one?",
                           "options": ["tea", "coffee"], "correct_option": None,
                           "emoji": None}])
    base.update(fields)
    return schemas.new_event("StoryPosted", **base)


def test_headers_written_by_the_worker_parse_back():
    origin = parse_headers(dead_letter_headers("text: too long", "p.story-lifecycle", 3, 1042))
    assert origin == Origin("text: too long", "p.story-lifecycle", 3, 1042)
    assert str(origin) == "p.story-lifecycle[3]@1042"


def test_missing_or_unreadable_headers_are_none_not_errors():
    assert parse_headers(None) == Origin("", None, None, None)
    origin = parse_headers([("dlq-reason", b"bad \xff"), ("dlq-source-partition", b"x"),
                            ("dlq-source-offset", None), ("other", b"1")])
    assert origin.reason == "bad \ufffd"
    assert origin.partition is None and origin.offset is None and origin.topic is None
    assert str(origin) == "?"


@pytest.mark.parametrize(("reason", "kind"), [
    ("bad magic 00 11: not an Avro single-object encoded event (expected c3 01)", "decode"),
    ("too short for an event: 3 bytes, the header alone is 10", "decode"),
    ("unknown schema fingerprint 0101010101010101: written with a schema", "decode"),
    ("truncated StoryPosted v1 body: the data ends early", "decode"),
    ("StoryPosted v1 body cannot be read with the latest schema (x)", "decode"),
    ("lifetime_seconds: must be positive", "invalid"),
    ("stickers[0].prompt: a poll needs a prompt", "invalid"),
    ("event: StoryViewed does not belong here", "invalid"),
    ("projection failed: RuntimeError('boom')", "projection"),
    ("something else", "other"),
])
def test_reasons_fall_into_classes(reason, kind):
    assert reason_class(reason) == kind


def test_reason_filter_takes_a_class_an_error_class_or_a_substring():
    reason = "lifetime_seconds: must be positive"
    assert matches_reason(reason, None) and matches_reason(reason, "")
    assert matches_reason(reason, "invalid")
    assert matches_reason(reason, "EventValidationError")
    assert matches_reason(reason, "LIFETIME")
    assert not matches_reason(reason, "decode")
    assert not matches_reason(reason, "DecodeError")
    assert matches_reason("bad magic 00 11", "DecodeError")


def test_since_reads_spans_back_from_now_and_iso_times():
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("30m", NOW) == NOW - timedelta(minutes=30)
    assert parse_since("90s", NOW) == NOW - timedelta(seconds=90)
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("1w", NOW) == NOW - timedelta(weeks=1)
    assert parse_since("1.5h", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("2026-11-20T10:00:00+02:00") == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert parse_since("2026-11-20T10:00:00Z") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert parse_since("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)  # no zone: UTC
    for bad in ("yesterday", "2x", "-2h", ""):
        with pytest.raises(ValueError, match="ISO-8601"):
            parse_since(bad, NOW)


def test_select_filters_by_reason_and_time():
    old = _letter(b"", "bad magic 00 00", offset=1, when=NOW - timedelta(hours=3))
    new = _letter(b"", "caption: too long", offset=2, when=NOW - timedelta(minutes=5))
    undated = _letter(b"", "caption: too long", offset=3, when=None)
    letters = [old, new, undated]
    assert select(letters) == letters
    assert select(letters, since=NOW - timedelta(hours=1)) == [new]
    assert select(letters, reason="decode") == [old]
    assert select(letters, reason="caption") == [new, undated]
    assert select(letters, reason="caption", since=NOW - timedelta(hours=4)) == [new]


def test_ids_are_partition_and_offset():
    assert _letter(b"").id == "2:7"
    assert parse_id(" 2:7 ") == (2, 7)
    for bad in ("2", "a:1", "1:-1", "1:2:3"):
        with pytest.raises(ValueError, match="partition"):
            parse_id(bad)


def test_redaction_hides_content_at_any_depth_and_keeps_identifiers():
    post = _post(caption=None)
    shown = redact(post)
    assert shown["text"] == REDACTED
    assert shown["caption"] is None  # nothing to hide
    assert shown["stickers"][0]["prompt"] == REDACTED
    assert shown["stickers"][0]["options"] == REDACTED
    assert shown["stickers"][0]["sticker_id"] == "s1"
    assert shown["story_id"] == post["story_id"] and shown["actor_id"] == "ada"
    assert post["text"] == "my secret day"  # the original is left alone
    answer = redact({"text": "my answer", "title": "trip", "option_index": 1})
    assert answer == {"text": REDACTED, "title": REDACTED, "option_index": 1}


def test_inspect_tells_valid_invalid_and_undecodable_apart():
    valid = inspect(schemas.encode("StoryPosted", _post()))
    assert valid.valid and valid.event_name == "StoryPosted"
    invalid_record = _post(lifetime_seconds=-5)
    invalid = inspect(schemas.CATALOGUE.encode_version("StoryPosted", 1, invalid_record))
    assert not invalid.valid and invalid.event_name == "StoryPosted"
    assert "lifetime_seconds" in (invalid.problem or "")
    noise = inspect(b"\x00" * 40)
    assert noise.event_name is None and noise.record is None and "magic" in (noise.problem or "")
    assert inspect(None).problem == "the message has no value"


def test_details_never_show_content():
    post = _post(caption=None)
    letter = _letter(schemas.encode("StoryPosted", post), "projection failed: boom")
    shown = details(letter, redriven=True)
    text = repr(shown)
    assert "my secret day" not in text and "which one?" not in text and "coffee" not in text
    assert shown["record"]["text"] == REDACTED
    assert shown["record"]["story_id"] == post["story_id"]
    assert shown["event"] == "StoryPosted" and shown["valid_now"] and shown["redriven"]
    assert shown["source"] == {"topic": "p.engagement", "partition": 4, "offset": 99}
    assert shown["headers"]["dlq-reason"] == "projection failed: boom"
    assert shown["key"] == "k" and shown["class"] == "projection"
    assert "hex_prefix" not in shown


def test_details_of_bytes_that_are_no_event_show_size_and_a_short_hex_prefix():
    noise = os.urandom(200)
    shown = details(_letter(noise, "bad magic"))
    assert shown["size"] == 200 and shown["event"] is None and "record" not in shown
    assert shown["hex_prefix"] == noise[:16].hex(" ")
    assert not shown["valid_now"]


def test_summary_is_one_line_of_fields_without_content():
    letter = _letter(schemas.encode("StoryPosted", _post()), "text: x", when=NOW)
    entry = summary(letter)
    assert entry == {
        "id": "2:7", "time": NOW.isoformat(),
        "source": {"topic": "p.engagement", "partition": 4, "offset": 99},
        "event": "StoryPosted", "reason": "text: x", "class": "invalid", "redriven": False,
        "request_id": None, "trace_id": None,
    }


def test_the_redriven_marks_topic_is_compacted_and_kept():
    config = DEAD_LETTER_REDRIVEN.config()
    assert config["cleanup.policy"] == "compact"
    assert DEAD_LETTER_REDRIVEN.retention_ms == -1
    assert all(t.config()["cleanup.policy"] == "delete" for t in TOPICS)
