"""Media blobs: AES-256-GCM, versioned, bound to their object key; every misuse fails loudly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.crypto import (
    FORMAT_VERSION,
    KEY_BYTES,
    NONCE_BYTES,
    TAG_BYTES,
    MediaDecryptError,
    _seal,
    decrypt_blob,
    encrypt_blob,
    new_media_key,
    object_key_aad,
)

OBJECT_KEY = object_key_aad("media/story-1/full.mp4")
OTHER_OBJECT_KEY = object_key_aad("media/story-2/full.mp4")
# The vector published in docs/media.md for client implementers.
VECTOR_KEY = bytes(range(32))
VECTOR_NONCE = bytes(range(100, 112))
VECTOR_PLAINTEXT = b"stories"
VECTOR_BLOB = bytes.fromhex("016465666768696a6b6c6d6e6f3b6fb114108c251de96e257107666b39009ce735e35be1")


def test_round_trip():
    key = new_media_key()
    blob = encrypt_blob(key, b"renditions are bytes", OBJECT_KEY)
    assert decrypt_blob(key, blob, OBJECT_KEY) == b"renditions are bytes"


def test_blob_layout_is_version_nonce_ciphertext_tag():
    blob = encrypt_blob(new_media_key(), b"x" * 100, OBJECT_KEY)
    assert blob[0] == FORMAT_VERSION == 1
    assert len(blob) == 1 + NONCE_BYTES + 100 + TAG_BYTES


def test_published_vector():
    blob = _seal(VECTOR_KEY, VECTOR_NONCE, VECTOR_PLAINTEXT, OBJECT_KEY)
    assert blob == VECTOR_BLOB
    assert decrypt_blob(VECTOR_KEY, VECTOR_BLOB, OBJECT_KEY) == VECTOR_PLAINTEXT


def test_keys_are_fresh_256_bit():
    keys = {new_media_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(key) == KEY_BYTES for key in keys)


def test_nonces_are_never_reused():
    key = new_media_key()
    blobs = [encrypt_blob(key, b"same", OBJECT_KEY) for _ in range(200)]
    assert len({blob[1 : 1 + NONCE_BYTES] for blob in blobs}) == 200


def test_wrong_key_fails_clearly():
    blob = encrypt_blob(new_media_key(), b"secret", OBJECT_KEY)
    with pytest.raises(MediaDecryptError, match="authentication failed"):
        decrypt_blob(new_media_key(), blob, OBJECT_KEY)


def test_blob_moved_to_another_object_key_fails():
    key = new_media_key()
    blob = encrypt_blob(key, b"story one", OBJECT_KEY)
    with pytest.raises(MediaDecryptError, match="wrong object key"):
        decrypt_blob(key, blob, OTHER_OBJECT_KEY)


@pytest.mark.parametrize("position", [1, 5, 12, 13, 20, -16, -1])
def test_any_modified_byte_fails(position: int):
    key = new_media_key()
    blob = bytearray(encrypt_blob(key, b"a story frame " * 4, OBJECT_KEY))
    blob[position] ^= 0x01
    with pytest.raises(MediaDecryptError, match="modified blob"):
        decrypt_blob(key, bytes(blob), OBJECT_KEY)


def test_unknown_version_is_refused():
    key = new_media_key()
    blob = bytearray(encrypt_blob(key, b"future", OBJECT_KEY))
    blob[0] = 2
    with pytest.raises(MediaDecryptError, match="version 2"):
        decrypt_blob(key, bytes(blob), OBJECT_KEY)


@pytest.mark.parametrize("length", [0, 1, 13, 28])
def test_truncated_blob_is_refused(length: int):
    key = new_media_key()
    blob = encrypt_blob(key, b"", OBJECT_KEY)
    assert len(blob) == 29
    with pytest.raises(MediaDecryptError, match="too short"):
        decrypt_blob(key, blob[:length], OBJECT_KEY)


def test_cut_off_ciphertext_is_refused():
    key = new_media_key()
    blob = encrypt_blob(key, b"x" * 64, OBJECT_KEY)
    with pytest.raises(MediaDecryptError):
        decrypt_blob(key, blob[:-1], OBJECT_KEY)


def test_keys_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_blob(b"short", b"data", OBJECT_KEY)
    with pytest.raises(MediaDecryptError, match="32 bytes"):
        decrypt_blob(b"k" * 16, b"\x01" + bytes(40), OBJECT_KEY)


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=4096), object_key=st.text(min_size=1, max_size=200))
def test_round_trip_for_any_content_and_object_key(plaintext: bytes, object_key: str):
    key = new_media_key()
    aad = object_key_aad(object_key)
    assert decrypt_blob(key, encrypt_blob(key, plaintext, aad), aad) == plaintext
