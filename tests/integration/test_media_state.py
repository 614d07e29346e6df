"""The media keyspace's compare-and-set transitions, on the real CQL server."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest

from core.clients import cql_session
from media.crypto import new_media_key
from media.state import (
    DESTROYED,
    PENDING,
    PROCESSED,
    REJECTED,
    MediaJob,
    MediaStateStore,
    ensure_media_schema,
)


@pytest.fixture(scope="module")
def store(local_stack):
    settings = local_stack.model_copy(update={"cql_keyspace": f"t{uuid.uuid4().hex[:12]}"})
    session = cql_session(settings)
    keyspace = ensure_media_schema(session, settings)
    yield MediaStateStore(session, keyspace)
    session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
    session.cluster.shutdown()


def now_ms() -> int:
    return int(time.time() * 1000)


def a_job(lifetime_ms: int = 3_600_000) -> MediaJob:
    return MediaJob(str(uuid.uuid4()), "author-1", str(uuid.uuid4()), "IMAGE", now_ms(),
                    now_ms() + lifetime_ms)


def test_a_story_is_registered_once(store: MediaStateStore):
    job = a_job()
    assert store.register(job, now_ms()) is True
    assert store.register(job, now_ms()) is False
    record = store.load(job.story_id)
    assert record is not None and record.state == PENDING
    assert record.job == replace(job, seen_at=record.job.seen_at)
    assert record.job.seen_at >= job.posted_at  # the upload deadline counts from here


def test_every_attempt_encrypts_with_the_first_stored_key(store: MediaStateStore):
    job = a_job()
    store.register(job, now_ms())
    first, second = new_media_key(), new_media_key()
    assert store.begin(job.story_id, first) == first
    assert store.begin(job.story_id, second) == first
    assert store.key_of(job.story_id) is None  # not servable before it is processed
    assert store.finish(job.story_id, [{"name": "full"}]) is True
    assert store.key_of(job.story_id) == first
    assert store.keys_of([job.story_id, "unknown"]) == {job.story_id: first}


def test_a_destroyed_key_stays_destroyed(store: MediaStateStore):
    job = a_job()
    store.register(job, now_ms())
    key = store.begin(job.story_id, new_media_key())
    store.destroy(job.story_id, now_ms())
    record = store.load(job.story_id)
    assert record is not None and record.state == DESTROYED and record.key is None
    assert store.key_of(job.story_id) is None
    assert store.finish(job.story_id, [{"name": "full"}]) is False  # a late job loses
    assert store.begin(job.story_id, key) is None
    assert store.register(job, now_ms()) is False  # a redelivered post does not start over
    assert store.settle(job, REJECTED, now_ms(), "corrupt", "damaged") is False


def test_an_outcome_is_settled_once_and_marked_announced(store: MediaStateStore):
    job = a_job()
    store.register(job, now_ms())
    assert store.settle(job, REJECTED, now_ms(), "not_media", "Not a photo.") is True
    assert store.settle(job, REJECTED, now_ms(), "corrupt", "Damaged.") is False
    record = store.load(job.story_id)
    assert (record.state, record.code, record.announced) == (REJECTED, "not_media", False)
    assert record.unfinished
    store.mark_announced(record, now_ms())
    assert not store.load(job.story_id).unfinished


def test_rejected_and_destroyed_rows_expire_whole(store: MediaStateStore):
    job = a_job()
    store.register(job, now_ms())
    store.settle(job, REJECTED, now_ms(), "empty", "The file is empty.")
    ttls = store.session.execute(
        f"SELECT TTL(state), TTL(author_id), TTL(expires_at) FROM {store.keyspace}.media_keys"
        " WHERE story_id = %s", (job.story_id,)).one()
    assert all(ttl is not None and ttl > 0 for ttl in ttls)
    store.destroy(job.story_id, now_ms())
    row = store.session.execute(
        f"SELECT TTL(state), author_id FROM {store.keyspace}.media_keys WHERE story_id = %s",
        (job.story_id,)).one()
    assert row[0] > 0 and row.author_id is None


def test_scan_lists_rows_without_keys(store: MediaStateStore):
    job = a_job()
    store.register(job, now_ms())
    store.begin(job.story_id, new_media_key())
    store.finish(job.story_id, [])
    found = {r.story_id: r for r in store.scan()}
    assert found[job.story_id].state == PROCESSED
    assert found[job.story_id].key is None
