"""Look at an uploaded video before transcoding: streams, codecs, duration, geometry.

Everything here reads headers or, at most, the first decoded frame, so hostile or oversized
uploads are refused before any real work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from media.model import MediaLimits, VideoProfile
from media.rejections import MediaRejectedError, RejectionCode, check_pixel_budget, reject
from media.sniff import SourceFormat

__all__ = [
    "VideoOpener",
    "SourceVideo",
    "probe_video",
    "open_input",
    "select_streams",
    "too_long_error",
    "fit_box",
    "profile_size",
]

VideoOpener = Callable[[], "str | BinaryIO"]

_DEMUXERS = {
    SourceFormat.ISO_BMFF: "mov",
    SourceFormat.MATROSKA: "matroska",
    SourceFormat.AVI: "avi",
}
# Decoders a story may need; everything else in FFmpeg stays out of reach of uploads.
_VIDEO_CODECS = frozenset(
    {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg", "mpeg1video", "mpeg2video", "h263"}
)
_AUDIO_CODECS = frozenset(
    {"aac", "mp3", "mp2", "opus", "vorbis", "flac", "alac", "ac3", "eac3", "amr_nb", "amr_wb"}
    | {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8"}
    | {"pcm_mulaw", "pcm_alaw"}
)
_DEFAULT_RATE = Fraction(30)


@dataclass(frozen=True)
class SourceVideo:
    """What the transcoder must know up front to size its encoders."""

    width: int
    height: int
    clockwise_rotation: int
    sample_aspect: Fraction
    input_rate: Fraction
    output_rate: Fraction
    origin_s: float
    audio_layout: str | None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as viewers see them: square pixels, rotation applied."""
        width = max(1, round(self.width * self.sample_aspect))
        if self.clockwise_rotation in (90, 270):
            return self.height, width
        return width, self.height


def open_input(opener: VideoOpener, source_format: SourceFormat) -> InputContainer:
    """Open with the demuxer the content was sniffed as; FFmpeg never guesses the format."""
    return av.open(opener(), "r", format=_DEMUXERS[source_format], metadata_errors="ignore")


def probe_video(opener: VideoOpener, source_format: SourceFormat, limits: MediaLimits) -> SourceVideo:
    """Validate streams, codecs and declared duration, then read geometry from frame one."""
    with open_input(opener, source_format) as container:
        video, audio = select_streams(container, limits)
        _check_declared_duration(container, video, limits)
        first = _first_frame(container, video)
        check_pixel_budget(first.width, first.height, limits.max_video_pixels)
        return _describe(container, video, audio, first, limits)


def _describe(
    container: InputContainer,
    video: VideoStream,
    audio: AudioStream | None,
    first: VideoFrame,
    limits: MediaLimits,
) -> SourceVideo:
    """Freeze what the probe learned into a SourceVideo."""
    input_rate = _input_rate(video, limits)
    return SourceVideo(
        width=first.width,
        height=first.height,
        clockwise_rotation=_clockwise(first.rotation),
        sample_aspect=_sample_aspect(video),
        input_rate=input_rate,
        output_rate=min(input_rate, Fraction(limits.max_output_fps)),
        origin_s=(container.start_time or 0) / av.time_base,
        audio_layout=_audio_layout(audio),
    )


def select_streams(container: InputContainer, limits: MediaLimits) -> tuple[VideoStream, AudioStream | None]:
    """The first real video stream and first audio stream, after codec and size checks."""
    video = _video_stream(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    _check_codec(video, _VIDEO_CODECS)
    if audio is not None:
        _check_codec(audio, _AUDIO_CODECS)
    check_pixel_budget(video.width or 1, video.height or 1, limits.max_video_pixels)
    _configure_decoder(video, limits)
    return video, audio


def _video_stream(container: InputContainer) -> VideoStream:
    """Skip cover art: a song with artwork is not a video; a movie with no streams is broken."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    if container.streams.audio:
        raise reject(RejectionCode.AUDIO_ONLY)
    raise reject(RejectionCode.CORRUPT)


def _check_codec(stream: VideoStream | AudioStream, allowed: frozenset[str]) -> None:
    """Only allow-listed decoders ever see upload bytes."""
    context = stream.codec_context
    name = context.codec.canonical_name if context is not None else "unknown"
    if name not in allowed:
        reason = f"This file uses a format we can't play ({name})."
        raise reject(RejectionCode.UNSUPPORTED_CODEC, reason)


def _configure_decoder(stream: VideoStream, limits: MediaLimits) -> None:
    """Decode on the configured number of threads, no more."""
    stream.codec_context.thread_count = limits.threads
    stream.codec_context.thread_type = "AUTO"


def _check_declared_duration(container: InputContainer, video: VideoStream, limits: MediaLimits) -> None:
    """Refuse clips whose header already says they are too long (decoding re-checks)."""
    declared = [container.duration / av.time_base] if container.duration else []
    if video.duration and video.time_base:
        declared.append(float(video.duration * video.time_base))
    budget_ms = limits.max_duration_ms + limits.duration_slack_ms
    if any(seconds * 1000 > budget_ms for seconds in declared):
        raise too_long_error(limits)


def too_long_error(limits: MediaLimits) -> MediaRejectedError:
    """The rejection for clips over the duration limit, stated in seconds."""
    seconds = f"{limits.max_duration_ms / 1000:g}"
    return reject(RejectionCode.TOO_LONG, f"Videos can be at most {seconds} seconds long.")


def _first_frame(container: InputContainer, video: VideoStream) -> VideoFrame:
    """The first decodable picture; a clip without one is damaged."""
    for frame in container.decode(video):
        return frame
    raise reject(RejectionCode.CORRUPT, "The video has no picture we could decode.")


def _clockwise(counter_clockwise: int) -> int:
    """FFmpeg reports the display matrix counter-clockwise; filters want clockwise quarters."""
    return (round(-counter_clockwise / 90) * 90) % 360


def _sample_aspect(video: VideoStream) -> Fraction:
    """Pixel shape; anamorphic sources get square pixels in every rendition."""
    aspect = video.sample_aspect_ratio
    if aspect is None or aspect <= 0 or not Fraction(1, 4) <= aspect <= 4:
        return Fraction(1)
    return aspect


def _input_rate(video: VideoStream, limits: MediaLimits) -> Fraction:
    """Nominal frame rate, bounded so broken headers cannot claim absurd values."""
    rate = video.guessed_rate or video.average_rate
    if not rate or rate <= 0:
        return _DEFAULT_RATE
    return min(max(Fraction(rate), Fraction(1)), Fraction(limits.max_input_fps))


def _audio_layout(audio: AudioStream | None) -> str | None:
    """Mono stays mono; anything with more channels is mixed down to stereo."""
    if audio is None:
        return None
    return "mono" if audio.codec_context.channels == 1 else "stereo"


def profile_size(source: SourceVideo, profile: VideoProfile) -> tuple[int, int]:
    """Output size of a video rendition: the profile's box, orientation-aware, never upscaled."""
    return fit_box(source.display_size, profile.long_side, profile.short_side)


def fit_box(size: tuple[int, int], long_side: int, short_side: int) -> tuple[int, int]:
    """Scale (width, height) into a long x short box, keeping the aspect, to even numbers."""
    width, height = size
    scale = min(1.0, long_side / max(width, height), short_side / min(width, height))
    return _even(width * scale), _even(height * scale)


def _even(value: float) -> int:
    """H.264 in 4:2:0 needs even dimensions."""
    return max(2, round(value / 2) * 2)
