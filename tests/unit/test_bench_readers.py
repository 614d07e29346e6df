"""The gateway section's readers: trays with image stories and text-only trays told apart by what
the first page shows (no services: the tray reads are stubbed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench import gateway_load
from bench.bare_app import TRAY_LIMIT
from bench.gateway_load import readers
from projections.queries import TrayItem


def item(author: str, thumbnail: str | None = None) -> TrayItem:
    return TrayItem(author, f"story-of-{author}", 1, True, thumbnail)


TRAYS = {
    "empty": [],
    "texts": [item("a"), item("b")],
    "photo": [item("c"), item("d", "thumb/d.jpg")],
    "photo-past-the-page": [item(f"t{n}") for n in range(TRAY_LIMIT)] + [item("z", "thumb/z.jpg")],
    "more-texts": [item("e")],
}


@pytest.fixture
def deployment(monkeypatch):
    monkeypatch.setattr(gateway_load, "read_tray", lambda models, viewer, now: TRAYS[viewer])
    return SimpleNamespace(runtime=SimpleNamespace(redis_models=lambda: None))


def test_a_thumbnail_on_the_first_page_makes_a_tray_with_images(deployment):
    found = readers(deployment, list(TRAYS), 10)
    assert found.images == [("photo", "c")]
    assert found.text == [("texts", "a"), ("photo-past-the-page", "t0"), ("more-texts", "e")]
    assert found.listed == [("texts", "a"), ("photo", "c"), ("photo-past-the-page", "t0"),
                            ("more-texts", "e")]
    assert found.entries == {"images": 2.0, "text": (2 + TRAY_LIMIT + 1) / 3}


def test_each_kind_stops_at_the_readers_wanted(deployment):
    found = readers(deployment, list(TRAYS), 1)
    assert (found.images, found.text, found.listed) == ([("photo", "c")], [("texts", "a")],
                                                        [("texts", "a")])


def test_a_kind_no_tray_has_gets_no_run(deployment):
    found = readers(deployment, ["texts", "more-texts"], 10)
    assert found.runs()["tray"] == [] and "images" not in found.entries
    assert [len(pairs) for pairs in found.runs().values()] == [0, 2, 2]
