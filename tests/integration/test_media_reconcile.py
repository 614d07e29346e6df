"""Reconciliation against the real bucket and keyspace: orphans go, what is in use stays."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import orjson
import pytest

from media.crypto import encrypt_blob, new_media_key, object_key_aad
from media.layout import rendition_key, upload_key
from media.state import PROCESSED, MediaJob
from tests.integration.media_helpers import MediaDeployment
from tests.integration.worker_helpers import wait_until

HOUR_MS = 3_600_000


@pytest.fixture
def deployment(local_stack, tmp_path):
    d = MediaDeployment(local_stack, tmp_path, media_upload_deadline=1,
                        media_reconcile_grace=0, media_reconcile_interval=0)
    yield d
    d.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def processed_story(d: MediaDeployment, expires_in_ms: int) -> tuple[str, list[str]]:
    """A story whose renditions were stored and announced; returns its id and object keys."""
    job = MediaJob(str(uuid.uuid4()), "ivy", str(uuid.uuid4()), "IMAGE",
                   now_ms() + expires_in_ms - 24 * HOUR_MS, now_ms() + expires_in_ms)
    store = d.media.store
    store.register(job, now_ms())
    key = store.begin(job.story_id, new_media_key())
    keys = [rendition_key(job.story_id, name, "image/jpeg") for name in ("full", "thumbnail")]
    for object_key in keys:
        d.media.objects.put_blob(object_key, encrypt_blob(key, b"jpeg", object_key_aad(object_key)))
    store.finish(job.story_id, [{"name": "full", "key": keys[0]}])
    store.mark_announced(store.load(job.story_id), now_ms())
    return job.story_id, keys


def waiting_job(d: MediaDeployment) -> tuple[str, str]:
    """A posted story whose upload is there but not processed yet (no worker running)."""
    job = MediaJob(str(uuid.uuid4()), "ivy", str(uuid.uuid4()), "IMAGE", now_ms(),
                   now_ms() + HOUR_MS)
    d.media.store.register(job, now_ms())
    d.upload(job.author_id, b"\xff\xd8 not processed yet", media_id=job.media_id)
    return job.story_id, upload_key(job.author_id, job.media_id)


def reconcile(d: MediaDeployment, *options: str) -> dict:
    """`stories reconcile-media` as an operator runs it; its JSON report."""
    done = subprocess.run([sys.executable, "-m", "stories.cli", "reconcile-media", *options],
                          env=d.env(), capture_output=True, timeout=120, check=True)
    return orjson.loads(done.stdout.splitlines()[-1])


def test_reconciliation_removes_orphans_and_reports_them(deployment):
    d = deployment
    live_story, live_objects = processed_story(d, HOUR_MS)
    kept_story, kept_objects = processed_story(d, -2 * HOUR_MS)
    held = d.runtime.cql_models().batch()
    held.add_member(kept_story, str(uuid.uuid4()), now_ms())
    held.flush()
    stale_story, stale_objects = processed_story(d, -2 * HOUR_MS)
    waiting_story, waiting_upload = waiting_job(d)
    loose_object = f"media/{uuid.uuid4()}/full.jpg"
    d.media.objects.put_blob(loose_object, b"ciphertext of a story nobody knows")
    ghost_upload = upload_key("ghost", d.upload("ghost", b"posted never"))
    time.sleep(1.5)  # older than the upload deadline (1 s here)

    planned = reconcile(d, "--dry-run")
    assert planned["dry_run"] is True
    assert planned["keys_destroyed"] == [stale_story]
    assert sorted(planned["media_objects"]) == sorted([loose_object, *stale_objects])
    assert planned["uploads"] == [ghost_upload]
    assert planned["jobs_resumed"] == [waiting_story]
    assert d.exists(loose_object) and d.exists(ghost_upload)
    assert d.media.store.key_of(stale_story) is not None

    report = reconcile(d)
    assert {k: v for k, v in report.items() if k != "dry_run"} == {
        k: v for k, v in planned.items() if k != "dry_run"}
    for gone in (loose_object, ghost_upload, *stale_objects):
        assert not d.exists(gone)
    assert d.media.store.key_of(stale_story) is None
    for kept in (*live_objects, *kept_objects, waiting_upload):
        assert d.exists(kept)
    for story_id in (live_story, kept_story):
        assert d.media.store.load(story_id).state == PROCESSED
    assert d.media.schedule.scheduled(waiting_story)
    assert reconcile(d)["media_objects"] == []


def test_the_worker_reconciles_on_its_timer(deployment):
    d = deployment
    live_story, live_objects = processed_story(d, HOUR_MS)
    loose_object = f"media/{uuid.uuid4()}/thumbnail.jpg"
    d.media.objects.put_blob(loose_object, b"left behind by a crashed worker")
    d.overrides["media_reconcile_interval"] = 1
    d.start_worker()
    wait_until(lambda: not d.exists(loose_object), "the worker's reconciliation", 60)
    assert all(d.exists(key) for key in live_objects)
    assert d.media.store.key_of(live_story) is not None
