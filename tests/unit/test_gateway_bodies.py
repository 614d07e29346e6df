"""Tray and story bodies are built as plain dicts for speed: they must stay exactly what the
OpenAPI models (`gateway.models`) document, and presigned URLs are reused within a minute."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from core.settings import Settings
from gateway.models import StoryOut, TrayItemOut, TrayPage
from gateway.present import JsonBody, MinuteUrls, Presenter
from gateway.presign import Presigner
from projections.model import Story
from projections.queries import TrayItem

SETTINGS = Settings(environment="test", s3_endpoint="http://127.0.0.1:9000")
NOW = int(time.time() * 1000)


def _presigner() -> Presigner:
    s = SETTINGS
    return Presigner(s.s3_endpoint, s.s3_region, s.s3_bucket, s.s3_access_key,
                     s.s3_secret_key.get_secret_value())


def _story(**overrides) -> Story:
    fields = dict(
        story_id="3f1c0000-0000-4000-8000-000000000001", author_id="ann", posted_at=NOW - 1_234,
        expires_at=NOW + 86_400_000, kind="IMAGE", caption="look", media_id="m1",
        audience_mode="CLOSE_FRIENDS", audience_ids=frozenset({"cy", "bo"}),
        stickers=({"sticker_id": "q", "kind": "QUIZ", "prompt": "which?", "options": ["a", "b"],
                   "correct_option": 1},),
        renditions=({"name": "full", "key": "media/s/full.jpg", "content_type": "image/jpeg",
                     "width": 1080, "height": 1920},
                    {"name": "thumbnail", "key": "media/s/thumb.jpg", "content_type": "image/jpeg",
                     "width": 180, "height": 320, "duration_ms": None}),
    )
    return Story(**{**fields, **overrides})


def _as_served(body: dict) -> dict:
    return orjson.loads(JsonBody(body).body)


@pytest.mark.parametrize("viewer", ["ann", "bo"], ids=["author", "viewer"])
def test_a_story_body_is_what_its_model_documents(viewer):
    body = Presenter(_presigner(), 300).story(_story(), viewer, media_key=b"k" * 32)
    served = _as_served(body)
    assert served == StoryOut.model_validate(body).model_dump(mode="json")
    assert list(served) == list(StoryOut.model_fields)
    assert (served["audience"] is None) == (viewer != "ann")
    assert served["stickers"][0]["correct_option"] == (1 if viewer == "ann" else None)


@pytest.mark.parametrize("thumbnail", ["media/s/thumb.jpg", None], ids=["image", "text"])
def test_a_tray_page_body_is_what_its_model_documents(thumbnail):
    item = TrayItem("ann", "s1", NOW - 999, True, thumbnail, muted=False)
    keys = {"s1": b"k" * 32} if thumbnail else {}
    page = Presenter(_presigner(), 300).tray_page([item], keys, "next", truncated=True)
    served = _as_served(page)
    assert served == TrayPage.model_validate(page).model_dump(mode="json")
    assert list(served) == list(TrayPage.model_fields)
    opened = base64.urlsafe_b64encode(b"k" * 32).decode() if thumbnail else None
    assert served["truncated"] is True and served["items"][0]["media_key"] == opened
    assert list(served["items"][0]) == list(TrayItemOut.model_fields)
    assert served["items"][0]["latest_at"].endswith("Z")  # as pydantic writes UTC


def test_one_url_per_object_and_minute_signed_at_the_minute():
    now = [120.0 * 60 + 17]
    urls = MinuteUrls(_presigner(), clock=lambda: now[0])
    first = urls.url("media/s/thumb.jpg", 300)
    assert urls.url("media/s/thumb.jpg", 300) is first
    assert urls.url("media/s/full.jpg", 300) != first
    assert parse_qs(urlsplit(first).query)["X-Amz-Date"] == ["19700101T020000Z"]
    now[0] += 60
    later = urls.url("media/s/thumb.jpg", 300)
    assert later != first and parse_qs(urlsplit(later).query)["X-Amz-Date"] == ["19700101T020100Z"]
