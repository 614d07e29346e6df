"""Upload grants: which user may post a media id, and as which kind, for a while.

A presigned upload URL is handed out with a grant; posting a story with that media id is
accepted only from the same user, for the kind announced, until the grant lapses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from gateway.keys import GatewayKind, gateway_key

__all__ = ["Upload", "UploadGrants"]


@dataclass(frozen=True, slots=True)
class Upload:
    """Who was granted an upload and what kind of media they announced."""

    user_id: str
    kind: str


class UploadGrants:
    """Remembers granted uploads in Redis, each until its grant lapses."""

    def __init__(self, client: redis.Redis, prefix: str):
        self._client = client
        self._prefix = prefix

    def _key(self, media_id: str) -> str:
        return gateway_key(self._prefix, GatewayKind.UPLOAD, media_id)

    def grant(self, media_id: str, upload: Upload, seconds: int) -> None:
        """The media id is the user's for `seconds`."""
        self._client.set(self._key(media_id), f"{upload.user_id}|{upload.kind}", ex=seconds)

    def granted(self, media_id: str) -> Upload | None:
        """The grant of a media id, or None when there is none (or it lapsed)."""
        raw = cast(bytes | None, self._client.get(self._key(media_id)))
        if raw is None:
            return None
        user_id, _, kind = raw.decode().partition("|")
        return Upload(user_id, kind)
