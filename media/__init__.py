"""Media processing for stories: renditions of uploaded photos and videos, and their encryption."""

from media.crypto import MediaDecryptError, decrypt_blob, encrypt_blob, new_media_key
from media.model import (
    DEFAULT_LIMITS,
    FULL_VIDEO,
    LOW_VIDEO,
    MediaLimits,
    ProcessedMedia,
    Rendition,
    VideoProfile,
)
from media.processing import identify_upload, process_upload
from media.rejections import MediaRejectedError, RejectionCode
from media.sniff import SourceFormat

__all__ = [
    "process_upload",
    "identify_upload",
    "MediaLimits",
    "DEFAULT_LIMITS",
    "VideoProfile",
    "FULL_VIDEO",
    "LOW_VIDEO",
    "ProcessedMedia",
    "Rendition",
    "MediaRejectedError",
    "RejectionCode",
    "SourceFormat",
    "MediaDecryptError",
    "new_media_key",
    "encrypt_blob",
    "decrypt_blob",
]
