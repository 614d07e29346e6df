"""Media keys are fetched once a minute per story, absent ones again after a moment."""

from __future__ import annotations

from gateway.keycache import ABSENT_SECONDS, KEY_SECONDS, MediaKeyCache


class Source:
    def __init__(self, keys: dict[str, bytes]):
        self.keys = keys
        self.asked: list[list[str]] = []

    def __call__(self, story_ids: list[str]) -> dict[str, bytes]:
        self.asked.append(story_ids)
        return {s: self.keys[s] for s in story_ids if s in self.keys}


def test_known_keys_are_served_from_memory_until_they_age():
    now = [0.0]
    source = Source({"a": b"k" * 32})
    cache = MediaKeyCache(source, clock=lambda: now[0])
    assert cache.of(["a", "a"]) == {"a": b"k" * 32}
    assert cache.of(["a"]) == {"a": b"k" * 32}
    assert source.asked == [["a"]]
    now[0] = KEY_SECONDS + 1
    cache.of(["a"])
    assert source.asked == [["a"], ["a"]]


def test_absent_keys_are_asked_for_again_soon():
    now = [0.0]
    source = Source({})
    cache = MediaKeyCache(source, clock=lambda: now[0])
    assert cache.of(["b"]) == {}
    assert cache.of(["b"]) == {}
    now[0] = ABSENT_SECONDS + 0.1
    source.keys["b"] = b"n" * 32
    assert cache.of(["b", "c"]) == {"b": b"n" * 32}
    assert source.asked == [["b"], ["b", "c"]]


def test_nothing_to_ask_asks_nothing():
    source = Source({})
    assert MediaKeyCache(source).of([]) == {}
    assert source.asked == []
