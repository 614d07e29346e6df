"""Redis: Debian's redis-server, without persistence, installed with apt-get if missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import urlsplit

from rich.console import Console

from core.settings import Settings
from infra.stack.service import Service, StackError
from infra.stack.state import Dirs, last_lines

__all__ = ["SERVICE", "endpoint", "command", "probe"]


def endpoint(settings: Settings) -> tuple[str, int]:
    """Host and port of the Redis URL, 6379 when it names none."""
    url = urlsplit(settings.redis_url)
    return url.hostname or "127.0.0.1", url.port or 6379


def command(settings: Settings, dirs: Dirs, console: Console) -> list[str]:
    """redis-server's command line: no snapshots, its data and log in the state folder."""
    host, port = endpoint(settings)
    return [
        _redis_server(console), "--port", str(port), "--bind", host,
        # Test data only: no snapshots, no append-only file.
        "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--dir", str(dirs.data), "--logfile", str(dirs.logs / "redis.log"),
    ]  # fmt: skip


def _redis_server(console: Console) -> str:
    """The redis-server executable, installed with apt-get on the first run if need be."""
    found = shutil.which("redis-server")
    if found:
        return found
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise StackError("redis", "redis-server is not installed and there is no apt-get here")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    console.print("  redis     installing redis-server with apt-get (first run only)")
    for argv in ([*sudo, apt_get, "update"], [*sudo, apt_get, "install", "-y", "redis-server"]):
        result = subprocess.run(
            argv, capture_output=True, text=True, env=environment, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            output = last_lines(result.stdout + result.stderr)
            raise StackError("redis", f"`{' '.join(argv)}` failed", output)
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found is None:
        raise StackError("redis", "apt-get installed redis-server but it is not on PATH")
    return found


def probe(settings: Settings) -> str:
    """Ready once PING answers; reports the server's version."""
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    finally:
        client.close()
    return f"Redis {version}"


SERVICE = Service("redis", endpoint, command, probe, "redis.log", 30.0)
