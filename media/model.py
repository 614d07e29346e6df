"""The vocabulary of media processing: the limits it enforces and the renditions it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "MB",
    "MediaKind",
    "RenditionName",
    "VideoProfile",
    "FULL_VIDEO",
    "LOW_VIDEO",
    "MediaLimits",
    "DEFAULT_LIMITS",
    "Rendition",
    "ProcessedMedia",
]

MB = 1024 * 1024

MediaKind = Literal["IMAGE", "VIDEO"]
RenditionName = Literal["full", "low", "thumbnail"]


def _require_positive(instance: object, names: tuple[str, ...]) -> None:
    """Reject nonsensical configuration at construction rather than mid-transcode."""
    for name in names:
        if getattr(instance, name) <= 0:
            raise ValueError(f"{type(instance).__name__}.{name} must be positive")


@dataclass(frozen=True)
class VideoProfile:
    """One video rendition's target: a bounding box (never upscaled) and a bitrate budget."""

    name: RenditionName
    long_side: int
    short_side: int
    crf: int
    max_video_kbps: int
    audio_kbps: int

    def __post_init__(self) -> None:
        _require_positive(self, ("long_side", "short_side", "max_video_kbps", "audio_kbps"))
        if self.short_side > self.long_side:
            raise ValueError("short_side must not exceed long_side")


FULL_VIDEO = VideoProfile("full", 1280, 720, crf=23, max_video_kbps=2500, audio_kbps=128)
LOW_VIDEO = VideoProfile("low", 854, 480, crf=27, max_video_kbps=800, audio_kbps=64)


@dataclass(frozen=True)
class MediaLimits:
    """What an upload may be and what it becomes; every default is documented in docs/media.md."""

    max_image_bytes: int = 15 * MB
    max_video_bytes: int = 50 * MB
    max_image_pixels: int = 50_000_000
    max_video_pixels: int = 4096 * 2304
    max_duration_ms: int = 60_000
    duration_slack_ms: int = 500
    max_input_fps: int = 240
    max_output_fps: int = 30
    image_max_side: int = 1080
    jpeg_quality: int = 85
    thumbnail_max_side: int = 150
    thumbnail_quality: int = 80
    thumbnail_min_luma: float = 20.0
    thumbnail_search_ms: int = 10_000
    video_profiles: tuple[VideoProfile, ...] = (FULL_VIDEO, LOW_VIDEO)
    x264_preset: str = "veryfast"
    threads: int = 2

    def __post_init__(self) -> None:
        _require_positive(self, _POSITIVE_LIMITS)
        if not self.video_profiles:
            raise ValueError("at least one video profile is required")

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload worth looking at, whatever it turns out to be."""
        return max(self.max_image_bytes, self.max_video_bytes)

    @property
    def max_video_frames(self) -> int:
        """Frame budget that stops a clip with lying timestamps from decoding forever."""
        return (self.max_duration_ms + self.duration_slack_ms) * self.max_input_fps // 1000


_POSITIVE_LIMITS = (
    "max_image_bytes",
    "max_video_bytes",
    "max_image_pixels",
    "max_video_pixels",
    "max_duration_ms",
    "max_input_fps",
    "max_output_fps",
    "image_max_side",
    "jpeg_quality",
    "thumbnail_max_side",
    "thumbnail_quality",
    "thumbnail_search_ms",
    "threads",
)

DEFAULT_LIMITS = MediaLimits()


@dataclass(frozen=True)
class Rendition:
    """One stored output file; `data` is the plaintext the caller encrypts and uploads."""

    name: RenditionName
    content_type: str
    width: int
    height: int
    duration_ms: int | None
    data: bytes = field(repr=False)

    @property
    def byte_size(self) -> int:
        """Size of the stored object, for quotas and logs."""
        return len(self.data)


@dataclass(frozen=True)
class ProcessedMedia:
    """Everything a story needs to be shown: its kind and its renditions, in a stable order."""

    kind: MediaKind
    renditions: tuple[Rendition, ...]

    def rendition(self, name: RenditionName) -> Rendition:
        """The rendition called `name`; KeyError when this kind of media has none."""
        for rendition in self.renditions:
            if rendition.name == name:
                return rendition
        raise KeyError(name)

    @property
    def names(self) -> tuple[RenditionName, ...]:
        """Rendition names in order, handy for building object keys."""
        return tuple(rendition.name for rendition in self.renditions)
