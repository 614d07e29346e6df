"""Bearer tokens: the acting user is always the token's subject, never a request field.

Two modes: tokens of an identity provider, checked with the public keys of its JWKS URL and
for this product's issuer and audience (`STORIES_JWT_JWKS_URL`, gateway/jwks.py); or, for
development, tokens signed with a shared secret (`stories token` issues them).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt

from core.settings import Settings
from gateway.jwks import JwksKeys, UnknownSigningKey, verified_claims
from gateway.problems import unauthorized
from schemas.structure import MAX_ID_CHARS, NOT_IN_IDS

__all__ = ["issue_token", "user_from_token", "bearer_token", "TokenVerifier", "USER_ID_PATTERN"]

# The event catalogue's id rule: 1 to 128 characters, no whitespace or control characters.
USER_ID_PATTERN = rf"^[^{NOT_IN_IDS}]{{1,{MAX_ID_CHARS}}}$"  # the events' id rule
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
    """The user a valid, unexpired shared-secret token speaks for; anything else is a 401."""
    return _subject_and_expiry(settings, _shared_secret_claims(settings, token))[0]


def _shared_secret_claims(settings: Settings, token: str) -> dict:
    try:
        return jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[settings.jwt_algorithm],  # `none`, RS256 and the rest are refused
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("The token has expired.") from None
    except jwt.InvalidTokenError:
        raise unauthorized("The token is not valid.") from None


def _subject_and_expiry(settings: Settings, claims: dict) -> tuple[str, float]:
    """The token's subject and expiry, once its signature and claims check out. A token may
    live at most `jwt_max_lifetime_seconds` (from `iat`; without one, from now): the gateway
    remembers erasures that long, so no token outlives the refusal of its erased user."""
    subject = claims["sub"]
    if not isinstance(subject, str) or not _USER_ID.match(subject):
        raise unauthorized("The token's subject is not a user id.")
    expires = float(claims["exp"])
    issued = claims.get("iat")
    start = float(issued) if isinstance(issued, int | float) else time.time()
    if expires - start > settings.jwt_max_lifetime_seconds:
        raise unauthorized("The token lives longer than this service accepts "
                           f"({settings.jwt_max_lifetime_seconds} s from its `iat`).")
    return subject, expires


class TokenVerifier:
    """Verifies tokens, remembering good ones until they expire (clients resend the same one)."""

    def __init__(self, settings: Settings, max_entries: int = 10_000,
                 refuse: Callable[[str], None] | None = None):
        """`refuse`: raises for a user whose valid tokens are no longer accepted (erased)."""
        self._settings = settings
        self._refuse = refuse
        self._max = max_entries
        self._known: dict[str, tuple[str, float]] = {}
        self.keys = JwksKeys.from_settings(settings) if settings.jwt_jwks_url else None

    async def user_async(self, token: str) -> str:
        """`user`, fetching the provider's keys (off the event loop) when the token needs it;
        an erased user's token is refused."""
        try:
            user = self.user(token)
        except UnknownSigningKey:
            assert self.keys is not None
            await asyncio.to_thread(self.keys.refresh)
            user = self.user(token, fetched=True)
        if self._refuse is not None:
            self._refuse(user)
        return user

    def _claims(self, token: str, fetched: bool) -> dict:
        if self.keys is None:
            return _shared_secret_claims(self._settings, token)
        return verified_claims(self._settings, self.keys, token, fetched)

    def user(self, token: str, fetched: bool = False) -> str:
        """The token's user; the signature is checked once, the expiry on every call. Raises
        UnknownSigningKey when the provider's keys must be fetched first (see `user_async`)."""
        known = self._known.get(token)
        if known is None:
            known = _subject_and_expiry(self._settings, self._claims(token, fetched))
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
