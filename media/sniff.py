"""Identify an upload from its bytes alone and spot files that were cut short.

File names and claimed content types are attacker-controlled, so they are never consulted:
the first bytes decide which decoder may look at the file, and only that one is used.
"""

from __future__ import annotations

import struct
from enum import StrEnum
from typing import BinaryIO

from media.model import MediaKind
from media.rejections import RejectionCode, reject

__all__ = ["SourceFormat", "HEAD_BYTES", "sniff", "check_complete"]

HEAD_BYTES = 256
_MAX_TOP_LEVEL_BOXES = 10_000


class SourceFormat(StrEnum):
    """Container formats recognised from content; `kind` says which pipeline handles each."""

    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    AVIF = "avif"
    HEIF = "heif"
    ISO_BMFF = "iso-bmff"
    MATROSKA = "matroska"
    AVI = "avi"
    AUDIO = "audio"

    @property
    def kind(self) -> MediaKind | None:
        """IMAGE or VIDEO, or None for formats that can never be a story."""
        if self in _IMAGE_FORMATS:
            return "IMAGE"
        if self in _VIDEO_FORMATS:
            return "VIDEO"
        return None


_IMAGE_FORMATS = frozenset(
    {
        SourceFormat.JPEG,
        SourceFormat.PNG,
        SourceFormat.GIF,
        SourceFormat.WEBP,
        SourceFormat.AVIF,
        SourceFormat.HEIF,
    }
)
_VIDEO_FORMATS = frozenset({SourceFormat.ISO_BMFF, SourceFormat.MATROSKA, SourceFormat.AVI})

_PREFIXES: tuple[tuple[bytes, SourceFormat], ...] = (
    (b"\xff\xd8\xff", SourceFormat.JPEG),
    (b"\x89PNG\r\n\x1a\n", SourceFormat.PNG),
    (b"GIF87a", SourceFormat.GIF),
    (b"GIF89a", SourceFormat.GIF),
    (b"\x1a\x45\xdf\xa3", SourceFormat.MATROSKA),
    (b"ID3", SourceFormat.AUDIO),
    (b"fLaC", SourceFormat.AUDIO),
    (b"#!AMR", SourceFormat.AUDIO),
)
_RIFF_TYPES = {b"WEBP": SourceFormat.WEBP, b"AVI ": SourceFormat.AVI, b"WAVE": SourceFormat.AUDIO}
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_IMAGE_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
# QuickTime files written before the ftyp box existed start straight with one of these.
_BARE_QUICKTIME_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


def sniff(head: bytes) -> SourceFormat | None:
    """The format the leading bytes prove, or None when they match nothing we accept."""
    for prefix, source_format in _PREFIXES:
        if head.startswith(prefix):
            return source_format
    if head.startswith(b"RIFF"):
        return _RIFF_TYPES.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _iso_bmff_format(head)
    if head[4:8] in _BARE_QUICKTIME_BOXES:
        return SourceFormat.ISO_BMFF
    return SourceFormat.AUDIO if _is_mpeg_audio(head) else None


def _is_mpeg_audio(head: bytes) -> bool:
    """MP3 and ADTS AAC frames start with an 11-bit sync word (JPEG's FFD8 does not match)."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def _iso_bmff_format(head: bytes) -> SourceFormat:
    """Photos (HEIF, AVIF) and videos share ISO BMFF; the brands in `ftyp` tell them apart."""
    brands = _ftyp_brands(head)
    major = brands[0] if brands else b""
    if major in _AVIF_BRANDS or (major in _GENERIC_IMAGE_BRANDS and _AVIF_BRANDS & set(brands)):
        return SourceFormat.AVIF
    if major in _HEIF_BRANDS or major in _GENERIC_IMAGE_BRANDS:
        return SourceFormat.HEIF
    return SourceFormat.ISO_BMFF


def _ftyp_brands(head: bytes) -> list[bytes]:
    """Major brand followed by the compatible brands that fit in the sniffed head."""
    box_size = struct.unpack(">I", head[:4])[0]
    body = head[8 : min(box_size, len(head))]
    compatible = body[8:]
    brands = [body[:4]] + [compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4)]
    return [brand for brand in brands if len(brand) == 4]


def check_complete(source_format: SourceFormat, stream: BinaryIO, size: int) -> None:
    """Reject uploads whose container structure says bytes are missing, before decoding."""
    if source_format is SourceFormat.ISO_BMFF:
        _check_iso_bmff(stream, size)
    elif source_format is SourceFormat.MATROSKA:
        _check_matroska(stream, size)
    elif source_format in (SourceFormat.WEBP, SourceFormat.AVI):
        _check_riff(stream, size)


def _check_iso_bmff(stream: BinaryIO, size: int) -> None:
    """Every top-level box must fit in the file, and a playable movie needs its moov index."""
    offset, boxes, has_moov = 0, 0, False
    while offset < size:
        boxes += 1
        if boxes > _MAX_TOP_LEVEL_BOXES:
            raise reject(RejectionCode.CORRUPT)
        box_type, box_size = _read_box_header(stream, offset, size)
        has_moov = has_moov or box_type == b"moov"
        offset += box_size
    if not has_moov:
        raise reject(RejectionCode.TRUNCATED)


def _read_box_header(stream: BinaryIO, offset: int, size: int) -> tuple[bytes, int]:
    """Type and total size of the box at `offset`, validated against the file size."""
    stream.seek(offset)
    header = stream.read(16)
    if len(header) < 8:
        raise reject(RejectionCode.TRUNCATED)
    declared, box_type = struct.unpack(">I4s", header[:8])
    box_size, header_size = _box_size(declared, header, size - offset)
    if box_size < header_size:
        raise reject(RejectionCode.CORRUPT)
    if box_size > size - offset:
        raise reject(RejectionCode.TRUNCATED)
    return box_type, box_size


def _box_size(declared: int, header: bytes, remaining: int) -> tuple[int, int]:
    """Resolve the 64-bit and to-end-of-file size encodings: (box size, header size)."""
    if declared == 1:
        if len(header) < 16:
            raise reject(RejectionCode.TRUNCATED)
        return struct.unpack(">Q", header[8:16])[0], 16
    if declared == 0:
        return remaining, 8
    return declared, 8


def _check_riff(stream: BinaryIO, size: int) -> None:
    """RIFF states its payload size up front; fewer bytes than that means a cut upload."""
    stream.seek(4)
    declared = stream.read(4)
    if len(declared) < 4 or 8 + struct.unpack("<I", declared)[0] > size:
        raise reject(RejectionCode.TRUNCATED)


_EBML_SEGMENT_ID = b"\x18\x53\x80\x67"


def _check_matroska(stream: BinaryIO, size: int) -> None:
    """A Segment of known size must fit; live recordings use 'unknown size' and pass."""
    stream.seek(4)
    header_size, header_len, _ = _read_vint(stream)
    segment_offset = 4 + header_len + header_size
    stream.seek(segment_offset)
    if stream.read(4) != _EBML_SEGMENT_ID:
        return
    segment_size, segment_len, unknown = _read_vint(stream)
    if not unknown and segment_offset + 4 + segment_len + segment_size > size:
        raise reject(RejectionCode.TRUNCATED)


def _read_vint(stream: BinaryIO) -> tuple[int, int, bool]:
    """An EBML variable-length integer: (value, encoded length, whether it means 'unknown')."""
    first = stream.read(1)
    if not first or first[0] == 0:
        raise reject(RejectionCode.TRUNCATED if not first else RejectionCode.CORRUPT)
    length = 9 - first[0].bit_length()
    rest = stream.read(length - 1)
    if len(rest) < length - 1:
        raise reject(RejectionCode.TRUNCATED)
    value = int.from_bytes(bytes([first[0] & (0xFF >> length)]) + rest, "big")
    return value, length, value == (1 << (7 * length)) - 1
