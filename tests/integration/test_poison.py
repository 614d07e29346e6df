"""Poison on every input topic: each message reaches the dead-letter topic with its reason and
origin, the worker keeps going, and the valid events around the poison are processed."""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import fastavro
import orjson
import pytest
from confluent_kafka import Producer

import schemas
from core.clients import kafka_config
from schemas import framing
from streams.topics import SCHEMAS, topic_for, topic_name
from tests.integration.test_worker import dead_letters, emit_all
from tests.integration.worker_helpers import PrivateDeployment, wait_until


def _raw(name: str, **fields) -> bytes:
    """Valid Avro that breaks the product's rules (written without them)."""
    record = schemas.new_event(name, **fields)
    return schemas.CATALOGUE.encode_version(name, 1, record)


def _poison() -> list[tuple[str, bytes, str]]:
    """(event whose topic it goes to, bytes, what the reason must mention)."""
    story = str(uuid.uuid4())
    valid = schemas.encode("UserFollowed", schemas.new_event(
        "UserFollowed", actor_id="a", followee_id="b"))
    unknown_fingerprint = framing.header(b"\x01" * 8) + valid[framing.HEADER_SIZE:]
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    return [
        ("StoryPosted", os.urandom(64), "magic"),
        ("StoryPosted", _raw("StoryPosted", actor_id="a", story_id=story, kind="TEXT",
                             text="x", lifetime_seconds=-5), "lifetime_seconds"),
        ("StoryViewed", unknown_fingerprint, "fingerprint"),
        ("StoryViewed", _raw("StoryViewed", actor_id="v", occurred_at=tomorrow, story_id=story,
                             author_id="a"), "occurred_at"),
        ("StoryReacted", _raw("StoryReacted", actor_id="v", story_id=story, author_id="a",
                              emoji="hello"), "emoji"),
        ("UserFollowed", os.urandom(3), "short"),
        ("UserFollowed", _raw("UserFollowed", actor_id="a", followee_id="a"), "followee_id"),
        ("HighlightCreated", _raw("HighlightCreated", actor_id="a", highlight_id=str(uuid.uuid4()),
                                  title="", story_ids=[story]), "title"),
    ]


def _newer_release_view(settings, story_id: str, viewer: str) -> bytes:
    """A view as a newer release writes it: its schema gained a field this build does not know,
    and its producer published that schema on the schema topic first."""
    newer = schemas.CATALOGUE.schema_of("StoryViewed")
    newer["fields"].append({"name": "client", "type": ["null", "string"], "default": None})
    fingerprint = framing.fingerprint(newer)
    record = {**schemas.new_event("StoryViewed", actor_id=viewer, story_id=story_id,
                                  author_id="star"), "client": "web"}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(newer), record)
    raw = Producer(kafka_config(settings))
    raw.produce(topic_name(SCHEMAS, settings.topic_prefix), key=fingerprint.hex(),
                value=orjson.dumps(newer))
    raw.flush(10)
    return framing.header(fingerprint) + body.getvalue()


@pytest.fixture
def deployment(local_stack, tmp_path):
    d = PrivateDeployment(local_stack, tmp_path)
    yield d
    d.close()


def test_poison_on_every_input_topic_is_set_aside_and_the_worker_goes_on(deployment):
    settings = deployment.settings
    deployment.start_worker()
    raw = Producer(kafka_config(settings))
    poison = _poison()
    for event_name, value, _ in poison:
        raw.produce(topic_name(topic_for(event_name), settings.topic_prefix), value=value)
    raw.flush(10)
    follow = schemas.new_event("UserFollowed", actor_id="fan", followee_id="star")
    post = schemas.new_event("StoryPosted", actor_id="star", story_id=str(uuid.uuid4()),
                             kind="TEXT", text="still here")
    emit_all(deployment, [("UserFollowed", follow), ("StoryPosted", post)])

    models = deployment.runtime.redis_models()
    wait_until(lambda: models.story(post["story_id"]) is not None, "the valid post after poison")
    wait_until(lambda: models.follows("fan", "star"), "the valid follow after poison")
    # Rolling upgrade: a view written by a newer release is read, not set aside.
    raw.produce(topic_name(topic_for("StoryViewed"), settings.topic_prefix),
                key=post["story_id"].encode(),
                value=_newer_release_view(settings, post["story_id"], "fan"))
    raw.flush(10)
    wait_until(lambda: models.counters(post["story_id"]).views == 1,
               "the newer release's view to be counted")
    letters = dead_letters(settings, len(poison))
    assert len(letters) == len(poison), deployment.logs()
    reasons = [dict(m.headers())["dlq-reason"].decode() for m in letters]
    for _, _, mention in poison:
        assert any(mention in reason for reason in reasons), (mention, reasons)
    topics = {dict(m.headers())["dlq-source-topic"].decode() for m in letters}
    assert topics == {topic_name(topic_for(e), settings.topic_prefix) for e, _, _ in poison}
    assert all(w.poll() is None for w in deployment.workers)  # alive
