"""Tokens of an identity provider: verified with the public keys of its JWKS URL (RS256, ES256,
EdDSA), for this product's issuer and audience; keys rotate without a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from core.settings import Settings
from gateway.auth import TokenVerifier
from gateway.problems import Problem
from tests.jwks_server import AUDIENCE, ISSUER, IdentityProvider, serving


@pytest.fixture
def provider():
    with serving(IdentityProvider()) as served:
        yield served


def settings_for(provider: IdentityProvider, **changes) -> Settings:
    return Settings(**{"environment": "test", "jwt_jwks_url": provider.url, "jwt_issuer": ISSUER,
                       "jwt_audience": AUDIENCE, "jwt_jwks_min_refresh_seconds": 0, **changes})


def user(verifier: TokenVerifier, token: str) -> str:
    return asyncio.run(verifier.user_async(token))


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Problem) as error:
        user(verifier, token)
    assert error.value.status == 401
    return error.value.document.detail


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_a_token_signed_by_a_listed_key_speaks_for_its_subject(provider, algorithm):
    kid = provider.new_key(algorithm)
    assert user(TokenVerifier(settings_for(provider)), provider.token(kid, "ada")) == "ada"


def test_issuer_audience_and_expiry_are_checked(provider):
    kid = provider.new_key()
    verifier = TokenVerifier(settings_for(provider))
    assert refused(verifier, provider.token(kid, iss="https://elsewhere.test/")) == "The token is not valid."
    assert refused(verifier, provider.token(kid, aud="another-api")) == "The token is not valid."
    assert refused(verifier, provider.token(kid, aud=None)) == "The token is not valid."
    expired = provider.token(kid, exp=datetime.now(UTC) - timedelta(seconds=1))
    assert refused(verifier, expired) == "The token has expired."


def test_shared_secret_and_unsigned_tokens_are_refused_in_jwks_mode(provider):
    provider.new_key()
    settings = settings_for(provider)
    verifier = TokenVerifier(settings)
    claims = {"sub": "ada", "iss": ISSUER, "aud": AUDIENCE,
              "exp": datetime.now(UTC) + timedelta(minutes=5)}
    refused(verifier, jwt.encode(claims, settings.jwt_secret.get_secret_value(), "HS256"))
    refused(verifier, jwt.encode(claims, None, algorithm="none"))


def test_a_new_key_is_fetched_when_a_token_names_it_and_a_dropped_one_stops_working(provider):
    old = provider.new_key()
    # Fetched keys trusted for no time: each new token looks at the list again.
    verifier = TokenVerifier(settings_for(provider, jwt_jwks_cache_seconds=0))
    assert user(verifier, provider.token(old, "ada")) == "ada"
    fetches = provider.requests

    new = provider.new_key(serve=False)  # signing with it before the provider lists it
    assert "does not list" in refused(verifier, provider.token(new, "bob"))
    provider.served.append(new)  # rotation: listed next to the old key
    assert user(verifier, provider.token(new, "bob")) == "bob"
    assert provider.requests == fetches + 2

    provider.served.remove(old)  # and the old key retired
    refused(verifier, provider.token(old, "cyd"))


def test_unknown_keys_cannot_make_the_gateway_hammer_the_provider(provider):
    provider.new_key()
    verifier = TokenVerifier(settings_for(provider, jwt_jwks_min_refresh_seconds=60))
    strangers = [provider.new_key(serve=False) for _ in range(5)]
    for kid in strangers:
        refused(verifier, provider.token(kid))
    assert provider.requests == 1


def test_jwks_mode_names_the_settings_it_needs():
    with pytest.raises(ValueError, match="STORIES_JWT_AUDIENCE"):
        Settings(environment="test", jwt_jwks_url="http://127.0.0.1:1/jwks", jwt_issuer=ISSUER)
    with pytest.raises(ValueError, match="STORIES_JWT_ISSUER and STORIES_JWT_AUDIENCE"):
        Settings(environment="test", jwt_jwks_url="http://127.0.0.1:1/jwks")


def test_an_unreachable_provider_keeps_the_keys_fetched_before(provider):
    kid = provider.new_key()
    settings = settings_for(provider, jwt_jwks_cache_seconds=0)
    verifier = TokenVerifier(settings)
    assert user(verifier, provider.token(kid, "ada")) == "ada"
    verifier.keys._client.uri = "http://127.0.0.1:1/unreachable"
    assert user(verifier, provider.token(kid, "bob")) == "bob"
