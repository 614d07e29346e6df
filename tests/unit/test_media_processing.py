"""Rules of the media pipeline, each proven on uploads generated in the test itself."""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageStat

from media import (
    MediaLimits,
    MediaRejectedError,
    ProcessedMedia,
    RejectionCode,
    SourceFormat,
    identify_upload,
    process_upload,
)
from tests.unit.media_samples import (
    BLACK,
    BLUE,
    CAMERA_MAKE,
    CAMERA_MODEL,
    GREEN,
    RED,
    SECRET_COMMENT,
    SECRET_LOCATION,
    SECRET_TITLE,
    VideoSpec,
    camera_exif_bytes,
    camera_jpeg,
    corrupt_moov,
    encode_picture,
    encoder_available,
    gif_with_declared_size,
    heic_header,
    jpeg_with_declared_size,
    make_audio_only_m4a,
    make_video,
    make_wav,
    mean_colour,
    png_bomb,
    split_picture,
    top_level_boxes,
)

FAST = MediaLimits(x264_preset="ultrafast")


def rejection(data: bytes, limits: MediaLimits = FAST) -> MediaRejectedError:
    """The rejection `data` must produce."""
    with pytest.raises(MediaRejectedError) as caught:
        process_upload(data, limits)
    return caught.value


def open_jpeg(data: bytes) -> Image.Image:
    """A rendition re-opened, asserting it really is a JPEG."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def luma(image: Image.Image) -> float:
    """Mean brightness 0-255."""
    return ImageStat.Stat(image.convert("L")).mean[0]


def close_to(actual: tuple[float, ...], expected: tuple[int, int, int], tolerance: int = 40):
    """Colours survive lossy coding approximately."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- photos -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def camera_photo() -> bytes:
    """A 12 MP-like landscape phone photo with every kind of metadata."""
    return camera_jpeg(split_picture((2400, 1600), RED, BLUE))


@pytest.fixture(scope="module")
def processed_camera_photo(camera_photo: bytes) -> ProcessedMedia:
    return process_upload(camera_photo, FAST)


def test_photo_becomes_full_and_thumbnail_jpegs(processed_camera_photo: ProcessedMedia):
    assert processed_camera_photo.kind == "IMAGE"
    assert processed_camera_photo.names == ("full", "thumbnail")
    for rendition in processed_camera_photo.renditions:
        assert rendition.content_type == "image/jpeg"
        assert rendition.duration_ms is None
        assert open_jpeg(rendition.data).size == (rendition.width, rendition.height)


def test_photo_longest_side_is_capped_and_aspect_kept(processed_camera_photo: ProcessedMedia):
    full = processed_camera_photo.rendition("full")
    thumbnail = processed_camera_photo.rendition("thumbnail")
    assert (full.width, full.height) == (1080, 720)
    assert (thumbnail.width, thumbnail.height) == (150, 100)
    assert thumbnail.byte_size < 10_000


def test_photo_metadata_is_gone(camera_photo: bytes, processed_camera_photo: ProcessedMedia):
    source = Image.open(io.BytesIO(camera_photo))
    assert {"exif", "xmp", "icc_profile", "comment"} <= set(source.info)
    for rendition in processed_camera_photo.renditions:
        image = open_jpeg(rendition.data)
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
        assert len(image.getexif()) == 0
        for secret in (CAMERA_MAKE.encode(), CAMERA_MODEL.encode(), SECRET_COMMENT):
            assert secret not in rendition.data
        for marker in (b"Exif\x00", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"GPS"):
            assert marker not in rendition.data


def test_photo_colours_survive(processed_camera_photo: ProcessedMedia):
    image = open_jpeg(processed_camera_photo.rendition("full").data)
    assert close_to(mean_colour(image, (100, 100, 400, 600)), RED)
    assert close_to(mean_colour(image, (700, 100, 1000, 600)), BLUE)


@pytest.mark.parametrize(
    ("orientation", "top", "bottom"),
    [(6, RED, BLUE), (8, BLUE, RED), (3, BLUE, RED), (1, None, None)],
)
def test_exif_orientation_is_applied(orientation: int, top, bottom):
    upload = camera_jpeg(split_picture((400, 200), RED, BLUE), orientation=orientation)
    image = open_jpeg(process_upload(upload, FAST).rendition("full").data)
    if top is None:
        assert image.size == (400, 200)
        return
    if orientation in (6, 8):
        assert image.size == (200, 400)
        assert close_to(mean_colour(image, (20, 20, 180, 180)), top)
        assert close_to(mean_colour(image, (20, 220, 180, 380)), bottom)
    else:
        assert close_to(mean_colour(image, (20, 20, 180, 180)), top)
        assert close_to(mean_colour(image, (220, 20, 380, 180)), bottom)


def test_png_with_transparency_is_flattened_on_white():
    picture = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    picture.paste((20, 200, 20, 255), (0, 0, 150, 200))
    result = process_upload(encode_picture(picture, "PNG"), FAST)
    image = open_jpeg(result.rendition("full").data)
    assert close_to(mean_colour(image, (10, 10, 140, 190)), GREEN)
    assert close_to(mean_colour(image, (160, 10, 290, 190)), (255, 255, 255))


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "P", {}),
        ("PNG", "I;16", {}),
        ("PNG", "LA", {}),
        ("WEBP", "RGB", {"quality": 80, "exif": camera_exif_bytes()}),
        ("JPEG", "CMYK", {}),
        ("JPEG", "L", {}),
        ("GIF", "P", {}),
        ("AVIF", "RGB", {"quality": 60}),
    ],
)
def test_common_photo_formats_and_modes_are_accepted(fmt: str, mode: str, options: dict):
    picture = Image.new("RGB", (1500, 500), (180, 120, 60)).convert(mode)
    result = process_upload(encode_picture(picture, fmt, **options), FAST)
    full = result.rendition("full")
    assert (full.width, full.height) == (1080, 360)
    assert open_jpeg(full.data).mode == "RGB"


def test_animated_gif_keeps_its_first_frame():
    frames = [Image.new("RGB", (120, 80), colour) for colour in (GREEN, RED, BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    image = open_jpeg(process_upload(buffer.getvalue(), FAST).rendition("full").data)
    assert image.size == (120, 80)
    assert close_to(mean_colour(image, (10, 10, 110, 70)), GREEN)


def test_small_photo_is_never_upscaled():
    result = process_upload(encode_picture(Image.new("RGB", (90, 60), RED), "PNG"), FAST)
    assert [(r.width, r.height) for r in result.renditions] == [(90, 60), (90, 60)]


def test_photo_processing_is_deterministic(camera_photo: bytes):
    first, second = process_upload(camera_photo, FAST), process_upload(camera_photo, FAST)
    assert first == second


def test_photo_sizes_follow_configured_limits(camera_photo: bytes):
    limits = MediaLimits(image_max_side=640, thumbnail_max_side=64)
    result = process_upload(camera_photo, limits)
    assert [(r.width, r.height) for r in result.renditions] == [(640, 427), (64, 43)]


# --- decompression bombs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(png_bomb(), id="png-100000x100000"),
        pytest.param(jpeg_with_declared_size(65_000, 65_000), id="jpeg-65000x65000"),
        pytest.param(gif_with_declared_size(65_535, 65_535), id="gif-65535x65535"),
        pytest.param(png_bomb(8000, 7000), id="png-56MP-over-50MP-limit"),
    ],
)
def test_decompression_bombs_are_refused_from_the_header(upload: bytes):
    started = time.perf_counter()
    error = rejection(upload)
    assert error.code == RejectionCode.TOO_MANY_PIXELS
    assert "too big" in error.reason or "too many pixels" in error.reason
    assert time.perf_counter() - started < 1.0


def test_pixel_limit_is_configurable():
    upload = encode_picture(Image.new("RGB", (1000, 1000), RED), "PNG")
    error = rejection(upload, MediaLimits(max_image_pixels=999_999))
    assert error.code == "too_many_pixels"
    assert "1000x1000" in error.reason


# --- what is (not) media ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"Dear diary,\nnot a photo.\n" * 20, "not_media", id="text"),
        pytest.param(b"<!doctype html><html><body><img src=x></body></html>", "not_media", id="html"),
        pytest.param(bytes(range(256)) * 64, "not_media", id="byte-ramp"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "not_media", id="pdf"),
        pytest.param(b"BM" + bytes(100), "not_media", id="bmp"),
        pytest.param(heic_header(), "unsupported_format", id="heic"),
        pytest.param(make_wav(), "audio_only", id="wav"),
        pytest.param(b"ID3\x04\x00" + bytes(100), "audio_only", id="mp3"),
    ],
)
def test_uploads_that_are_not_photos_or_videos(upload: bytes, code: str):
    error = rejection(upload)
    assert error.code == code
    assert error.reason.endswith(".")


def test_random_bytes_are_rejected():
    noise = random.Random(42).randbytes(50_000)
    assert rejection(noise).code == "not_media"


def test_type_comes_from_content_not_from_the_name(tmp_path: Path):
    html_named_jpg = tmp_path / "holiday.jpg"
    html_named_jpg.write_bytes(b"<html><script>alert(1)</script></html>")
    with pytest.raises(MediaRejectedError) as caught:
        process_upload(html_named_jpg, FAST)
    assert caught.value.code == "not_media"
    png_named_mp4 = tmp_path / "clip.mp4"
    png_named_mp4.write_bytes(encode_picture(Image.new("RGB", (30, 20), RED), "PNG"))
    assert process_upload(png_named_mp4, FAST).kind == "IMAGE"


def test_truncated_photos_are_rejected(camera_photo: bytes):
    noisy = encode_picture(Image.effect_noise((300, 300), 60).convert("RGB"), "PNG")
    for upload in (camera_photo[: len(camera_photo) // 2], noisy[: len(noisy) // 2]):
        error = rejection(upload)
        assert error.code == "truncated"
        assert "incomplete" in error.reason


def test_corrupt_photo_is_rejected():
    damaged = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + bytes(200)
    assert rejection(damaged).code in {"corrupt", "truncated"}


def test_photo_size_limit():
    upload = encode_picture(Image.effect_noise((400, 400), 60).convert("RGB"), "PNG")
    error = rejection(upload, MediaLimits(max_image_bytes=len(upload) - 1))
    assert error.code == "too_large"
    assert "Photos" in error.reason


MAGIC_PREFIXES = [
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x00\x01\x00\x00WEBP",
    b"\x1a\x45\xdf\xa3",
    b"\x00\x00\x00\x18ftypisom",
    b"\x00\x00\x00\x18ftypavif",
    b"RIFF\x00\x01\x00\x00AVI ",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(MAGIC_PREFIXES), tail=st.binary(max_size=2048))
def test_hostile_bytes_behind_real_magic_never_crash(prefix: bytes, tail: bytes):
    try:
        process_upload(prefix + tail, FAST)
    except MediaRejectedError as error:
        assert error.code in set(RejectionCode)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_files_never_crash(data: st.DataObject, small_uploads: list[bytes]):
    upload = bytearray(data.draw(st.sampled_from(small_uploads)))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(upload) - 1))
        upload[position] = data.draw(st.integers(0, 255))
    try:
        process_upload(bytes(upload), FAST)
    except MediaRejectedError as error:
        assert error.code in set(RejectionCode)


@pytest.fixture(scope="module")
def small_uploads() -> list[bytes]:
    picture = split_picture((48, 32), RED, BLUE)
    return [
        camera_jpeg(picture),
        encode_picture(picture, "PNG"),
        encode_picture(picture, "WEBP"),
        make_video(VideoSpec(seconds=0.5, size=(32, 32), metadata=False)),
    ]


# --- videos ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phone_clip() -> bytes:
    """2 s of H.264 + AAC in MP4 (moov at the end) with tags a phone would add."""
    return make_video(VideoSpec(size=(160, 120)))


@pytest.fixture(scope="module")
def processed_phone_clip(phone_clip: bytes) -> ProcessedMedia:
    """Processed with the production defaults (x264 'veryfast', High profile)."""
    return process_upload(phone_clip)


def video_streams(data: bytes) -> tuple[av.container.InputContainer, list]:
    container = av.open(io.BytesIO(data))
    return container, list(container.streams)


def test_video_becomes_full_low_and_thumbnail(processed_phone_clip: ProcessedMedia):
    assert processed_phone_clip.kind == "VIDEO"
    assert processed_phone_clip.names == ("full", "low", "thumbnail")
    for name in ("full", "low"):
        rendition = processed_phone_clip.rendition(name)
        assert rendition.content_type == "video/mp4"
        assert 1900 <= (rendition.duration_ms or 0) <= 2100
    thumbnail = processed_phone_clip.rendition("thumbnail")
    assert thumbnail.content_type == "image/jpeg"
    assert open_jpeg(thumbnail.data).size == (thumbnail.width, thumbnail.height)


def test_video_renditions_are_h264_aac_with_moov_first(
    phone_clip: bytes, processed_phone_clip: ProcessedMedia
):
    assert top_level_boxes(phone_clip).index(b"moov") > top_level_boxes(phone_clip).index(b"mdat")
    for name in ("full", "low"):
        data = processed_phone_clip.rendition(name).data
        boxes = top_level_boxes(data)
        assert boxes.index(b"moov") < boxes.index(b"mdat")
        with av.open(io.BytesIO(data)) as container:
            video, audio = container.streams.video[0], container.streams.audio[0]
            assert video.codec_context.name == "h264"
            assert video.codec_context.pix_fmt == "yuv420p"
            assert video.profile == "High"
            assert audio.codec_context.name == "aac"
            assert audio.sample_rate == 48000


def test_video_metadata_is_gone(phone_clip: bytes, processed_phone_clip: ProcessedMedia):
    with av.open(io.BytesIO(phone_clip)) as source:
        assert source.metadata["title"] == SECRET_TITLE
        assert "creation_time" in source.streams.video[0].metadata
    assert source.metadata["location"] == SECRET_LOCATION
    assert b"loci" in phone_clip
    allowed_stream_tags = {"language", "handler_name", "vendor_id"}
    for name in ("full", "low"):
        data = processed_phone_clip.rendition(name).data
        with av.open(io.BytesIO(data)) as container:
            assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
            for stream in container.streams:
                assert set(stream.metadata) <= allowed_stream_tags
                assert stream.metadata.get("handler_name") in {"VideoHandler", "SoundHandler"}
        for secret in (SECRET_TITLE, SECRET_LOCATION, SECRET_COMMENT.decode(), "SecretCam", "Lavf"):
            assert secret.encode() not in data
        assert b"\xa9xyz" not in data
        assert b"loci" not in data


def test_video_thumbnail_is_small_jpeg_without_metadata(processed_phone_clip: ProcessedMedia):
    thumbnail = processed_phone_clip.rendition("thumbnail")
    assert max(thumbnail.width, thumbnail.height) <= 150
    image = open_jpeg(thumbnail.data)
    assert "exif" not in image.info
    assert close_to(mean_colour(image, (5, 5, 60, 90)), RED, tolerance=50)


def test_thumbnail_skips_black_opening_frames():
    clip = make_video(VideoSpec(size=(96, 64), black_frames=8, colours=(GREEN, GREEN)))
    thumbnail = open_jpeg(process_upload(clip, FAST).rendition("thumbnail").data)
    assert luma(thumbnail) > 60
    assert close_to(mean_colour(thumbnail, (10, 10, 86, 54)), GREEN, tolerance=50)


def test_all_black_video_still_gets_a_thumbnail():
    clip = make_video(VideoSpec(size=(64, 48), seconds=1, colours=(BLACK, BLACK), audio=False))
    result = process_upload(clip, FAST)
    assert luma(open_jpeg(result.rendition("thumbnail").data)) < 20
    assert result.names == ("full", "low", "thumbnail")


@pytest.mark.parametrize(
    ("source", "full", "low"),
    [
        pytest.param((1920, 1080), (1280, 720), (854, 480), id="landscape-1080p"),
        pytest.param((1080, 1920), (720, 1280), (480, 854), id="portrait-1080p"),
        pytest.param((1440, 1440), (720, 720), (480, 480), id="square"),
    ],
)
def test_video_renditions_fit_their_boxes(source, full, low):
    clip = make_video(VideoSpec(size=source, fps=5, seconds=0.6, audio=False))
    result = process_upload(clip, FAST)
    assert (result.rendition("full").width, result.rendition("full").height) == full
    assert (result.rendition("low").width, result.rendition("low").height) == low
    thumbnail = result.rendition("thumbnail")
    assert max(thumbnail.width, thumbnail.height) == 150


@pytest.mark.parametrize(
    ("rotation_ccw", "size", "first_half", "second_half"),
    [
        pytest.param(-90, (96, 128), RED, BLUE, id="portrait-phone-90cw"),
        pytest.param(90, (96, 128), BLUE, RED, id="90ccw"),
        pytest.param(180, (128, 96), BLUE, RED, id="upside-down"),
    ],
)
def test_rotation_metadata_is_applied_to_pixels(rotation_ccw, size, first_half, second_half):
    clip = make_video(VideoSpec(size=(128, 96), rotation_ccw=rotation_ccw, seconds=1))
    with av.open(io.BytesIO(clip)) as source:
        assert next(source.decode(video=0)).rotation % 360 == rotation_ccw % 360
    full = process_upload(clip, FAST).rendition("full")
    assert (full.width, full.height) == size
    with av.open(io.BytesIO(full.data)) as container:
        frame = next(container.decode(video=0))
    assert frame.rotation == 0
    picture, (width, height) = frame.to_image(), size
    if width < height:  # halves are now top and bottom
        first, second = (
            (8, 8, width - 8, height // 2 - 8),
            (8, height // 2 + 8, width - 8, height - 8),
        )
    else:
        first, second = (
            (8, 8, width // 2 - 8, height - 8),
            (width // 2 + 8, 8, width - 8, height - 8),
        )
    assert close_to(mean_colour(picture, first), first_half, tolerance=50)
    assert close_to(mean_colour(picture, second), second_half, tolerance=50)


def test_mono_mp3_audio_is_resampled_to_aac():
    spec = VideoSpec(container="matroska", audio_codec="libmp3lame", audio_layout="mono", audio_rate=44100)
    full = process_upload(make_video(spec), FAST).rendition("full")
    with av.open(io.BytesIO(full.data)) as container:
        audio = container.streams.audio[0]
        assert (audio.codec_context.name, audio.sample_rate) == ("aac", 48000)
        assert audio.codec_context.layout.name == "mono"
        assert 1.8 <= float(audio.duration * audio.time_base) <= 2.2


CODEC_MATRIX = [
    ("libx264", "mp4"),
    ("mpeg4", "mp4"),
    ("mpeg4", "avi"),
    ("mjpeg", "avi"),
    ("mjpeg", "matroska"),
    ("libvpx", "webm"),
    ("libvpx-vp9", "webm"),
    ("libx265", "mp4"),
    ("libx264", "mov"),
]


@pytest.mark.parametrize(("codec", "container"), CODEC_MATRIX)
def test_common_video_codecs_are_transcoded(codec: str, container: str):
    if not encoder_available(codec):
        pytest.skip(f"{codec} encoder not in this FFmpeg build")
    audio_codec = "libopus" if container == "webm" else "aac"
    spec = VideoSpec(codec=codec, container=container, size=(96, 64), audio_codec=audio_codec)
    result = process_upload(make_video(spec), FAST)
    full = result.rendition("full")
    assert (full.width, full.height) == (96, 64)
    assert 1800 <= (full.duration_ms or 0) <= 2200
    with av.open(io.BytesIO(full.data)) as output:
        assert output.streams.video[0].codec_context.name == "h264"
        assert output.streams.audio[0].codec_context.name == "aac"


def test_av1_is_decoded_when_available():
    if not encoder_available("libsvtav1"):
        pytest.skip("no AV1 encoder to make a sample with")
    clip = make_video(VideoSpec(codec="libsvtav1", container="mp4", size=(64, 64), seconds=0.5))
    assert process_upload(clip, FAST).rendition("full").width == 64


def test_silent_video_has_no_audio_track():
    result = process_upload(make_video(VideoSpec(audio=False, seconds=1)), FAST)
    with av.open(io.BytesIO(result.rendition("full").data)) as container:
        assert not container.streams.audio


def test_high_frame_rate_is_capped():
    clip = make_video(VideoSpec(fps=60, seconds=1, audio=False, size=(64, 48)))
    full = process_upload(clip, FAST).rendition("full")
    with av.open(io.BytesIO(full.data)) as container:
        assert 28 <= container.streams.video[0].frames <= 31


def test_video_processing_is_deterministic_in_shape(phone_clip: bytes):
    first, second = process_upload(phone_clip, FAST), process_upload(phone_clip, FAST)
    describe = [(r.name, r.width, r.height, r.duration_ms) for r in first.renditions]
    assert describe == [(r.name, r.width, r.height, r.duration_ms) for r in second.renditions]


def test_video_from_a_path(tmp_path: Path, phone_clip: bytes):
    path = tmp_path / "upload.bin"
    path.write_bytes(phone_clip)
    assert process_upload(path, FAST).names == ("full", "low", "thumbnail")


def test_video_over_the_duration_limit_is_refused_from_its_header():
    clip = make_video(VideoSpec(size=(32, 32), fps=1, seconds=62, audio=False))
    started = time.perf_counter()
    error = rejection(clip)
    assert error.code == "too_long"
    assert error.reason == "Videos can be at most 60 seconds long."
    assert time.perf_counter() - started < 1.0


def test_duration_limit_is_configurable(phone_clip: bytes):
    error = rejection(phone_clip, MediaLimits(max_duration_ms=1000, duration_slack_ms=0))
    assert error.code == "too_long"
    assert "1 seconds" in error.reason


def test_duration_is_enforced_while_decoding_when_the_header_is_silent():
    live = VideoSpec(
        codec="libvpx",
        container="webm",
        size=(32, 32),
        seconds=3,
        audio=False,
        container_options={"live": "1"},
    )
    clip = make_video(live)
    with av.open(io.BytesIO(clip)) as container:
        assert container.duration is None
    error = rejection(clip, MediaLimits(max_duration_ms=1500, duration_slack_ms=0))
    assert error.code == "too_long"


def test_video_size_limit(phone_clip: bytes):
    error = rejection(phone_clip, MediaLimits(max_video_bytes=len(phone_clip) - 1))
    assert error.code == "too_large"
    assert "Videos" in error.reason


def test_video_pixel_limit(phone_clip: bytes):
    error = rejection(phone_clip, MediaLimits(max_video_pixels=100 * 100))
    assert error.code == "too_many_pixels"


def test_truncated_videos_are_rejected(phone_clip: bytes):
    webm = make_video(VideoSpec(codec="libvpx", container="webm", audio_codec="libopus"))
    for clip in (phone_clip, webm):
        for cut in (len(clip) // 2, len(clip) - 10):
            error = rejection(clip[:cut])
            assert error.code == "truncated", cut


def test_upload_cut_before_the_trailing_movie_index_is_truncated(phone_clip: bytes):
    moov_at = phone_clip.index(b"moov") - 4
    assert top_level_boxes(phone_clip[:moov_at]) == [b"ftyp", b"free", b"mdat"]
    assert rejection(phone_clip[:moov_at]).code == "truncated"


def test_corrupt_movie_index_is_rejected(processed_phone_clip: ProcessedMedia):
    damaged = corrupt_moov(processed_phone_clip.rendition("full").data)
    assert rejection(damaged).code == "corrupt"


def test_audio_only_m4a_is_refused():
    error = rejection(make_audio_only_m4a())
    assert error.code == "audio_only"
    assert "no picture" in error.reason


def test_unsupported_video_codec_is_refused():
    clip = make_video(VideoSpec(codec="ffv1", container="matroska", audio=False, seconds=0.5))
    error = rejection(clip)
    assert error.code == "unsupported_codec"
    assert "ffv1" in error.reason


def test_identify_upload_checks_without_decoding(phone_clip: bytes):
    assert identify_upload(phone_clip) is SourceFormat.ISO_BMFF
    assert identify_upload(png_bomb()) is SourceFormat.PNG
    with pytest.raises(MediaRejectedError):
        identify_upload(b"plain text")


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match="max_duration_ms"):
        MediaLimits(max_duration_ms=0)
