"""Bearer tokens: the acting user is always the token's subject, never a request field."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import jwt

from core.settings import Settings
from gateway.problems import unauthorized

__all__ = ["issue_token", "user_from_token", "bearer_token", "TokenVerifier", "USER_ID_PATTERN"]

# The event catalogue's id rule: 1 to 128 characters, no whitespace or control characters.
USER_ID_PATTERN = r"^[^\s\x00-\x1f\x7f]{1,128}$"
_USER_ID = re.compile(USER_ID_PATTERN)
_REQUIRED_CLAIMS = ["exp", "sub"]


def issue_token(settings: Settings, user_id: str, ttl_seconds: int) -> str:
    """A signed token for `user_id`, valid for `ttl_seconds` (local use and tests)."""
    if not _USER_ID.match(user_id):
        raise ValueError("a user id is 1 to 128 characters without spaces or control characters")
    now = datetime.now(UTC)
    claims = {"sub": user_id, "iat": now, "exp": now + timedelta(seconds=ttl_seconds)}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), settings.jwt_algorithm)


def user_from_token(settings: Settings, token: str) -> str:
    """The user a valid, unexpired token speaks for; anything else is a 401."""
    return _verified(settings, token)[0]


def _verified(settings: Settings, token: str) -> tuple[str, float]:
    """The token's subject and expiry, once its signature and claims check out."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[settings.jwt_algorithm],  # `none`, RS256 and the rest are refused
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("The token has expired.") from None
    except jwt.InvalidTokenError:
        raise unauthorized("The token is not valid.") from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not _USER_ID.match(subject):
        raise unauthorized("The token's subject is not a user id.")
    return subject, float(claims["exp"])


class TokenVerifier:
    """Verifies tokens, remembering good ones until they expire (clients resend the same one)."""

    def __init__(self, settings: Settings, max_entries: int = 10_000):
        self._settings = settings
        self._max = max_entries
        self._known: dict[str, tuple[str, float]] = {}

    def user(self, token: str) -> str:
        """The token's user; the signature is checked once, the expiry on every call."""
        known = self._known.get(token)
        if known is None:
            known = _verified(self._settings, token)
            if len(self._known) >= self._max:
                self._known = {}
            self._known[token] = known
        if known[1] <= time.time():
            self._known.pop(token, None)
            raise unauthorized("The token has expired.")
        return known[0]


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header."""
    if not authorization:
        raise unauthorized("A bearer token is required.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Use `Authorization: Bearer <token>`.")
    return token.strip()
