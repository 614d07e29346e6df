"""The media worker in a real `stories worker`: uploads in S3 become encrypted renditions,
refusals, or nothing at all once the story is gone."""

from __future__ import annotations

import io
import time
import uuid

import pytest
from PIL import ExifTags, Image

import schemas
from media.crypto import MediaDecryptError, decrypt_blob, new_media_key, object_key_aad
from media.keys import MediaKeyUnavailableError, open_story_object, story_media_key
from media.layout import upload_key
from tests.integration.media_helpers import MediaDeployment, media_post
from tests.integration.worker_helpers import wait_until
from tests.unit.media_samples import (
    BLUE,
    CAMERA_MAKE,
    CAMERA_MODEL,
    RED,
    SECRET_COMMENT,
    VideoSpec,
    camera_jpeg,
    make_video,
    png_bomb,
    split_picture,
)

UPLOAD_DEADLINE = 4.0


@pytest.fixture(scope="module")
def world(local_stack, tmp_path_factory):
    """One worker for the whole module, already consuming when the first test runs."""
    d = MediaDeployment(local_stack, tmp_path_factory.mktemp("media"),
                        media_upload_deadline=UPLOAD_DEADLINE, media_reconcile_interval=0)
    d.start_worker()
    warm_up = schemas.new_event("StoryPosted", actor_id="warm-up", story_id=str(uuid.uuid4()),
                                kind="TEXT", text="hello")
    d.emit(("StoryPosted", warm_up))
    models = d.runtime.redis_models()
    wait_until(lambda: models.story(warm_up["story_id"]) is not None, "the worker to start", 90)
    yield d
    d.close()


def post(world: MediaDeployment, author: str, data: bytes, kind: str = "IMAGE",
         seconds_left: float | None = None) -> dict:
    media_id = world.upload(author, data)
    name, record = media_post(author, media_id, kind, seconds_left)
    world.emit((name, record))
    return record


def the_outcome(world: MediaDeployment, story_id: str) -> tuple[str, dict]:
    world.wait_settled(story_id)
    outcomes = world.outcomes(story_id)
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def gps_of(jpeg: bytes) -> dict:
    """The GPS position a JPEG's EXIF carries (empty when none)."""
    return dict(Image.open(io.BytesIO(jpeg)).getexif().get_ifd(ExifTags.IFD.GPSInfo))


def decrypted(world: MediaDeployment, story_id: str, rendition: dict) -> bytes:
    blob = world.media.objects.get(rendition["key"])
    assert blob is not None and len(blob) == rendition["size_bytes"]
    return open_story_object(world.runtime, story_id, rendition["key"], blob)


def test_a_camera_photo_becomes_encrypted_renditions_without_metadata(world):
    photo = camera_jpeg(split_picture((1600, 1200), RED, BLUE))
    assert gps_of(photo) and CAMERA_MAKE.encode() in photo
    record = post(world, "ana", photo)
    story_id = record["story_id"]
    name, outcome = the_outcome(world, story_id)

    assert name == "MediaProcessed" and outcome["actor_id"] == "ana"
    assert outcome["media_kind"] == "IMAGE" and outcome["media_id"] == record["media_id"]
    assert [r["name"] for r in outcome["renditions"]] == ["full", "thumbnail"]
    assert world.objects_of(story_id) == sorted(r["key"] for r in outcome["renditions"])
    for rendition in outcome["renditions"]:
        blob = world.media.objects.get(rendition["key"])
        assert blob[:2] != b"\xff\xd8" and CAMERA_MAKE.encode() not in blob  # ciphertext only
        jpeg = decrypted(world, story_id, rendition)
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG" and image.size == (rendition["width"], rendition["height"])
        assert len(image.getexif()) == 0 and "exif" not in image.info and not gps_of(jpeg)
        for secret in (b"Exif\x00", CAMERA_MAKE.encode(), CAMERA_MODEL.encode(), SECRET_COMMENT):
            assert secret not in jpeg
    assert not world.exists(upload_key("ana", record["media_id"]))  # the plaintext is gone

    models = world.runtime.redis_models()
    wait_until(lambda: models.story(story_id).status == "ready", "the story to be ready")
    assert list(models.story(story_id).renditions) == outcome["renditions"]


def test_a_video_becomes_mp4_renditions_with_a_thumbnail(world):
    clip = make_video(VideoSpec(size=(320, 240), seconds=1.5))
    record = post(world, "bo", clip, kind="VIDEO")
    name, outcome = the_outcome(world, record["story_id"])

    assert name == "MediaProcessed" and outcome["media_kind"] == "VIDEO"
    by_name = {r["name"]: r for r in outcome["renditions"]}
    assert list(by_name) == ["full", "low", "thumbnail"]
    for video in (by_name["full"], by_name["low"]):
        assert video["content_type"] == "video/mp4" and 1000 <= video["duration_ms"] <= 2000
        assert decrypted(world, record["story_id"], video)[4:8] == b"ftyp"
    thumbnail = by_name["thumbnail"]
    assert thumbnail["content_type"] == "image/jpeg" and thumbnail["duration_ms"] is None
    assert decrypted(world, record["story_id"], thumbnail)[:2] == b"\xff\xd8"


def test_a_hostile_file_is_rejected_with_a_reason_the_author_can_read(world):
    record = post(world, "cy", png_bomb())
    story_id = record["story_id"]
    name, outcome = the_outcome(world, story_id)

    assert name == "MediaRejected" and outcome["code"] == "too_many_pixels"
    assert "pixels" in outcome["reason"]
    assert world.objects_of(story_id) == []
    assert not world.exists(upload_key("cy", record["media_id"]))
    models = world.runtime.redis_models()
    wait_until(lambda: models.story(story_id).status == "rejected", "the story to be rejected")
    assert models.story(story_id).rejection == outcome["reason"]


def test_a_video_posted_as_a_photo_is_rejected(world):
    record = post(world, "cy", make_video(VideoSpec(seconds=0.5)), kind="IMAGE")
    name, outcome = the_outcome(world, record["story_id"])
    assert (name, outcome["code"]) == ("MediaRejected", "wrong_kind")


def test_an_upload_that_never_arrives_is_rejected_after_the_deadline(world):
    alices = world.upload("alice", camera_jpeg(split_picture((64, 48), RED, BLUE)))
    posted = time.time()
    missing = media_post("dan", str(uuid.uuid4()))
    borrowed = media_post("mallory", alices)  # someone else's upload: looked for as mallory's
    world.emit(missing, borrowed)

    for _, record in (missing, borrowed):
        name, outcome = the_outcome(world, record["story_id"])
        assert (name, outcome["code"]) == ("MediaRejected", "upload_missing")
        assert "never arrived" in outcome["reason"]
    assert time.time() - posted >= UPLOAD_DEADLINE
    assert world.exists(upload_key("alice", alices))  # alice's upload was never touched


def test_a_redelivered_post_is_processed_once(world):
    media_id = world.upload("eve", camera_jpeg(split_picture((320, 240), RED, BLUE)))
    story = media_post("eve", media_id)
    world.emit(story, story)
    name, outcome = the_outcome(world, story[1]["story_id"])
    world.emit(story)  # and once more after the outcome
    world.wait_idle()
    time.sleep(2)

    assert [n for n, _ in world.lifecycle_events(story[1]["story_id"])] == [
        "StoryPosted", "StoryPosted", "MediaProcessed", "StoryPosted"]
    assert world.objects_of(story[1]["story_id"]) == sorted(
        r["key"] for r in outcome["renditions"])


def test_expiry_destroys_the_key_and_the_objects(world):
    record = post(world, "fay", camera_jpeg(split_picture((320, 240), RED, BLUE)),
                  seconds_left=12)
    story_id = record["story_id"]
    _, outcome = the_outcome(world, story_id)
    full = outcome["renditions"][0]
    kept_blob = world.media.objects.get(full["key"])
    old_key = story_media_key(world.runtime, story_id)
    assert decrypt_blob(old_key, kept_blob, object_key_aad(full["key"]))

    models = world.runtime.redis_models()
    wait_until(lambda: models.story(story_id) is None, "the expiry timer", 30)
    wait_until(lambda: story_media_key(world.runtime, story_id) is None, "the key destroyed")
    wait_until(lambda: world.objects_of(story_id) == [], "the objects deleted")

    with pytest.raises(MediaKeyUnavailableError):
        open_story_object(world.runtime, story_id, full["key"], kept_blob)
    with pytest.raises(MediaDecryptError):
        decrypt_blob(new_media_key(), kept_blob, object_key_aad(full["key"]))


def test_a_highlight_keeps_the_media_past_expiry_until_it_lets_go(world):
    record = post(world, "gus", camera_jpeg(split_picture((320, 240), RED, BLUE)),
                  seconds_left=12)
    story_id, highlight_id = record["story_id"], str(uuid.uuid4())
    _, outcome = the_outcome(world, story_id)
    world.emit(("HighlightCreated", schemas.new_event(
        "HighlightCreated", actor_id="gus", highlight_id=highlight_id, title="Summer",
        story_ids=[story_id])))
    cql = world.runtime.cql_models()
    wait_until(lambda: cql.highlight_ids_holding(story_id) == {highlight_id}, "the highlight")

    models = world.runtime.redis_models()
    wait_until(lambda: models.story(story_id) is None, "the expiry timer", 30)
    wait_until(lambda: story_id in world.media.schedule.kept("gus"), "the expiry seen as kept")
    assert story_media_key(world.runtime, story_id) is not None
    assert world.objects_of(story_id) == sorted(r["key"] for r in outcome["renditions"])

    world.emit(("HighlightStoryRemoved", schemas.new_event(
        "HighlightStoryRemoved", actor_id="gus", highlight_id=highlight_id, story_id=story_id)))
    wait_until(lambda: story_media_key(world.runtime, story_id) is None, "the key destroyed")
    wait_until(lambda: world.objects_of(story_id) == [], "the objects deleted")


def test_a_deleted_story_loses_its_media_even_in_a_highlight(world):
    record = post(world, "hal", camera_jpeg(split_picture((320, 240), RED, BLUE)))
    story_id = record["story_id"]
    the_outcome(world, story_id)
    world.emit(("HighlightCreated", schemas.new_event(
        "HighlightCreated", actor_id="hal", highlight_id=str(uuid.uuid4()), title="Best",
        story_ids=[story_id])))
    cql = world.runtime.cql_models()
    wait_until(lambda: cql.highlight_ids_holding(story_id), "the highlight")

    world.emit(("StoryDeleted", schemas.new_event("StoryDeleted", actor_id="mallory",
                                                  story_id=story_id)))
    world.wait_idle()
    assert story_media_key(world.runtime, story_id) is not None  # only the author deletes
    world.emit(("StoryDeleted", schemas.new_event("StoryDeleted", actor_id="hal",
                                                  story_id=story_id)))
    wait_until(lambda: story_media_key(world.runtime, story_id) is None, "the key destroyed")
    wait_until(lambda: world.objects_of(story_id) == [], "the objects deleted")
