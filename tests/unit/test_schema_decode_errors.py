"""Bad bytes never crash a consumer: they raise DecodeError with a reason fit for a dead letter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import CATALOGUE, EVENT_NAMES, DecodeError, EventError, decode
from schemas.golden import GoldenFile, load_golden_bytes

VIEWED = load_golden_bytes(GoldenFile("StoryViewed", 1))
POSTED = load_golden_bytes(GoldenFile("StoryPosted", 1))


def reason(data: object) -> str:
    with pytest.raises(DecodeError) as caught:
        decode(data)  # type: ignore[arg-type]
    return str(caught.value)


def test_bytes_without_the_magic_are_refused():
    assert reason(b"\x00\x01" + VIEWED[2:]) == (
        "bad magic 00 01: not an Avro single-object encoded event (expected c3 01)"
    )


def test_json_by_mistake_is_refused_as_bad_magic():
    assert reason(b'{"event": "StoryViewed", "data": {}}').startswith("bad magic 7b 22")


@pytest.mark.parametrize("size", [0, 1, 2, 9])
def test_data_shorter_than_the_header_is_refused(size):
    assert reason(VIEWED[:size]) == f"too short for an event: {size} bytes, the header alone is 10"


def test_an_unknown_fingerprint_is_named():
    data = VIEWED[:2] + bytes(range(8)) + VIEWED[10:]
    assert reason(data) == (
        "unknown schema fingerprint 0001020304050607: written with a schema this build "
        "does not know (deploy readers before writers)"
    )


@pytest.mark.parametrize("cut", range(10, len(POSTED)))
def test_a_truncated_body_is_refused_at_every_length(cut):
    text = reason(POSTED[:cut])
    assert text.startswith(("truncated StoryPosted v1 body", "corrupt StoryPosted v1 body"))


def test_a_truncated_body_says_so():
    assert reason(VIEWED[:-3]) == "truncated StoryViewed v1 body: the data ends early"


def test_trailing_bytes_are_refused():
    expected = "corrupt StoryViewed v1 body: 2 unexpected bytes after it"
    assert reason(VIEWED + b"\x00\x00") == expected


def test_an_enum_index_out_of_range_is_corrupt():
    header = CATALOGUE.version_of("MediaProcessed").header
    body = load_golden_bytes(GoldenFile("MediaProcessed", 1))[10:]
    # media_kind VIDEO is symbol 1 (zig-zag 0x02), followed by the count of 3 renditions (0x06).
    index = body.index(b"\x02\x06")
    corrupt = header + body[:index] + b"\x7e" + body[index + 1 :]
    assert reason(corrupt).startswith("corrupt MediaProcessed v1 body (")


@pytest.mark.parametrize("value", [None, "c3 01", 42, [0xC3, 0x01]])
def test_non_bytes_are_refused(value):
    assert reason(value).startswith("expected bytes, got ")


def test_bytearray_and_memoryview_decode_like_bytes():
    assert decode(bytearray(VIEWED)) == decode(VIEWED) == decode(memoryview(VIEWED))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_event_errors(data):
    with pytest.raises(EventError):
        decode(data)


@settings(max_examples=300, deadline=None)
@given(
    event_name=st.sampled_from(EVENT_NAMES),
    body=st.binary(max_size=300),
)
def test_random_bodies_behind_a_valid_header_raise_only_event_errors(event_name, body):
    data = CATALOGUE.version_of(event_name).header + body
    try:
        name, _ = decode(data)
    except EventError:
        return
    assert name == event_name  # random bytes that happen to be a valid event are fine
