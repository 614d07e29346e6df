"""Bearer tokens: only a valid, unexpired HS256 token with a user id subject is accepted."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from core.settings import Settings
from gateway.auth import TokenVerifier, bearer_token, issue_token, user_from_token
from gateway.problems import Problem

SETTINGS = Settings(environment="test", jwt_secret="a-test-secret-that-is-long-enough-for-hs512-"
                                                   "signatures-0123456789abcdef")
SECRET = SETTINGS.jwt_secret.get_secret_value()


def claims(**changes) -> dict:
    now = datetime.now(UTC)
    values = {"sub": "ada", "iat": now, "exp": now + timedelta(minutes=5), **changes}
    return {k: v for k, v in values.items() if v is not None}


def refused(token: str) -> Problem:
    with pytest.raises(Problem) as error:
        user_from_token(SETTINGS, token)
    assert error.value.status == 401
    assert error.value.headers["WWW-Authenticate"].startswith("Bearer")
    return error.value


def test_an_issued_token_speaks_for_its_user():
    assert user_from_token(SETTINGS, issue_token(SETTINGS, "ada", 60)) == "ada"


def test_issuing_refuses_ids_that_are_not_user_ids():
    with pytest.raises(ValueError):
        issue_token(SETTINGS, "two words", 60)


def test_expired_tokens_are_refused_with_a_reason():
    token = jwt.encode(claims(exp=datetime.now(UTC) - timedelta(seconds=1)), SECRET)
    assert refused(token).document.detail == "The token has expired."


@pytest.mark.parametrize("token", [
    pytest.param(jwt.encode(claims(), "another-secret-that-is-long-enough-0123456789"), id="wrong secret"),
    pytest.param(jwt.encode(claims(), None, algorithm="none"), id="alg none"),
    pytest.param(jwt.encode(claims(), SECRET, algorithm="HS512"), id="alg HS512"),
    pytest.param(jwt.encode(claims(exp=None), SECRET), id="no exp"),
    pytest.param(jwt.encode(claims(sub=None), SECRET), id="no sub"),
    pytest.param(jwt.encode(claims(sub="a b"), SECRET), id="sub with a space"),
    pytest.param("garbage", id="not a jwt"),
])
def test_anything_else_is_refused(token):
    refused(token)


def test_a_token_signed_with_an_rsa_key_is_refused():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refused(jwt.encode(claims(), key, algorithm="RS256"))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_only_bearer_headers_carry_a_token(header):
    with pytest.raises(Problem):
        bearer_token(header)
    assert bearer_token("bearer xyz") == "xyz"


def test_the_verifier_remembers_good_tokens_but_not_past_their_expiry(monkeypatch):
    verifier = TokenVerifier(SETTINGS)
    token = issue_token(SETTINGS, "ada", 60)
    assert verifier.user(token) == "ada"
    assert verifier.user(token) == "ada"
    monkeypatch.setattr("gateway.auth.time.time", lambda: datetime.now(UTC).timestamp() + 61)
    with pytest.raises(Problem) as expired:
        verifier.user(token)
    assert expired.value.document.detail == "The token has expired."


def test_the_verifier_refuses_what_the_function_refuses():
    with pytest.raises(Problem):
        TokenVerifier(SETTINGS).user(jwt.encode(claims(), None, algorithm="none"))


def test_a_token_may_live_no_longer_than_the_erasure_memory():
    """An erased user's token must expire before the gateway forgets the erasure."""
    limit = SETTINGS.jwt_max_lifetime_seconds
    issued = datetime.now(UTC) - timedelta(days=1)
    within = jwt.encode(claims(iat=issued, exp=issued + timedelta(seconds=limit)), SECRET)
    assert user_from_token(SETTINGS, within) == "ada"
    longer = jwt.encode(claims(iat=issued, exp=issued + timedelta(seconds=limit + 1)), SECRET)
    assert refused(longer).document.detail == (
        f"The token lives longer than this service accepts ({limit} s from its `iat`).")
    no_iat = claims(exp=datetime.now(UTC) + timedelta(seconds=limit + 60))
    del no_iat["iat"]
    assert refused(jwt.encode(no_iat, SECRET)).document.detail.startswith(
        "The token lives longer")
