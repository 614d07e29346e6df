"""Signing keys of an identity provider, fetched from its JWKS URL and kept by key id.

Rotation needs no restart: a token naming a key id not in the cached set (or arriving after
the cache's lifetime) makes the gateway fetch the set again, at most once per
`jwt_jwks_min_refresh_seconds`, off the event loop. A key the provider dropped is no longer
accepted for new tokens after that fetch. When the provider cannot be reached, the keys last
fetched keep working rather than locking every user out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import jwt

from core.settings import Settings
from gateway.problems import unauthorized

__all__ = ["JwksKeys", "UnknownSigningKey", "verified_claims", "not_listed"]

log = logging.getLogger(__name__)
FETCH_TIMEOUT_SECONDS = 5.0
_REQUIRED_CLAIMS = ["exp", "sub", "iss", "aud"]


class UnknownSigningKey(Exception):
    """The token names a key the cached set lacks, or the set is due: fetch it, then ask again."""


class JwksKeys:
    """The provider's public keys by key id, fetched on demand."""

    def __init__(self, url: str, cache_seconds: float, min_refresh_seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False,
                                       timeout=FETCH_TIMEOUT_SECONDS)
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -math.inf
        self._tried_at = -math.inf
        self._unreachable = False  # the last fetch failed: keep trusting the keys held

    @classmethod
    def from_settings(cls, settings: Settings) -> JwksKeys:
        assert settings.jwt_jwks_url is not None
        return cls(settings.jwt_jwks_url, settings.jwt_jwks_cache_seconds,
                   settings.jwt_jwks_min_refresh_seconds)

    def key(self, key_id: str | None, fetched: bool = False) -> jwt.PyJWK:
        """The key with this id; UnknownSigningKey when a fetch is due first. `fetched`: the
        set was just fetched for this token (what it lacks now, it lacks)."""
        now = self._clock()
        recently_tried = now - self._tried_at < self._min_refresh
        known = self._keys.get(key_id or "")
        fresh = now - self._fetched_at < self._cache_seconds
        if known is not None and (fetched or fresh or recently_tried or self._unreachable):
            return known
        if fetched or recently_tried:
            raise not_listed()
        raise UnknownSigningKey(key_id)

    def refresh(self) -> None:
        """Fetch the set again (blocking: call it off the event loop), unless just fetched."""
        now = self._clock()
        if now - self._tried_at < self._min_refresh:
            return
        self._tried_at = now
        try:
            found = self._client.get_jwk_set(refresh=True)
        except jwt.PyJWKClientError as error:
            log.warning("JWKS not fetched, keeping the %d keys fetched before: %s",
                        len(self._keys), error)
            self._unreachable = True
            return
        self._keys = {key.key_id: key for key in found.keys if key.key_id}
        self._fetched_at, self._unreachable = now, False


def not_listed() -> Exception:
    return unauthorized("The token is signed with a key the identity provider does not list.")


def verified_claims(settings: Settings, keys: JwksKeys, token: str,
                    fetched: bool = False) -> dict[str, Any]:
    """The claims of a token signed by one of the provider's keys, for this issuer and audience
    (`fetched`: as for `JwksKeys.key`)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise unauthorized("The token is not valid.") from None
    algorithm = header.get("alg")
    if algorithm not in settings.jwks_algorithms:
        raise unauthorized("The token is not valid.")
    signing = keys.key(header.get("kid"), fetched)
    if signing.algorithm_name not in (algorithm, None):
        raise unauthorized("The token is not valid.")
    try:
        return jwt.decode(token, signing.key, algorithms=[algorithm],
                          audience=settings.jwt_audience, issuer=settings.jwt_issuer,
                          options={"require": _REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise unauthorized("The token has expired.") from None
    except jwt.InvalidTokenError:
        raise unauthorized("The token is not valid.") from None
