"""Video pipeline: any allow-listed upload becomes H.264/AAC MP4 renditions and a thumbnail.

Outputs are progressive MP4 with the moov index first (`movflags=+faststart`) so playback
starts before the download ends, written with `fflags=+bitexact` so the muxer adds no
encoder tag or creation time; nothing from the source container or streams is copied.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.video.frame import PictureType, VideoFrame
from av.video.stream import VideoStream
from PIL import Image, ImageStat

from media.images import jpeg_rendition
from media.model import MediaLimits, ProcessedMedia, Rendition, VideoProfile
from media.rejections import RejectionCode, check_pixel_budget, reject
from media.sniff import SourceFormat
from media.video_filters import FrameScaler
from media.video_probe import (
    SourceVideo,
    VideoOpener,
    fit_box,
    open_input,
    probe_video,
    profile_size,
    select_streams,
    too_long_error,
)

__all__ = ["process_video"]

_TIME_BASE = Fraction(1, 90000)
_AUDIO_RATE = 48000
_AUDIO_FRAME_SIZE = 1024
_MUXER_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}


def process_video(opener: VideoOpener, source_format: SourceFormat, limits: MediaLimits) -> ProcessedMedia:
    """Probe, then transcode in a private temporary directory the muxer can rewrite."""
    source = probe_video(opener, source_format, limits)
    with (
        tempfile.TemporaryDirectory(prefix="stories-media-") as workdir,
        contextlib.closing(_Transcoder(Path(workdir), source, limits)) as transcoder,
    ):
        _pump(opener, source_format, transcoder, limits)
        renditions = transcoder.finish()
    return ProcessedMedia(kind="VIDEO", renditions=renditions)


def _pump(
    opener: VideoOpener,
    source_format: SourceFormat,
    transcoder: _Transcoder,
    limits: MediaLimits,
) -> None:
    """Decode the selected streams once, in file order, feeding every output as we go."""
    with open_input(opener, source_format) as container:
        video, audio = select_streams(container, limits)
        streams = [video] if audio is None else [video, audio]
        for packet in container.demux(streams):
            for frame in packet.decode():
                transcoder.accept(cast(VideoFrame | AudioFrame, frame))  # only those streams demuxed


class _Transcoder:
    """Fans decoded frames out to every rendition writer and the thumbnail picker."""

    def __init__(self, workdir: Path, source: SourceVideo, limits: MediaLimits):
        self._limits = limits
        self._clock = _FrameClock(source, limits)
        self._audio = _AudioConformer(source, limits) if source.audio_layout else None
        self._thumbnail = _ThumbnailPicker(source, limits)
        self._writers: list[_RenditionWriter] = []
        for profile in limits.video_profiles:
            self._writers.append(_RenditionWriter(workdir, profile, source, limits))

    def accept(self, frame: VideoFrame | AudioFrame) -> None:
        """Route one decoded frame."""
        if isinstance(frame, VideoFrame):
            self._accept_video(frame)
        elif self._audio is not None:
            self._write_audio(self._audio.conform(frame))

    def _accept_video(self, frame: VideoFrame) -> None:
        """Time-stamp, maybe drop (frame-rate cap), then encode everywhere."""
        check_pixel_budget(frame.width, frame.height, self._limits.max_video_pixels)
        seconds = self._clock.place(frame.time)
        if seconds is None:
            return
        self._thumbnail.offer(frame, seconds)
        pts = round(seconds / _TIME_BASE)
        for writer in self._writers:
            writer.write_video(frame, pts)

    def _write_audio(self, frames: Iterable[AudioFrame]) -> None:
        """Encode conformed audio into every rendition."""
        for frame in frames:
            for writer in self._writers:
                writer.write_audio(frame)

    def finish(self) -> tuple[Rendition, ...]:
        """Flush everything and collect the renditions in profile order, thumbnail last."""
        if self._audio is not None:
            self._write_audio(self._audio.conform(None))
        videos = [writer.finish() for writer in self._writers]
        return (*videos, self._thumbnail.rendition())

    def close(self) -> None:
        """Release encoders and files, also after a rejection halfway through."""
        for writer in self._writers:
            writer.close()


class _FrameClock:
    """Turns decoder timestamps into increasing output times and enforces the duration cap."""

    def __init__(self, source: SourceVideo, limits: MediaLimits):
        self._origin = source.origin_s
        self._nominal = 1 / float(source.input_rate)
        self._min_gap = 0.9 / limits.max_output_fps
        self._limits = limits
        self._last_seen: float | None = None
        self._last_kept: float | None = None
        self._frames = 0

    def place(self, frame_time: float | None) -> float | None:
        """Output time in seconds, or None when the frame-rate cap drops this frame."""
        self._frames += 1
        seconds = self._advance(frame_time)
        if self._frames > self._limits.max_video_frames or _over_limit(seconds, self._limits):
            raise too_long_error(self._limits)
        if self._last_kept is not None and seconds - self._last_kept < self._min_gap:
            return None
        self._last_kept = seconds
        return seconds

    def _advance(self, frame_time: float | None) -> float:
        """Missing or backwards timestamps are replaced by 'one nominal frame later'."""
        relative = None if frame_time is None else frame_time - self._origin
        if self._last_seen is None:
            seconds = max(0.0, relative or 0.0)
        elif relative is None or relative <= self._last_seen:
            seconds = self._last_seen + self._nominal
        else:
            seconds = relative
        self._last_seen = seconds
        return seconds


def _over_limit(seconds: float, limits: MediaLimits) -> bool:
    """True once media time passes the duration limit plus its slack."""
    return seconds * 1000 > limits.max_duration_ms + limits.duration_slack_ms


class _AudioConformer:
    """Resamples any input audio to 48 kHz planar float in AAC-sized frames with clean pts."""

    def __init__(self, source: SourceVideo, limits: MediaLimits):
        self._resampler = av.AudioResampler(
            format="fltp",
            layout=source.audio_layout,
            rate=_AUDIO_RATE,
            frame_size=_AUDIO_FRAME_SIZE,
        )
        self._origin = source.origin_s
        self._limits = limits
        self._next_pts: int | None = None

    def conform(self, frame: AudioFrame | None) -> list[AudioFrame]:
        """Frames ready to encode; None flushes what the resampler still holds."""
        if frame is not None:
            self._start_at(frame)
        frames = self._resampler.resample(frame)
        for conformed in frames:
            self._stamp(conformed)
        return frames

    def _start_at(self, frame: AudioFrame) -> None:
        """Keep audio aligned with video when it starts later, and bound its length."""
        relative = 0.0 if frame.time is None else max(0.0, frame.time - self._origin)
        if _over_limit(relative, self._limits):
            raise too_long_error(self._limits)
        if self._next_pts is None:
            self._next_pts = round(relative * _AUDIO_RATE)

    def _stamp(self, frame: AudioFrame) -> None:
        """Contiguous sample-accurate timestamps."""
        frame.pts = self._next_pts or 0
        frame.time_base = Fraction(1, _AUDIO_RATE)
        self._next_pts = frame.pts + frame.samples


class _ThumbnailPicker:
    """Keeps the first frame that is not (nearly) black, else the brightest one seen."""

    def __init__(self, source: SourceVideo, limits: MediaLimits):
        side = limits.thumbnail_max_side
        size = fit_box(source.display_size, side, side)
        self._scaler = FrameScaler(size, source.clockwise_rotation, "rgb24", limits.threads)
        self._limits = limits
        self._best: Image.Image | None = None
        self._best_luma = -1.0
        self._settled = False

    def offer(self, frame: VideoFrame, seconds: float) -> None:
        """Consider one frame, until a bright one is found or the search window is over."""
        if self._settled:
            return
        picture = self._scaler.convert(frame).to_image()
        luma = ImageStat.Stat(picture.convert("L")).mean[0]
        if luma > self._best_luma:
            self._best, self._best_luma = picture, luma
        window_over = seconds * 1000 >= self._limits.thumbnail_search_ms
        self._settled = luma >= self._limits.thumbnail_min_luma or window_over

    def rendition(self) -> Rendition:
        """The chosen frame as a JPEG thumbnail."""
        if self._best is None:
            raise reject(RejectionCode.CORRUPT, "The video has no picture we could decode.")
        return jpeg_rendition("thumbnail", self._best, self._limits.thumbnail_quality)


class _RenditionWriter:
    """One MP4 output: H.264 (+ AAC when the source has sound), moov first, no metadata."""

    def __init__(self, workdir: Path, profile: VideoProfile, source: SourceVideo, limits: MediaLimits):
        self._profile = profile
        self._path = workdir / f"{profile.name}.mp4"
        size = profile_size(source, profile)
        self._scaler = FrameScaler(size, source.clockwise_rotation, "yuv420p", limits.threads)
        self._container: OutputContainer = av.open(str(self._path), "w", format="mp4", options=_MUXER_OPTIONS)
        self._video = _add_video_stream(self._container, profile, size, source, limits)
        self._audio = _add_audio_stream(self._container, profile, source.audio_layout)
        self._closed = False

    def write_video(self, frame: VideoFrame, pts: int) -> None:
        """Scale, re-time and encode one frame."""
        scaled = self._scaler.convert(frame)
        scaled.pts = pts
        scaled.time_base = _TIME_BASE
        scaled.pict_type = PictureType.NONE
        self._mux(self._video.encode(scaled))

    def write_audio(self, frame: AudioFrame) -> None:
        """Encode one conformed audio frame, if this output carries audio."""
        if self._audio is not None:
            self._mux(self._audio.encode(frame))

    def finish(self) -> Rendition:
        """Flush encoders, let the muxer move the index to the front, read the result."""
        self._mux(self._video.encode(None))
        if self._audio is not None:
            self._mux(self._audio.encode(None))
        self._closed = True
        self._container.close()
        return _read_video_rendition(self._path, self._profile)

    def close(self) -> None:
        """Abandon the output; safe to call after finish()."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError, OSError):
                self._container.close()

    def _mux(self, packets: Iterable[Packet[VideoStream] | Packet[AudioStream]]) -> None:
        """Hand encoded packets to the muxer."""
        for packet in packets:
            self._container.mux(packet)


def _add_video_stream(
    container: OutputContainer,
    profile: VideoProfile,
    size: tuple[int, int],
    source: SourceVideo,
    limits: MediaLimits,
) -> VideoStream:
    """libx264, High profile, capped CRF, BT.709 tagged, a keyframe every two seconds."""
    options = _x264_options(profile, source.output_rate, limits)
    stream = container.add_stream("libx264", rate=source.output_rate, options=options)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = _TIME_BASE
    stream.codec_context.colorspace = 1
    stream.codec_context.color_primaries = 1
    stream.codec_context.color_trc = 1
    stream.codec_context.color_range = 1
    return stream


def _x264_options(profile: VideoProfile, rate: Fraction, limits: MediaLimits) -> dict[str, str]:
    """Encoder settings: quality-targeted but bitrate-capped for predictable downloads."""
    return {
        "preset": limits.x264_preset,
        "profile": "high",
        "crf": str(profile.crf),
        "maxrate": f"{profile.max_video_kbps}k",
        "bufsize": f"{profile.max_video_kbps * 2}k",
        "g": str(max(1, round(rate * 2))),
        "threads": str(limits.threads),
    }


def _add_audio_stream(
    container: OutputContainer, profile: VideoProfile, layout: str | None
) -> AudioStream | None:
    """AAC-LC at the profile's bitrate; no stream at all for silent sources."""
    if layout is None:
        return None
    stream = container.add_stream("aac", rate=_AUDIO_RATE, layout=layout)
    stream.bit_rate = profile.audio_kbps * 1000
    return stream


def _read_video_rendition(path: Path, profile: VideoProfile) -> Rendition:
    """Describe the finished file from the file itself, as any player would see it."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.width, stream.height
        duration_ms = max(1, round((container.duration or 0) * 1000 / av.time_base))
    return Rendition(profile.name, "video/mp4", width, height, duration_ms, path.read_bytes())
