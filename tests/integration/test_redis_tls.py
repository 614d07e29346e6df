"""A redis-server serving TLS from the throwaway CA's files, as the local cluster runs it: the
project's clients reach it with `rediss://` (single node) or `rediss+cluster://` and the CA file,
as the configured ACL user; a client that does not trust the CA, or speaks plain TCP, is refused."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from core.clients import redis_client, redis_credentials
from core.settings import Settings
from harness.processes import free_port
from infra.stack.redis import SLOTS, acl_directives
from infra.stack.tls import TlsFiles, ensure_tls, redis_tls_arguments

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


@dataclass(frozen=True)
class TlsRedis:
    settings: Settings
    files: TlsFiles


def _acl_arguments(settings: Settings) -> list[str]:
    """The stack's ACL directives as command-line arguments (`user stories on ...`)."""
    return [word for line in acl_directives(settings) for word in ["--" + line.split()[0],
                                                                  *line.split()[1:]]]


def _start(argv: list[str], tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / "redis.log").open("wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)


def _wait_for(client: redis.Redis, process: subprocess.Popen[bytes], tmp_path: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "redis.log").read_text()) from None
            time.sleep(0.1)


@pytest.fixture(params=["single", "cluster"])
def tls_redis(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[TlsRedis]:
    """A TLS-only redis-server (plain port closed) with the configured ACL user; the cluster one
    owns every slot."""
    files = ensure_tls(tmp_path / "tls")
    clustered = request.param == "cluster"
    port = free_port(bus_offset=10000 if clustered else 0)
    argv = ["redis-server", "--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp_path), *redis_tls_arguments(files, port), *_acl_arguments(settings)]
    if clustered:
        argv += ["--cluster-enabled", "yes", "--cluster-config-file", str(tmp_path / "nodes.conf"),
                 "--tls-cluster", "yes", "--cluster-require-full-coverage", "no"]
    process = _start(argv, tmp_path)
    user, password = redis_credentials(settings) or (None, None)
    admin = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(files.ca_cert),
                        username=user, password=password, socket_timeout=5)
    try:
        _wait_for(admin, process, tmp_path)
        if clustered:
            admin.execute_command("CLUSTER ADDSLOTSRANGE", 0, SLOTS - 1)
        scheme = "rediss+cluster" if clustered else "rediss"
        yield TlsRedis(settings.model_copy(update={
            "redis_url": f"{scheme}://127.0.0.1:{port}/0", "redis_ssl_ca_file": str(files.ca_cert),
        }), files)
    finally:
        admin.close()
        process.terminate()
        process.wait(10)


def _round_trip(client: redis.Redis) -> bytes | None:
    key = f"test:tls:{{{uuid.uuid4().hex}}}"
    try:
        client.set(key, "over tls", px=10_000)
        return client.get(key)
    finally:
        client.delete(key)
        client.close()


def test_the_projects_client_talks_tls_with_the_ca(tls_redis: TlsRedis) -> None:
    assert _round_trip(redis_client(tls_redis.settings, socket_timeout=5)) == b"over tls"


def test_a_client_without_the_ca_is_refused(tls_redis: TlsRedis) -> None:
    untrusting = tls_redis.settings.model_copy(update={"redis_ssl_ca_file": ""})  # system CAs only
    # The cluster client wraps what its seed node answered in RedisClusterException.
    with pytest.raises((redis.ConnectionError, redis.RedisClusterException),
                       match="certificate verify failed"):
        redis_client(untrusting, socket_timeout=5).ping()


def test_a_plain_tcp_client_is_refused(tls_redis: TlsRedis) -> None:
    plain = tls_redis.settings.redis_url.replace("rediss+cluster://", "redis://").replace(
        "rediss://", "redis://")
    with pytest.raises((redis.ConnectionError, redis.RedisClusterException)):
        redis_client(tls_redis.settings.model_copy(update={"redis_url": plain}),
                     socket_timeout=2, socket_connect_timeout=2).ping()
