"""Story keys wrapped under a key-encryption key, for copies kept outside the media keyspace.

The media keyspace (`<cql_keyspace>_media`, owned by the media worker) holds each story's key;
its tables are created from `projections/migrations/media_*.cql`. This module reads the key of a
processed story from there and wraps it for the read models.

The read models hold a processed story's media key beside the story, so the gateway serves a
tray or a story without a CQL round. That copy is wrapped: AES-256-GCM under the
key-encryption key (KEK) of the story's day of posting, kept only in the media keyspace
(`key_encryption_keys`), authenticated with the story id. Redis and its snapshots therefore
hold nothing that opens media on its own.

Wrapping is deterministic (the nonce is derived from the KEK and the story id): a story has
exactly one key for its whole life, so the same nonce never seals two different plaintexts,
and a replay writes byte for byte the copy the live worker wrote.

Wrapped form: version (1 byte) | KEK id length (1) | KEK id (ASCII) | nonce (12) | sealed key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from cassandra.cluster import EXEC_PROFILE_DEFAULT, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KeyWrapError",
    "media_keyspace",
    "WrappedKeySource",
    "kek_id_for",
    "wrap_key",
    "unwrap_key",
    "wrapped_kek_id",
    "KeyEncryptionKeys",
    "MediaKeyWrapper",
]

WRAP_VERSION = 1
NONCE_BYTES = 12
KEK_BYTES = 32

STATEMENTS = {
    "create": "INSERT INTO {ks}.key_encryption_keys (kek_id, key, created_at) VALUES (?, ?, ?)"
              " IF NOT EXISTS",
    "read": "SELECT key FROM {ks}.key_encryption_keys WHERE kek_id = ?",
    "story_key": "SELECT state, key FROM {ks}.media_keys WHERE story_id = ?",
}
PROCESSED = "processed"  # the media state whose key is served


def media_keyspace(settings: Any) -> str:
    """Beside the read-model versions (`<base>_vN`), never dropped by a replay."""
    return f"{settings.cql_keyspace}_media"


class KeyWrapError(ValueError):
    """A wrapped key that is malformed, or sealed under another KEK or for another story."""


def kek_id_for(posted_at_ms: int) -> str:
    """The KEK of a story posted at this instant: one per UTC day."""
    return datetime.fromtimestamp(posted_at_ms / 1000, UTC).strftime("d%Y%m%d")


def _nonce(kek: bytes, story_id: str) -> bytes:
    return hmac.new(kek, b"nonce:" + story_id.encode(), hashlib.sha256).digest()[:NONCE_BYTES]


def wrap_key(kek_id: str, kek: bytes, story_id: str, key: bytes) -> bytes:
    """The story's key sealed under the KEK; the same inputs always give the same bytes."""
    nonce = _nonce(kek, story_id)
    sealed = AESGCM(kek).encrypt(nonce, key, story_id.encode())
    name = kek_id.encode("ascii")
    return bytes((WRAP_VERSION, len(name))) + name + nonce + sealed


def wrapped_kek_id(wrapped: bytes) -> str:
    """Which KEK opens this wrapped key."""
    if len(wrapped) < 2 or wrapped[0] != WRAP_VERSION or len(wrapped) < 2 + wrapped[1]:
        raise KeyWrapError("not a wrapped story key")
    return wrapped[2:2 + wrapped[1]].decode("ascii")


def unwrap_key(kek: bytes, story_id: str, wrapped: bytes) -> bytes:
    """The story's key, or KeyWrapError when the copy was not sealed for this story."""
    start = 2 + len(wrapped_kek_id(wrapped))
    nonce, sealed = wrapped[start:start + NONCE_BYTES], wrapped[start + NONCE_BYTES:]
    try:
        return AESGCM(kek).decrypt(nonce, sealed, story_id.encode())
    except InvalidTag as error:
        raise KeyWrapError(f"wrapped key does not open for story {story_id}") from error


class KeyEncryptionKeys:
    """The KEKs of one media keyspace, each read (or created) once per process."""

    def __init__(self, session: Session, keyspace: str):
        self.session = session
        self.keyspace = keyspace
        self._known: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @cached_property
    def stmt(self) -> dict[str, PreparedStatement]:
        """Prepared on first use: a process may start before the media keyspace exists."""
        profile = self.session.get_execution_profile(EXEC_PROFILE_DEFAULT)
        prepared = {}
        for name, cql in STATEMENTS.items():
            statement = self.session.prepare(cql.format(ks=self.keyspace))
            statement.consistency_level = profile.consistency_level
            statement.serial_consistency_level = profile.serial_consistency_level
            prepared[name] = statement
        return prepared

    def get(self, kek_id: str) -> bytes | None:
        """The KEK, or None when it does not exist (never made, or destroyed)."""
        if kek_id not in self._known:
            row = self.session.execute(self.stmt["read"], (kek_id,)).one()
            if row is None or row.key is None:
                return None
            self._remember(kek_id, row.key)
        return self._known[kek_id]

    def get_or_create(self, kek_id: str) -> bytes:
        """The KEK, made now if this is the first story of its day (one winner among racers)."""
        known = self.get(kek_id)
        if known is not None:
            return known
        fresh = os.urandom(KEK_BYTES)
        row = self.session.execute(self.stmt["create"],
                                   (kek_id, fresh, datetime.now(UTC))).one()
        # A lost race answers with the winner's row: everyone wraps under the same key.
        key = fresh if row.applied else row.key
        self._remember(kek_id, key)
        return key

    def known(self) -> set[str]:
        """The KEKs already read by this process."""
        return set(self._known)

    def _remember(self, kek_id: str, key: bytes) -> None:
        with self._lock:
            self._known[kek_id] = key


class MediaKeyWrapper:
    """Wraps story keys for the read models and opens the wrapped copies for the gateway."""

    def __init__(self, keks: KeyEncryptionKeys):
        self.keks = keks
        self._opened: dict[tuple[str, bytes], bytes] = {}

    def wrap(self, story_id: str, posted_at_ms: int, key: bytes) -> bytes:
        kek_id = kek_id_for(posted_at_ms)
        return wrap_key(kek_id, self.keks.get_or_create(kek_id), story_id, key)

    def wrap_all(self, keys: Mapping[str, bytes], posted_at: Mapping[str, int]
                 ) -> dict[str, bytes]:
        """Each story's key wrapped under the KEK of its day of posting."""
        return {story_id: self.wrap(story_id, posted_at[story_id], key)
                for story_id, key in keys.items()}

    def missing_keks(self, wrapped: Iterable[bytes]) -> list[str]:
        """The KEKs these copies need that this process has not read yet (a CQL read each)."""
        ids = set()
        for copy in wrapped:
            try:
                ids.add(wrapped_kek_id(copy))
            except KeyWrapError:
                continue
        return sorted(ids - self.keks.known())

    def load_keks(self, kek_ids: Iterable[str]) -> None:
        for kek_id in kek_ids:
            self.keks.get(kek_id)

    def unwrap(self, story_id: str, wrapped: bytes) -> bytes | None:
        """The key, or None when its KEK is gone or the copy is not this story's."""
        opened = self._opened.get((story_id, wrapped))
        if opened is not None:
            return opened
        try:
            kek = self.keks.get(wrapped_kek_id(wrapped))
            key = unwrap_key(kek, story_id, wrapped) if kek is not None else None
        except KeyWrapError:
            return None
        if key is not None:
            self._remember(story_id, wrapped, key)
        return key

    def _remember(self, story_id: str, wrapped: bytes, key: bytes) -> None:
        if len(self._opened) >= MAX_OPENED:
            self._opened = {}  # rare and cheap to refill; keeps memory bounded
        self._opened[(story_id, wrapped)] = key


MAX_OPENED = 200_000


class WrappedKeySource:
    """The wrapped keys of processed stories, read from the media keyspace in one round."""

    def __init__(self, session: Session, keyspace: str):
        self.session = session
        self.wrapper = MediaKeyWrapper(KeyEncryptionKeys(session, keyspace))

    def __call__(self, posted_at: Mapping[str, int]) -> dict[str, bytes]:
        """story id -> its wrapped key, for the stories (with their posting time) that have one."""
        ids = list(posted_at)
        if not ids:
            return {}
        results = execute_concurrent_with_args(self.session, self.wrapper.keks.stmt["story_key"],
                                               [(s,) for s in ids], concurrency=32,
                                               raise_on_first_error=True)
        keys = {}
        for story_id, (_, rows) in zip(ids, results, strict=True):
            row = rows.one()
            if row is not None and row.state == PROCESSED and row.key is not None:
                keys[story_id] = row.key
        return self.wrapper.wrap_all(keys, posted_at)
