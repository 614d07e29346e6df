"""Object keys of uploads and renditions, and the presigned URL helpers."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core.clients import s3_client
from core.settings import Settings
from media.layout import rendition_key, story_of_object, story_prefix, upload_key
from media.urls import MAX_TTL_SECONDS, presigned_get, presigned_put

STORY = "3f1c2b9e-7d1a-4c55-9a0e-2f6b8d4e1a77"


def test_keys_follow_the_documented_layout():
    assert upload_key("user-1", "m-1") == "uploads/user-1/m-1"
    assert story_prefix(STORY) == f"media/{STORY}/"
    assert rendition_key(STORY, "full", "video/mp4") == f"media/{STORY}/full.mp4"
    assert rendition_key(STORY, "thumbnail", "image/jpeg") == f"media/{STORY}/thumbnail.jpg"


@pytest.mark.parametrize("user_id, media_id", [
    ("user-1", "../../media/x"), ("user-1", ".."), ("a/b", "m"), ("user-1", ""), ("u", "m id"),
])
def test_ids_that_could_escape_their_folder_are_refused(user_id: str, media_id: str):
    with pytest.raises(ValueError):
        upload_key(user_id, media_id)


def test_objects_are_traced_back_to_their_story():
    assert story_of_object(f"media/{STORY}/full.jpg") == STORY
    assert story_of_object("media/loose-file") is None
    assert story_of_object(f"uploads/u/{STORY}") is None


@pytest.fixture
def s3():
    return s3_client(Settings(environment="test"))


def test_presigned_urls_carry_their_lifetime(s3):
    get = urlsplit(presigned_get(s3, "bucket", f"media/{STORY}/full.jpg", 300))
    put = urlsplit(presigned_put(s3, "bucket", "uploads/u/m", 600, content_type="image/jpeg"))
    assert get.path.endswith(f"/bucket/media/{STORY}/full.jpg")
    assert parse_qs(get.query)["X-Amz-Expires"] == ["300"]
    assert parse_qs(put.query)["X-Amz-Expires"] == ["600"]
    assert "content-type" in parse_qs(put.query)["X-Amz-SignedHeaders"][0]


@pytest.mark.parametrize("ttl", [0, -5, MAX_TTL_SECONDS + 1])
def test_lifetimes_outside_what_s3_accepts_are_refused(s3, ttl: int):
    with pytest.raises(ValueError):
        presigned_get(s3, "bucket", "media/x/full.jpg", ttl)
