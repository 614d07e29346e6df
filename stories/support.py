"""What the product holds about one story or one user, gathered from every store for support.

Read-only, through the stores' own reads (no key is built here). What people wrote (story text,
captions, sticker prompts and options, highlight titles) is redacted unless asked for, and no key
is ever shown: only whether it exists and which key-encryption key wraps its copies.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import orjson

import schemas
from core.clock import from_ms
from gateway.idempotency import IdempotencyKeys
from gateway.keys import gateway_prefix
from media.clients import MediaClients
from media.layout import is_safe_id, story_prefix
from media.state import MediaRecord
from projections.folds.highlights import Highlight
from projections.model import Story
from projections.queries import read_tray
from projections.runtime import Runtime
from projections.stores.story_keys import KeyWrapError, wrapped_kek_id
from streams.dead_letters.redaction import redact

__all__ = ["show_story", "show_user", "erase_user"]


def show_story(runtime: Runtime, media: MediaClients, story_id: str,
               content: bool = False) -> dict[str, Any]:
    """The story in the active store, the record store, and the media keyspace and bucket."""
    redis, cql = runtime.redis_models(), runtime.cql_models()
    ref = redis.story_refs([story_id]).get(story_id)
    story = redis.story(story_id)
    counters = redis.counters(story_id)
    kept = cql.kept_stories([story_id]).get(story_id)
    return {
        "story_id": story_id,
        "active": {
            "ref": asdict(ref) if ref else None,
            "story": _story(story, content),
            "deleted": bool(redis.deleted([story_id])),
            "insights_owner": redis.insights_owner(story_id),
            "counters": asdict(counters),
        },
        "record": {
            "story": _row(cql.story(story_id), content),
            "kept_for_highlights": _story(kept, content),
            "highlights": sorted(cql.highlight_ids_holding(story_id)),
        },
        "media": _media(media, story_id),
    }


def show_user(runtime: Runtime, user_id: str, content: bool = False) -> dict[str, Any]:
    """The user's stories, graph, tray and highlights, and when they were erased (None: not)."""
    redis, cql = runtime.redis_models(), runtime.cql_models()
    now = int(time.time() * 1000)
    followers, following = redis.followers(user_id), redis.following(user_id)
    erased_at = redis.erased([user_id]).get(user_id)
    return {
        "user_id": user_id,
        "erased_at": None if erased_at is None else from_ms(erased_at).isoformat(),
        "stories": [_story(s, content) for s in sorted(redis.author_stories(user_id),
                                                       key=lambda s: s.posted_at)],
        "followers": {"count": len(followers), "celebrity": bool(redis.celebrities_among([user_id]))},
        "following": sorted(following),
        "close_friends": sorted(redis.close_friends(user_id)),
        "tray": [{"author_id": item.author_id, "latest_story_id": item.latest_story_id,
                  "has_unseen": item.has_unseen} for item in read_tray(redis, user_id, now)],
        "highlights": [_highlight(h, content) for h in cql.highlights_of(user_id)],
    }


def _story(story: Story | None, content: bool) -> dict[str, Any] | None:
    if story is None:
        return None
    fields = asdict(story)
    fields["audience_ids"] = sorted(story.audience_ids)
    fields["media_key"] = _wrapped_key(story.media_key)
    return fields if content else redact(fields)


def _row(row: Any, content: bool) -> dict[str, Any] | None:
    """A CQL row of the stories table, JSON-ready."""
    if row is None:
        return None
    fields = {name: _plain(value) for name, value in row._asdict().items()}
    fields["caption"], fields["text"] = fields.pop("caption"), fields.pop("body")
    for stored_as_json in ("stickers", "renditions"):  # so that their prompts are redacted too
        if isinstance(fields.get(stored_as_json), str):
            fields[stored_as_json] = orjson.loads(fields[stored_as_json])
    return fields if content else redact(fields)


def _plain(value: Any) -> Any:
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _wrapped_key(wrapped: bytes | None) -> dict[str, Any] | None:
    """Which key-encryption key wraps the copy (never the key)."""
    if wrapped is None:
        return None
    try:
        return {"wrapped_under": wrapped_kek_id(wrapped), "bytes": len(wrapped)}
    except KeyWrapError:
        return {"wrapped_under": None, "bytes": len(wrapped), "malformed": True}


def _highlight(highlight: Highlight, content: bool) -> dict[str, Any]:
    fields = {"highlight_id": highlight.highlight_id, "title": highlight.title,
              "story_ids": list(highlight.story_ids), "updated_at": highlight.updated_at}
    return fields if content else redact(fields)


def _media(media: MediaClients, story_id: str) -> dict[str, Any]:
    """The media job, whether its key still exists, and the objects in the bucket."""
    record = media.store.load(story_id)
    objects = ([{"key": o.key, "bytes": o.size, "modified": o.last_modified.isoformat()}
                for o in media.objects.listing(story_prefix(story_id))]
               if is_safe_id(story_id) else [])
    return {"job": _job(record), "objects": objects}


def _job(record: MediaRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    job = record.job
    return {
        "state": record.state,
        "key": "present" if record.key is not None else "none",
        "media_id": job.media_id if job else None,
        "kind": job.kind if job else None,
        "renditions": [r.get("name") for r in record.renditions],
        "code": record.code,
        "reason": record.reason,
        "announced": record.announced,
    }


def erase_user(runtime: Runtime, user_id: str) -> dict[str, Any]:
    """Erase an account for support, as `DELETE /api/v1/me` does for its user: a StoryDeleted
    for each story the read models hold of them (the media path destroys keys and objects), then
    UserErased, each acknowledged by the log; then their Idempotency-Keys go."""
    redis, cql = runtime.redis_models(), runtime.cql_models()
    story_ids = [story.story_id for story in redis.author_stories(user_id)]
    story_ids += [s for highlight in cql.highlights_of(user_id) for s in highlight.story_ids]
    story_ids = list(dict.fromkeys(story_ids))
    for story_id in story_ids:
        runtime.events.emit("StoryDeleted", schemas.new_event("StoryDeleted", user_id,
                                                              story_id=story_id))
    erasure = schemas.new_event("UserErased", user_id, requested_by="SUPPORT")
    runtime.events.emit("UserErased", erasure)
    settings = runtime.settings
    keys = IdempotencyKeys(runtime.redis, gateway_prefix(settings.cql_keyspace),
                           settings.gateway_idempotency_seconds, stale_seconds=0)
    return {"user_id": user_id, "event_id": erasure["event_id"],
            "requested_at": erasure["occurred_at"].isoformat(timespec="milliseconds"),
            "stories_deleted": story_ids, "idempotency_keys_dropped": keys.forget_user(user_id)}
