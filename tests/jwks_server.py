"""A local identity provider for tests: generated signing keys, their JWKS served over HTTP,
and tokens signed with them. Keys can be added and dropped while it serves (rotation)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://id.example.test/"
AUDIENCE = "stories-api"

_GENERATE = {
    "RS256": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
    "ES256": (lambda: ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
    "EdDSA": (ed25519.Ed25519PrivateKey.generate, OKPAlgorithm),
}


class IdentityProvider:
    """Signing keys by key id; `jwks()` lists the public halves of those being served."""

    def __init__(self) -> None:
        self.private: dict[str, tuple[str, Any]] = {}  # kid -> (algorithm, private key)
        self.served: list[str] = []
        self.requests = 0
        self.url = ""

    def new_key(self, algorithm: str = "RS256", serve: bool = True) -> str:
        generate, _ = _GENERATE[algorithm]
        kid = f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
        self.private[kid] = (algorithm, generate())
        if serve:
            self.served.append(kid)
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.served:
            algorithm, private = self.private[kid]
            jwk = json.loads(_GENERATE[algorithm][1].to_jwk(private.public_key()))
            keys.append({**jwk, "kid": kid, "alg": algorithm, "use": "sig"})
        return {"keys": keys}

    def token(self, kid: str, subject: str = "ada", **claims: Any) -> str:
        algorithm, private = self.private[kid]
        now = datetime.now(UTC)
        values = {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now,
                  "exp": now + timedelta(minutes=5), **claims}
        return jwt.encode({k: v for k, v in values.items() if v is not None}, private,
                          algorithm=algorithm, headers={"kid": kid})


@contextmanager
def serving(provider: IdentityProvider) -> Iterator[IdentityProvider]:
    """The provider's JWKS at `provider.url` for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
