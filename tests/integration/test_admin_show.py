"""`stories admin show-story` and `show-user`: what support sees of one story or user, read
from the real stores (Redis, the CQL server, the bucket), content redacted unless asked for."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator

import orjson
import pytest

import schemas
from media.clients import MediaClients, media_clients
from media.crypto import new_media_key
from media.layout import rendition_key
from media.state import MediaJob
from projections.runtime import Runtime
from projections.stores.redis_versions import drop_version_keys
from simulation.content import renditions
from stories import support

MARKER = "admin-show-marker"


@pytest.fixture(scope="module")
def world(local_stack) -> Iterator[tuple[Runtime, MediaClients]]:
    settings = local_stack.model_copy(update={"cql_keyspace": f"t{uuid.uuid4().hex[:12]}"})
    runtime = Runtime(settings)
    media = media_clients(runtime)
    yield runtime, media
    for version in runtime.version.versions():
        drop_version_keys(runtime.redis, version.redis_prefix)
    for keyspace in runtime.session.execute(
            "SELECT keyspace_name FROM system_schema.keyspaces"):
        if keyspace.keyspace_name.startswith(settings.cql_keyspace):
            runtime.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace.keyspace_name}",
                                    timeout=120)
    runtime.session.cluster.shutdown()


def fold(runtime: Runtime, name: str, actor: str, **fields) -> dict:
    record = schemas.new_event(name, actor, **fields)
    topic = {"UserFollowed": "social-graph"}.get(name, "story-lifecycle")
    assert runtime.projector().apply(topic, [(name, record)], [0]) == []
    return record


def test_support_sees_a_story_in_every_store_without_its_words(world):
    runtime, media = world
    author, follower = f"ann-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    fold(runtime, "UserFollowed", follower, followee_id=author)
    poll = {"sticker_id": "poll", "kind": "POLL", "prompt": MARKER, "options": ["yes", MARKER]}
    story_id = fold(runtime, "StoryPosted", author, kind="IMAGE", media_id="upload",
                    caption=MARKER, stickers=[poll], story_id=str(uuid.uuid4()))["story_id"]
    media.store.register(MediaJob(story_id, author, "upload", "IMAGE", 0, 2**41), 0)
    media.store.begin(story_id, new_media_key())
    media.objects.put_blob(rendition_key(story_id, "thumbnail", "image/jpeg"), b"sealed")
    fold(runtime, "MediaProcessed", "system", story_id=story_id, media_id="upload",
         media_kind="IMAGE", renditions=renditions(story_id, "IMAGE", random.Random(1)))

    shown = support.show_story(runtime, media, story_id)
    assert shown["active"]["ref"]["author_id"] == author
    assert shown["active"]["story"]["caption"] == "<redacted>"
    assert shown["active"]["story"]["status"] == "ready"
    assert shown["record"]["story"]["caption"] == "<redacted>"
    assert shown["media"]["job"]["state"] == "processing" and shown["media"]["job"]["key"] == "present"
    assert [o["key"] for o in shown["media"]["objects"]] == [
        rendition_key(story_id, "thumbnail", "image/jpeg")]
    assert MARKER not in orjson.dumps(shown).decode()
    assert support.show_story(runtime, media, story_id, content=True)["active"]["story"]["caption"] == MARKER

    user = support.show_user(runtime, follower)
    assert user["following"] == [author]
    assert [item["author_id"] for item in user["tray"]] == [author]
    assert [s["story_id"] for s in support.show_user(runtime, author)["stories"]] == [story_id]

    fold(runtime, "StoryDeleted", author, story_id=story_id)
    gone = support.show_story(runtime, media, story_id)
    assert gone["active"]["story"] is None and gone["active"]["deleted"] is True
    assert gone["record"]["story"] is None
    assert support.show_user(runtime, follower)["tray"] == []


def test_the_command_prints_json_and_names_a_story_it_does_not_know(world):
    runtime, _ = world
    unknown = str(uuid.uuid4())
    done = subprocess.run([sys.executable, "-m", "stories.cli", "admin", "show-story", unknown],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "STORIES_CQL_KEYSPACE": runtime.settings.cql_keyspace})
    assert done.returncode == 0, done.stderr[-2000:]
    shown = orjson.loads(done.stdout)
    assert shown["story_id"] == unknown
    assert shown["active"]["story"] is None and shown["record"]["story"] is None
    assert shown["media"]["job"] is None and shown["media"]["objects"] == []
