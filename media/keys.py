"""A story's media key, for the gateway to hand to callers in the story's audience.

Keys live in the media keyspace (`<cql_keyspace>_media`, table `media_keys`), one per story.
A key is handed out only while the story's media is servable (`processed`); once the story
expires (and no highlight holds it) or is deleted, the key is destroyed and every stored
rendition of the story is ciphertext nobody can open, whether or not its objects are gone yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from cassandra.cluster import Session

from core.settings import Settings
from media.crypto import MediaDecryptError, decrypt_blob, object_key_aad
from media.state import MediaStateStore, media_keyspace

__all__ = [
    "CqlClients",
    "MediaKeyUnavailableError",
    "story_media_key",
    "story_media_keys",
    "open_story_object",
]


class CqlClients(Protocol):
    """Anything holding the settings and a CQL session: a Runtime, the gateway's context."""

    @property
    def settings(self) -> Settings: ...

    @property
    def session(self) -> Session: ...


class MediaKeyUnavailableError(MediaDecryptError):
    """The story has no servable key: not processed yet, rejected, expired or deleted."""


@lru_cache(maxsize=8)
def _store(session: Session, keyspace: str) -> MediaStateStore:
    """Statements are prepared once per session, not per request."""
    return MediaStateStore(session, keyspace)


def _store_of(clients: CqlClients) -> MediaStateStore:
    return _store(clients.session, media_keyspace(clients.settings))


def story_media_key(clients: CqlClients, story_id: str) -> bytes | None:
    """The story's 32-byte AES-256-GCM key, or None when its media cannot be served."""
    return _store_of(clients).key_of(story_id)


def story_media_keys(clients: CqlClients, story_ids: Iterable[str]) -> dict[str, bytes]:
    """Keys of several stories in one concurrent round (stories without one are left out)."""
    return _store_of(clients).keys_of(story_ids)


def open_story_object(clients: CqlClients, story_id: str, object_key: str, blob: bytes) -> bytes:
    """The plaintext of a stored rendition, or MediaDecryptError (never partial data)."""
    key = story_media_key(clients, story_id)
    if key is None:
        raise MediaKeyUnavailableError(f"story {story_id} has no media key (gone or not ready)")
    return decrypt_blob(key, blob, object_key_aad(object_key))
