"""Sample uploads built in memory for the media tests: no binary fixtures in the repository."""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import ExifTags, Image, ImageCms, ImageStat

__all__ = [
    "RED",
    "BLUE",
    "GREEN",
    "BLACK",
    "SECRET_XMP",
    "SECRET_COMMENT",
    "CAMERA_MAKE",
    "CAMERA_MODEL",
    "SECRET_TITLE",
    "SECRET_LOCATION",
    "VideoSpec",
    "encoder_available",
    "camera_jpeg",
    "camera_exif_bytes",
    "split_picture",
    "encode_picture",
    "srgb_icc",
    "png_bomb",
    "jpeg_with_declared_size",
    "gif_with_declared_size",
    "heic_header",
    "make_video",
    "make_audio_only_m4a",
    "make_wav",
    "top_level_boxes",
    "mean_colour",
    "corrupt_moov",
]

RED = (220, 20, 20)
BLUE = (20, 20, 220)
GREEN = (20, 200, 20)
BLACK = (0, 0, 0)
CAMERA_MAKE = "SecretCam"
CAMERA_MODEL = "Model X-9000"
SECRET_XMP = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>xmp-secret-creator</x:xmpmeta>"
SECRET_COMMENT = b"comment-secret"
SECRET_TITLE = "title-secret"
SECRET_LOCATION = "+52.3676+004.9041/"
GPS_LATITUDE = (52.0, 22.0, 3.5)


def encoder_available(name: str) -> bool:
    """Whether PyAV's bundled FFmpeg can encode with `name`."""
    try:
        av.codec.Codec(name, "w")
    except av.FFmpegError:
        return False
    return True


def split_picture(size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]):
    """An image whose left half and right half have different colours (to check rotation)."""
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def srgb_icc() -> bytes:
    """An embeddable ICC profile."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _camera_exif(orientation: int) -> Image.Exif:
    """EXIF as a phone writes it: make, model, orientation and a GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    exif[ExifTags.Base.Model] = CAMERA_MODEL
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: GPS_LATITUDE, 3: "E", 4: (4.0, 53.0, 1.0)}
    return exif


def camera_exif_bytes(orientation: int = 1) -> bytes:
    """Serialized camera EXIF, for formats that take raw EXIF bytes."""
    return _camera_exif(orientation).tobytes()


def camera_jpeg(image: Image.Image, orientation: int = 1, quality: int = 90) -> bytes:
    """A JPEG with EXIF (camera, GPS, orientation), XMP, a comment and an ICC profile."""
    buffer = io.BytesIO()
    image.save(
        buffer,
        "JPEG",
        quality=quality,
        exif=_camera_exif(orientation),
        xmp=SECRET_XMP,
        comment=SECRET_COMMENT,
        icc_profile=srgb_icc(),
    )
    return buffer.getvalue()


def encode_picture(image: Image.Image, fmt: str, **options: object) -> bytes:
    """Any Pillow-writable format."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk with a correct CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes declaring a gigantic picture."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_with_declared_size(width: int, height: int) -> bytes:
    """A small JPEG whose SOF marker is patched to claim other dimensions."""
    data = bytearray(encode_picture(Image.new("RGB", (16, 16), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_with_declared_size(width: int, height: int) -> bytes:
    """A GIF whose logical screen and frame descriptor claim huge dimensions."""
    data = bytearray(encode_picture(Image.new("P", (16, 16), 1), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    descriptor = data.index(b"\x2c", 13)
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def heic_header() -> bytes:
    """The start of an iPhone HEIC photo (ftyp brands), enough for content sniffing."""
    ftyp = struct.pack(">I4s4sI", 24, b"ftyp", b"heic", 0) + b"mif1heic"
    meta = struct.pack(">I4s", 40, b"meta") + bytes(32)
    return ftyp + meta


@dataclass(frozen=True)
class VideoSpec:
    """What make_video should produce."""

    codec: str = "libx264"
    container: str = "mp4"
    size: tuple[int, int] = (64, 48)
    fps: int = 10
    seconds: float = 2.0
    audio: bool = True
    audio_codec: str = "aac"
    audio_layout: str = "stereo"
    audio_rate: int = 48000
    black_frames: int = 0
    colours: tuple[tuple[int, int, int], tuple[int, int, int]] = (RED, BLUE)
    rotation_ccw: int | None = None
    metadata: bool = True
    container_options: dict[str, str] = field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        """Frames in the clip."""
        return max(1, round(self.seconds * self.fps))


def make_video(spec: VideoSpec) -> bytes:
    """An encoded clip: split-colour frames (optionally black first), optional sine audio."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=spec.container, options=spec.container_options) as output:
        _add_metadata(output, spec)
        video = _video_stream(output, spec)
        audio = _audio_stream(output, spec)
        _write_video(output, video, spec)
        if audio is not None:
            _write_audio(output, audio, spec)
    return buffer.getvalue()


def _add_metadata(output: OutputContainer, spec: VideoSpec) -> None:
    """Tags a phone would add and a story must not leak."""
    if spec.metadata:
        output.metadata["title"] = SECRET_TITLE
        output.metadata["location"] = SECRET_LOCATION
        output.metadata["creation_time"] = "2024-05-01T12:00:00.000000Z"
        output.metadata["comment"] = SECRET_COMMENT.decode()


def _video_stream(output: OutputContainer, spec: VideoSpec) -> VideoStream:
    """The video stream, pixel format chosen for the codec."""
    stream = output.add_stream(spec.codec, rate=spec.fps)
    stream.width, stream.height = spec.size
    formats = stream.codec_context.codec.video_formats or ()
    names = [fmt.name for fmt in formats]
    stream.pix_fmt = "yuv420p" if "yuv420p" in names else names[0]
    if spec.codec == "mjpeg":
        stream.codec_context.color_range = 2  # JPEG (full) range, which MJPEG requires
    if spec.metadata:
        stream.metadata["handler_name"] = "SecretCam Video Handler"
        stream.metadata["creation_time"] = "2024-05-01T12:00:00.000000Z"
    if spec.rotation_ccw is not None:
        stream.set_display_rotation(spec.rotation_ccw)
    return stream


def _frames(spec: VideoSpec) -> Iterator[Image.Image]:
    """Black frames first, then the split-colour picture."""
    for index in range(spec.frame_count):
        if index < spec.black_frames:
            yield Image.new("RGB", spec.size, BLACK)
        else:
            yield split_picture(spec.size, *spec.colours)


def _write_video(output: OutputContainer, stream: VideoStream, spec: VideoSpec) -> None:
    """Encode every frame and flush."""
    for index, picture in enumerate(_frames(spec)):
        frame = av.VideoFrame.from_image(picture)
        frame.pts = index
        frame.time_base = Fraction(1, spec.fps)
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)


def _audio_stream(output: OutputContainer, spec: VideoSpec):
    """A stereo 48 kHz audio stream, or None."""
    if not spec.audio:
        return None
    return output.add_stream(spec.audio_codec, rate=spec.audio_rate, layout=spec.audio_layout)


def _write_audio(output: OutputContainer, stream, spec: VideoSpec) -> None:
    """A quiet square-ish tone for the clip's duration."""
    samples_per_frame = 1024
    tone = struct.pack("<f", 0.1) * 24 + struct.pack("<f", -0.1) * 24
    for index in range(int(spec.seconds * spec.audio_rate / samples_per_frame)):
        frame = av.AudioFrame(format="fltp", layout=spec.audio_layout, samples=samples_per_frame)
        for plane in frame.planes:
            plane.update((tone * (plane.buffer_size // len(tone) + 1))[: plane.buffer_size])
        frame.sample_rate = spec.audio_rate
        frame.pts = index * samples_per_frame
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)


def make_audio_only_m4a(seconds: float = 1.0) -> bytes:
    """An .m4a voice note: ISO BMFF like a video, but with sound only."""
    buffer = io.BytesIO()
    spec = VideoSpec(seconds=seconds)
    with av.open(buffer, "w", format="mp4") as output:
        _write_audio(output, _audio_stream(output, spec), spec)
    return buffer.getvalue()


def make_wav(seconds: float = 0.5) -> bytes:
    """A WAV file of silence."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as output:
        stream = output.add_stream("pcm_s16le", rate=48000, layout="stereo")
        frame = av.AudioFrame(format="s16", layout="stereo", samples=int(seconds * 48000))
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        frame.sample_rate = 48000
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return buffer.getvalue()


def top_level_boxes(data: bytes) -> list[bytes]:
    """Types of the top-level ISO BMFF boxes, in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind)
        offset += size if size else len(data)
    return boxes


def corrupt_moov(data: bytes, seed: int = 7) -> bytes:
    """Keep the box layout but fill the movie index with noise."""
    start = data.index(b"moov") - 4
    size = struct.unpack(">I", data[start : start + 4])[0]
    noise = random.Random(seed).randbytes(size - 8)
    return data[: start + 8] + noise + data[start + size :]


def mean_colour(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    """Average RGB inside `box`."""
    return tuple(ImageStat.Stat(image.convert("RGB").crop(box)).mean)
