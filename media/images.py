"""Photo pipeline: decode safely, apply orientation, convert to sRGB, re-encode clean JPEGs.

Nothing from the upload survives except pixels: EXIF (GPS, camera make and model), XMP,
comments and ICC profiles are dropped because every output is built from a fresh image.
"""

from __future__ import annotations

import math
from functools import cache
from io import BytesIO

from PIL import Image, ImageCms

from media.model import MediaLimits, ProcessedMedia, Rendition, RenditionName
from media.rejections import (
    DECODER_ERRORS,
    RejectionCode,
    check_pixel_budget,
    reject,
)
from media.sniff import SourceFormat

__all__ = ["process_image", "fit_within", "jpeg_rendition", "encode_jpeg"]

_PIL_FORMATS = {
    SourceFormat.JPEG: "JPEG",
    SourceFormat.PNG: "PNG",
    SourceFormat.GIF: "GIF",
    SourceFormat.WEBP: "WEBP",
    SourceFormat.AVIF: "AVIF",
}
_ORIENTATION_TAG = 0x0112
_TRANSPOSITIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_RESIZABLE_MODES = frozenset({"RGB", "CMYK", "L", "RGBA", "LA"})
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_BACKGROUND = (255, 255, 255)
_HEIF_REASON = "HEIC photos aren't supported yet. Please share the photo as JPEG."


def process_image(data: bytes, source_format: SourceFormat, limits: MediaLimits) -> ProcessedMedia:
    """Full-size and thumbnail JPEGs of the first frame of an uploaded picture."""
    picture, icc_profile = _decode_picture(data, source_format, limits)
    full = _to_srgb(fit_within(picture, limits.image_max_side), icc_profile)
    thumbnail = fit_within(full, limits.thumbnail_max_side)
    renditions = (
        jpeg_rendition("full", full, limits.jpeg_quality),
        jpeg_rendition("thumbnail", thumbnail, limits.thumbnail_quality),
    )
    return ProcessedMedia(kind="IMAGE", renditions=renditions)


def _decode_picture(
    data: bytes, source_format: SourceFormat, limits: MediaLimits
) -> tuple[Image.Image, bytes | None]:
    """Upright pixels in a resizable mode, plus the ICC profile they are encoded in.

    The pixel budget is checked on the header alone, before anything is decoded.
    """
    if source_format not in _PIL_FORMATS:
        raise reject(RejectionCode.UNSUPPORTED_FORMAT, _HEIF_REASON)
    with Image.open(BytesIO(data), formats=[_PIL_FORMATS[source_format]]) as image:
        check_pixel_budget(image.width, image.height, limits.max_image_pixels)
        icc_profile = image.info.get("icc_profile")
        _load_reduced(image, limits.image_max_side)
        return _resizable(_upright(image)), icc_profile


def _load_reduced(image: Image.Image, max_side: int) -> None:
    """Let JPEG decode at 1/2, 1/4 or 1/8 scale when the output is that much smaller."""
    scale = max_side / max(image.size)
    if scale < 1:
        image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation so the picture looks right once the EXIF is gone."""
    transposition = _TRANSPOSITIONS.get(_orientation(image))
    return image.transpose(transposition) if transposition is not None else image


def _orientation(image: Image.Image) -> int:
    """EXIF orientation 1-8; broken EXIF counts as 'as stored' rather than failing the upload."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except DECODER_ERRORS:
        return 1
    return value if isinstance(value, int) else 1


def _resizable(image: Image.Image) -> Image.Image:
    """A mode Pillow resizes well and colour management understands, keeping any alpha."""
    if image.mode in _RESIZABLE_MODES:
        return image
    grey = image.mode in _GREY_MODES
    if image.has_transparency_data:
        return image.convert("LA" if grey else "RGBA")
    return image.convert("L" if grey else "RGB")


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB in sRGB with transparency flattened onto white, ready for JPEG.

    Runs after downscaling, so the colour transform touches as few pixels as possible.
    """
    if image.mode not in ("RGBA", "LA"):
        return _convert_to_srgb(image, icc_profile)
    colour = image.convert(image.mode[:-1])
    return _flatten(_convert_to_srgb(colour, icc_profile), image.getchannel("A"))


def _convert_to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Colour-manage through the embedded profile; a broken profile is treated as sRGB."""
    if not icc_profile:
        return image.convert("RGB")
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode="RGB")
    except DECODER_ERRORS:
        converted = None
    return converted if converted is not None else image.convert("RGB")


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    """The one output colour space; built once per process."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _flatten(image: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """JPEG has no transparency, so transparent areas become white."""
    if alpha is None:
        return image
    canvas = Image.new("RGB", image.size, _BACKGROUND)
    canvas.paste(image, mask=alpha)
    return canvas


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale so the longest side is at most `max_side`; never upscale."""
    scale = min(1.0, max_side / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def jpeg_rendition(name: RenditionName, image: Image.Image, quality: int) -> Rendition:
    """A JPEG rendition of `image`, described by its real size."""
    data = encode_jpeg(image, quality)
    return Rendition(name, "image/jpeg", image.width, image.height, None, data)


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """Baseline JPEG from a fresh image, so no metadata of the source can ride along."""
    clean = Image.new("RGB", image.size)
    clean.paste(image.convert("RGB"))
    buffer = BytesIO()
    clean.save(buffer, format="JPEG", quality=quality, optimize=True, subsampling="4:2:0")
    return buffer.getvalue()
