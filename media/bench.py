"""Throughput of the media pipeline on realistic uploads generated in memory.

`measure(seconds)` reports photos per second (a 12 MP phone JPEG with EXIF, GPS and an ICC
profile) and seconds of video processed per wall-clock second (a 10 s 1080p30 H.264 + AAC
clip). The samples are built once per process and are not part of the timings.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import ExifTags, Image, ImageCms

from media.model import DEFAULT_LIMITS, MediaLimits
from media.processing import process_upload

__all__ = ["measure", "phone_photo", "phone_clip", "PHOTO_SIZE", "CLIP_SIZE", "CLIP_SECONDS"]

PHOTO_SIZE = (4032, 3024)
CLIP_SIZE = (1920, 1080)
CLIP_SECONDS = 10
CLIP_FPS = 30
_AUDIO_RATE = 48000


def measure(seconds: float, limits: MediaLimits = DEFAULT_LIMITS) -> dict[str, float | int | str]:
    """Run each workload for about `seconds` (at least once) and report rates.

    Wall-clock rates are what a worker achieves; CPU figures (all threads of this process)
    stay meaningful on a shared, noisy machine.
    """
    photo, clip = phone_photo(), phone_clip()
    photos = _repeat(lambda: process_upload(photo, limits), seconds)
    clips = _repeat(lambda: process_upload(clip, limits), seconds)
    return {
        "images_per_second": round(photos.runs / photos.wall_s, 2),
        "image_cpu_ms": round(photos.cpu_s * 1000 / photos.runs, 1),
        "video_seconds_per_second": round(clips.runs * CLIP_SECONDS / clips.wall_s, 2),
        "video_cpu_s_per_video_s": round(clips.cpu_s / (clips.runs * CLIP_SECONDS), 3),
        "image_runs": photos.runs,
        "video_runs": clips.runs,
        "image_upload": f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG, {len(photo)} bytes",
        "video_upload": f"{CLIP_SIZE[1]}p{CLIP_FPS} H.264+AAC, {CLIP_SECONDS} s, {len(clip)} bytes",
        "threads": limits.threads,
        "cpus": os.cpu_count() or 0,
    }


@dataclass(frozen=True)
class _Timing:
    """How often a workload ran and what it cost."""

    runs: int
    wall_s: float
    cpu_s: float


def _repeat(work: Callable[[], object], seconds: float) -> _Timing:
    """Run `work` until at least `seconds` of wall-clock time have passed."""
    runs, wall, cpu = 0, time.perf_counter(), time.process_time()
    while runs == 0 or time.perf_counter() - wall < seconds:
        work()
        runs += 1
    return _Timing(runs, time.perf_counter() - wall, time.process_time() - cpu)


@cache
def phone_photo() -> bytes:
    """A 12 MP JPEG with smooth areas, fine detail and camera metadata, like a phone's."""
    picture = _photo_pixels()
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.Model] = "Camera"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (52.0, 22.0, 3.5), 3: "E", 4: (4.0, 53.0, 1.0)}
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=92, exif=exif, icc_profile=icc)
    return buffer.getvalue()


def _photo_pixels() -> Image.Image:
    """Gradients for sky-like areas plus sensor-like noise for texture."""
    red = Image.linear_gradient("L").resize(PHOTO_SIZE)
    green = Image.radial_gradient("L").resize(PHOTO_SIZE)
    noise = Image.effect_noise(PHOTO_SIZE, 24)
    blue = Image.blend(red, noise, 0.5)
    return Image.merge("RGB", (Image.blend(red, noise, 0.2), Image.blend(green, noise, 0.2), blue))


@cache
def phone_clip() -> bytes:
    """A 10 s 1080p30 H.264 + AAC MP4: a slow pan over a detailed picture."""
    backdrop = _photo_pixels().resize((CLIP_SIZE[0] + CLIP_SECONDS * CLIP_FPS * 2, CLIP_SIZE[1]))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        video = output.add_stream("libx264", rate=CLIP_FPS, options={"preset": "ultrafast", "crf": "20"})
        video.width, video.height, video.pix_fmt = *CLIP_SIZE, "yuv420p"
        audio = output.add_stream("aac", rate=_AUDIO_RATE, layout="stereo")
        _write_pan(output, video, backdrop)
        _write_tone(output, audio)
    return buffer.getvalue()


def _write_pan(output: OutputContainer, video: VideoStream, backdrop: Image.Image) -> None:
    """A pan of two pixels per frame with changing sensor grain, so every frame differs."""
    grain = [Image.effect_noise(CLIP_SIZE, 64).convert("RGB") for _ in range(3)]
    for index in range(CLIP_SECONDS * CLIP_FPS):
        crop = backdrop.crop((index * 2, 0, index * 2 + CLIP_SIZE[0], CLIP_SIZE[1]))
        frame = av.VideoFrame.from_image(Image.blend(crop, grain[index % 3], 0.03))
        frame.pts, frame.time_base = index, Fraction(1, CLIP_FPS)
        for packet in video.encode(frame):
            output.mux(packet)
    for packet in video.encode(None):
        output.mux(packet)


def _write_tone(output: OutputContainer, audio: AudioStream) -> None:
    """A quiet square wave for the whole clip."""
    samples = 1024
    pattern = b"\x00\x00\x00\x3e" * 50 + b"\x00\x00\x00\xbe" * 50
    for index in range(CLIP_SECONDS * _AUDIO_RATE // samples):
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
        for plane in frame.planes:
            plane.update((pattern * (plane.buffer_size // len(pattern) + 1))[: plane.buffer_size])
        frame.sample_rate, frame.pts = _AUDIO_RATE, index * samples
        for packet in audio.encode(frame):
            output.mux(packet)
    for packet in audio.encode(None):
        output.mux(packet)
