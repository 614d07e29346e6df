"""Per-story media encryption: AES-256-GCM blobs bound to the object key they are stored under.

Each story gets its own random 32-byte key (`new_media_key`); every rendition of the story is
encrypted with it before upload, and viewers receive the key only through authorised APIs.
The same code is the reference client-side decryptor.

Blob format (all integers big-endian, lengths in bytes)::

    offset  length  field
    0       1       version, currently 0x01
    1       12      nonce, random for every blob
    13      n + 16  AES-256-GCM ciphertext of the n plaintext bytes, followed by the 16-byte tag

Associated data (authenticated, not stored) is ``version byte || associated_data`` where the
caller's associated_data is the UTF-8 object key of the blob (see `object_key_aad`).
Decrypting therefore fails if the blob is modified, if the key is wrong, or if a blob is
moved to another object key. To decrypt in another language::

    assert blob[0] == 0x01 and len(blob) >= 29
    plaintext = AES_256_GCM_open(key, nonce=blob[1:13], ciphertext_and_tag=blob[13:],
                                 aad=blob[0:1] + object_key.encode("utf-8"))

docs/media.md carries a test vector.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "FORMAT_VERSION",
    "MediaDecryptError",
    "new_media_key",
    "object_key_aad",
    "encrypt_blob",
    "decrypt_blob",
]

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
FORMAT_VERSION = 1
_HEADER = bytes([FORMAT_VERSION])
_MIN_BLOB = len(_HEADER) + NONCE_BYTES + TAG_BYTES


class MediaDecryptError(Exception):
    """The blob cannot be opened with this key and object key; never returns garbage."""


def new_media_key() -> bytes:
    """A fresh random AES-256 key for one story's media."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def object_key_aad(object_key: str) -> bytes:
    """The associated data that binds a blob to the storage key it lives under."""
    return object_key.encode("utf-8")


def encrypt_blob(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Version byte, random nonce, then ciphertext and tag."""
    return _seal(key, os.urandom(NONCE_BYTES), plaintext, associated_data)


def _seal(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt with an explicit nonce; only tests and the documented vector pass one in."""
    _check_key(key, ValueError)
    sealed = AESGCM(key).encrypt(nonce, plaintext, _HEADER + associated_data)
    return _HEADER + nonce + sealed


def decrypt_blob(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    """The plaintext, or MediaDecryptError saying why the blob was refused."""
    _check_key(key, MediaDecryptError)
    if len(blob) < _MIN_BLOB:
        raise MediaDecryptError(f"blob too short: {len(blob)} bytes, need at least {_MIN_BLOB}")
    if blob[0] != FORMAT_VERSION:
        raise MediaDecryptError(f"unknown blob format version {blob[0]}")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, sealed, _HEADER + associated_data)
    except InvalidTag:
        raise MediaDecryptError(
            "authentication failed: wrong key, modified blob or wrong object key"
        ) from None


def _check_key(key: bytes, error: type[Exception]) -> None:
    """Only AES-256 keys are used for media."""
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise error(f"media keys are {KEY_BYTES} bytes")
