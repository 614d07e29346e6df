"""Where media lives in the bucket: uploads by user, renditions by story, nothing else."""

from __future__ import annotations

import re

__all__ = [
    "UPLOADS",
    "MEDIA",
    "is_safe_id",
    "upload_key",
    "story_prefix",
    "rendition_key",
    "story_of_object",
]

UPLOADS = "uploads/"
MEDIA = "media/"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")
_EXTENSIONS = {"image/jpeg": "jpg", "video/mp4": "mp4"}


def is_safe_id(value: str) -> bool:
    """Ids become key segments: no slashes, no dot segments, nothing a backend could misread."""
    return bool(_SAFE_ID.match(value))


def upload_key(user_id: str, media_id: str) -> str:
    """Where a client's upload lands (presigned PUT); derived from the poster, never trusted."""
    if not (is_safe_id(user_id) and is_safe_id(media_id)):
        raise ValueError(f"unsafe upload key segment: {user_id!r}/{media_id!r}")
    return f"{UPLOADS}{user_id}/{media_id}"


def story_prefix(story_id: str) -> str:
    """Every object of one story's media, for deleting them all at once."""
    if not is_safe_id(story_id):
        raise ValueError(f"unsafe story id: {story_id!r}")
    return f"{MEDIA}{story_id}/"


def rendition_key(story_id: str, name: str, content_type: str) -> str:
    """Deterministic, so a retried job overwrites instead of leaving a second set behind."""
    return f"{story_prefix(story_id)}{name}.{_EXTENSIONS[content_type]}"


def story_of_object(key: str) -> str | None:
    """The story a `media/` object belongs to, or None for anything else."""
    if not key.startswith(MEDIA):
        return None
    story_id, slash, _ = key[len(MEDIA):].partition("/")
    return story_id if slash and story_id else None
