"""The gateway in JWKS mode, on the real stores: tokens of an identity provider are accepted on
every endpoint, the development secret's are not, and a rotated key works without a restart."""

from __future__ import annotations

from gateway.auth import issue_token
from harness.gateway import gateway_client
from tests.jwks_server import AUDIENCE, ISSUER, IdentityProvider, serving

TRAY = "/api/v1/stories/tray"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_takes_the_identity_providers_tokens(local_stack):
    with serving(IdentityProvider()) as provider:
        settings = local_stack.model_copy(update={
            "jwt_jwks_url": provider.url, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
            "jwt_jwks_min_refresh_seconds": 0})
        first = provider.new_key("ES256")
        with gateway_client(settings) as client:
            answer = client.get(TRAY, headers=bearer(provider.token(first, "ada")))
            assert answer.status_code == 200, answer.text
            assert client.get(TRAY, headers=bearer(issue_token(settings, "ada", 60))
                              ).status_code == 401
            rotated = provider.new_key("RS256")
            assert client.get(TRAY, headers=bearer(provider.token(rotated, "bob"))
                              ).status_code == 200
            wrong_audience = provider.token(rotated, "cyd", aud="another-api")
            refused = client.get(TRAY, headers=bearer(wrong_audience))
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
