"""Opaque page cursors, signed so they only work for the caller and list they were issued for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import orjson

from gateway.problems import bad_request

__all__ = ["CursorSigner"]

MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    """Seals a position with an HMAC over (caller, resource, position); the rest is refused."""

    def __init__(self, secret: bytes):
        # A key of its own, so a cursor MAC can never double as a token signature.
        self._key = hmac.new(secret, b"stories cursor key", hashlib.sha256).digest()

    def _mac(self, user_id: str, resource: str, payload: str) -> bytes:
        message = f"{user_id}\x00{resource}\x00{payload}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:MAC_BYTES]

    def seal(self, user_id: str, resource: str, position: list[Any]) -> str:
        """A cursor for `position` in `resource`, usable only by `user_id`."""
        payload = _b64(orjson.dumps(position))
        return f"{payload}.{_b64(self._mac(user_id, resource, payload))}"

    def open(self, cursor: str, user_id: str, resource: str) -> list[Any]:
        """The position sealed in `cursor`; a forged, altered or foreign cursor is a 400."""
        payload, _, mac = cursor.partition(".")
        try:
            expected = self._mac(user_id, resource, payload)
            if not hmac.compare_digest(_unb64(mac), expected):
                raise ValueError("bad signature")
            position = orjson.loads(_unb64(payload))
        except (ValueError, binascii.Error, orjson.JSONDecodeError):
            raise bad_request("cursor", "not a cursor this list issued to you") from None
        if not isinstance(position, list):
            raise bad_request("cursor", "not a cursor this list issued to you")
        return position
