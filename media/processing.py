"""Turn one untrusted upload into safe, small, standard renditions, or say why not.

`process_upload` is plain synchronous CPU work meant to run in a worker pool. It never
trusts names or claimed types: the bytes decide what the upload is, structure checks catch
cut-off files, headers are checked against pixel, size and duration limits before decoding,
and any library failure on hostile input becomes a `MediaRejectedError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from media.images import process_image
from media.model import (
    DEFAULT_LIMITS,
    MB,
    MediaKind,
    MediaLimits,
    ProcessedMedia,
    Rendition,
    RenditionName,
    VideoProfile,
)
from media.rejections import MediaRejectedError, RejectionCode, reject, rejecting_library_errors
from media.sniff import HEAD_BYTES, SourceFormat, check_complete, sniff
from media.video import process_video

__all__ = [
    "process_upload",
    "identify_upload",
    "MediaLimits",
    "DEFAULT_LIMITS",
    "VideoProfile",
    "ProcessedMedia",
    "Rendition",
    "RenditionName",
    "MediaKind",
    "MediaRejectedError",
    "RejectionCode",
    "SourceFormat",
]

UploadSource = bytes | bytearray | memoryview | str | os.PathLike[str]


@dataclass(frozen=True)
class _Upload:
    """The upload either in memory or on disk, readable any number of times."""

    data: bytes | None
    path: Path | None

    @classmethod
    def of(cls, source: UploadSource) -> _Upload:
        """Accept raw bytes or a filesystem path."""
        if isinstance(source, bytes | bytearray | memoryview):
            return cls(data=bytes(source), path=None)
        return cls(data=None, path=Path(source))

    @property
    def size(self) -> int:
        """Byte size, read from the filesystem without loading a file."""
        return len(self.data) if self.data is not None else _path(self).stat().st_size

    def open(self) -> BinaryIO:
        """A fresh binary stream positioned at the start."""
        return BytesIO(self.data) if self.data is not None else _path(self).open("rb")

    def read(self) -> bytes:
        """All bytes; only called once the size limit has been checked."""
        return self.data if self.data is not None else _path(self).read_bytes()

    def av_input(self) -> str | BinaryIO:
        """What PyAV should open: the path itself when there is one."""
        return str(self.path) if self.path is not None else self.open()


def _path(upload: _Upload) -> Path:
    """The on-disk location of an upload that is not in memory."""
    assert upload.path is not None
    return upload.path


def process_upload(data: UploadSource, limits: MediaLimits = DEFAULT_LIMITS) -> ProcessedMedia:
    """Renditions of a photo or video upload; raises MediaRejectedError for anything else."""
    upload = _Upload.of(data)
    with rejecting_library_errors():
        source_format = _identify(upload, limits)
        if source_format.kind == "IMAGE":
            return process_image(upload.read(), source_format, limits)
        return process_video(upload.av_input, source_format, limits)


def identify_upload(data: UploadSource, limits: MediaLimits = DEFAULT_LIMITS) -> SourceFormat:
    """The upload's format if it passes the cheap checks (type, size, completeness)."""
    upload = _Upload.of(data)
    with rejecting_library_errors():
        return _identify(upload, limits)


def _identify(upload: _Upload, limits: MediaLimits) -> SourceFormat:
    """Content type from magic bytes, then size limits, then container completeness."""
    size = upload.size
    if size == 0:
        raise reject(RejectionCode.EMPTY)
    if size > limits.max_upload_bytes:
        raise _too_large("Files", limits.max_upload_bytes)
    with upload.open() as stream:
        source_format = _sniff_format(stream.read(HEAD_BYTES))
        _check_size(source_format, size, limits)
        check_complete(source_format, stream, size)
    return source_format


def _sniff_format(head: bytes) -> SourceFormat:
    """A format that can become a story, or the reason it cannot."""
    source_format = sniff(head)
    if source_format is None:
        raise reject(RejectionCode.NOT_MEDIA)
    if source_format is SourceFormat.AUDIO:
        raise reject(RejectionCode.AUDIO_ONLY)
    return source_format


def _check_size(source_format: SourceFormat, size: int, limits: MediaLimits) -> None:
    """Photos and videos have separate byte limits."""
    if source_format.kind == "IMAGE" and size > limits.max_image_bytes:
        raise _too_large("Photos", limits.max_image_bytes)
    if source_format.kind == "VIDEO" and size > limits.max_video_bytes:
        raise _too_large("Videos", limits.max_video_bytes)


def _too_large(what: str, limit: int) -> MediaRejectedError:
    """The size rejection, with the limit in megabytes."""
    return reject(RejectionCode.TOO_LARGE, f"{what} can be at most {limit / MB:g} MB.")
