"""Why an upload is refused: a machine-readable code plus a sentence a client can show."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

import av
from PIL import Image, ImageCms

__all__ = [
    "RejectionCode",
    "MediaRejectedError",
    "DECODER_ERRORS",
    "reject",
    "rejecting_library_errors",
    "check_pixel_budget",
]


class RejectionCode(StrEnum):
    """Stable codes; clients switch on these, so values never change once released."""

    EMPTY = "empty"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    NOT_MEDIA = "not_media"
    AUDIO_ONLY = "audio_only"
    UNSUPPORTED_FORMAT = "unsupported_format"
    UNSUPPORTED_CODEC = "unsupported_codec"
    TOO_LONG = "too_long"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    UPLOAD_MISSING = "upload_missing"
    WRONG_KIND = "wrong_kind"
    PROCESSING_TIMEOUT = "processing_timeout"
    PROCESSING_FAILED = "processing_failed"


class MediaRejectedError(Exception):
    """The upload can never become a story; retrying the same bytes gives the same answer."""

    def __init__(self, code: RejectionCode | str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = str(code)
        self.reason = reason


_DEFAULT_REASONS = {
    RejectionCode.EMPTY: "The file is empty.",
    RejectionCode.TRUNCATED: "The upload is incomplete. Please try sending it again.",
    RejectionCode.CORRUPT: "The file is damaged and can't be opened.",
    RejectionCode.NOT_MEDIA: "This file isn't a photo or a video.",
    RejectionCode.AUDIO_ONLY: "This file has sound but no picture. Stories need a photo or video.",
    RejectionCode.UPLOAD_MISSING: "The photo or video never arrived. Please post the story again.",
    RejectionCode.PROCESSING_TIMEOUT: (
        "This file took too long to process. Please try a shorter or smaller one."
    ),
    RejectionCode.PROCESSING_FAILED: "This file could not be processed.",
}

# Decoders fed hostile bytes fail in many ways; every one of these means "cannot be read".
DECODER_ERRORS: tuple[type[BaseException], ...] = (
    av.FFmpegError,
    ImageCms.PyCMSError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    MemoryError,
    RuntimeError,
)


def reject(code: RejectionCode, reason: str | None = None) -> MediaRejectedError:
    """Build a rejection, falling back to the standard sentence for the code."""
    return MediaRejectedError(code, reason or _DEFAULT_REASONS[code])


@contextmanager
def rejecting_library_errors() -> Iterator[None]:
    """Turn whatever Pillow or FFmpeg raise on bad input into a rejection, never a crash."""
    try:
        yield
    except MediaRejectedError:
        raise
    except Image.DecompressionBombError as exc:
        raise reject(RejectionCode.TOO_MANY_PIXELS, "The picture has too many pixels.") from exc
    except DECODER_ERRORS as exc:
        raise reject(_classify(exc)) from exc


def _classify(exc: BaseException) -> RejectionCode:
    """Tell an upload cut short from one that is damaged, as far as the library lets us."""
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return RejectionCode.TRUNCATED
    return RejectionCode.CORRUPT


def check_pixel_budget(width: int, height: int, max_pixels: int) -> None:
    """Refuse absurd dimensions from headers alone, before a single pixel is decoded."""
    if width <= 0 or height <= 0:
        raise reject(RejectionCode.CORRUPT)
    if width * height > max_pixels:
        limit = f"{max_pixels / 1_000_000:g}"
        reason = f"The picture is too big ({width}x{height}); the limit is {limit} megapixels."
        raise reject(RejectionCode.TOO_MANY_PIXELS, reason)
