"""Rules of the media worker's outcomes: servable renditions, or a refusal people can read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from schemas.rules.checks import check_text, fail, is_blank
from schemas.rules.limits import MAX_CODE_CHARS, MAX_REASON_CHARS

__all__ = ["check_media_processed", "check_media_rejected"]

_CODE_PATTERN = re.compile(rf"[a-z][a-z0-9_]{{0,{MAX_CODE_CHARS - 1}}}")


def check_media_processed(record: Mapping[str, Any]) -> None:
    """At least one rendition, distinct names, plausible sizes, durations for video only."""
    renditions = record["renditions"]
    if not renditions:
        fail("renditions", "at least one rendition is required")
    names: dict[str, int] = {}
    for index, rendition in enumerate(renditions):
        path = f"renditions[{index}]"
        name = rendition["name"]
        if name in names:
            fail(f"{path}.name", f"repeats renditions[{names[name]}].name ({name!r})")
        names[name] = index
        _check_rendition(path, rendition, record["media_kind"])


def _check_rendition(path: str, rendition: Mapping[str, Any], media_kind: str) -> None:
    """One servable variant of an upload."""
    for field in ("name", "key"):
        if is_blank(rendition[field]):
            fail(f"{path}.{field}", "must not be empty")
    major = _content_major(path, rendition["content_type"])
    if media_kind == "IMAGE" and major != "image":
        fail(f"{path}.content_type", "an IMAGE has only image renditions")
    for field in ("width", "height", "size_bytes"):
        if rendition[field] <= 0:
            fail(f"{path}.{field}", f"must be positive, got {rendition[field]}")
    duration = rendition["duration_ms"]
    if major == "video" and (duration is None or duration <= 0):
        fail(f"{path}.duration_ms", "a video rendition needs a positive duration")
    if major == "image" and duration is not None:
        fail(f"{path}.duration_ms", "an image rendition has no duration")


def _content_major(path: str, content_type: str) -> str:
    """The "image" or "video" part of a MIME type; anything else cannot be shown in a story."""
    major, slash, minor = content_type.partition("/")
    if major not in ("image", "video") or not slash or not minor or " " in minor:
        fail(
            f"{path}.content_type", f"must be an image/* or video/* MIME type, got {content_type!r}"
        )
    return major


def check_media_rejected(record: Mapping[str, Any]) -> None:
    """A snake_case code for programs and a non-empty reason for people."""
    code = record["code"]
    if _CODE_PATTERN.fullmatch(code) is None:
        fail("code", f"must be snake_case of at most {MAX_CODE_CHARS} characters, got {code!r}")
    check_text("reason", record["reason"], MAX_REASON_CHARS)
