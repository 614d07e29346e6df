"""Redis: Debian's redis-server, without persistence, installed with apt-get if missing.

Two of them: the stack's Redis, and a one-node Redis Cluster (`cluster-enabled yes`, every
slot assigned to that node) on its own port, for the checks that the key layout is
cluster-safe: it refuses every command whose keys span slots, as a real cluster does.

Both authenticate: the configured ACL user (`STORIES_REDIS_USERNAME`, `STORIES_REDIS_PASSWORD`)
may do everything, and the `default` user, which a client without credentials is, is off.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console

from core.clients import redis_credentials
from core.settings import Settings
from infra.stack.service import Service, StackError
from infra.stack.state import Dirs, last_lines

__all__ = ["SERVICE", "CLUSTER_SERVICE", "endpoint", "command", "probe", "cluster_endpoint",
           "cluster_url", "redis_server", "acl_directives",
           "write_acl_config"]

SLOTS = 16384
# Every Redis service of the stack starts in its own thread; one installs, the others wait.
_INSTALLING = threading.Lock()


def endpoint(settings: Settings) -> tuple[str, int]:
    """Host and port of the Redis URL, 6379 when it names none."""
    url = urlsplit(settings.redis_url)
    return url.hostname or "127.0.0.1", url.port or 6379


def acl_directives(settings: Settings) -> list[str]:
    """redis.conf lines for the credentials clients send: the user may do everything, every
    other user (`default` included) is off; none without a password. The password is given by
    its SHA-256, so no file holds it in clear."""
    credentials = redis_credentials(settings)
    if credentials is None:
        return []
    user, password = credentials
    digest = hashlib.sha256(password.encode()).hexdigest()
    grant = f"user {user} on #{digest} ~* &* +@all"
    return [grant] if user == "default" else ["user default off", grant]


def write_acl_config(settings: Settings, dirs: Dirs, name: str = "acl.conf") -> Path:
    """The ACL directives as a config file redis-server reads first (readable by its owner only)."""
    path = dirs.conf / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in acl_directives(settings)))
    path.chmod(0o600)
    return path


def command(settings: Settings, dirs: Dirs, console: Console) -> list[str]:
    """redis-server's command line: ACL users, no snapshots, its data and log in the state folder."""
    host, port = endpoint(settings)
    acl = write_acl_config(settings, dirs)
    return [
        redis_server(console), str(acl), "--port", str(port), "--bind", host,
        # Test data only: no snapshots, no append-only file.
        "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--dir", str(dirs.data), "--logfile", str(dirs.logs / "redis.log"),
    ]  # fmt: skip


def cluster_endpoint(settings: Settings) -> tuple[str, int]:
    """Host of the stack's Redis, on the cluster's own port."""
    return endpoint(settings)[0], settings.redis_cluster_port


def cluster_url(settings: Settings) -> str:
    """The one-node cluster's URL, in the form `STORIES_REDIS_URL` takes, with the credentials
    of the stack's URL if it carries any (both servers have the same users)."""
    host, port = cluster_endpoint(settings)
    userinfo = urlsplit(settings.redis_url).netloc.rpartition("@")[0]
    return f"redis+cluster://{userinfo + '@' if userinfo else ''}{host}:{port}"


def cluster_command(settings: Settings, dirs: Dirs, console: Console) -> list[str]:
    """A cluster-enabled redis-server with ACL users, its own node file, data and log."""
    host, port = cluster_endpoint(settings)
    acl = write_acl_config(settings, dirs)
    return [
        redis_server(console), str(acl), "--port", str(port), "--bind", host,
        "--cluster-enabled", "yes", "--cluster-config-file", str(dirs.data / "nodes.conf"),
        # A single node: no replica to fail over to, and every slot stays served.
        "--cluster-require-full-coverage", "no",
        "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--dir", str(dirs.data), "--logfile", str(dirs.logs / "redis-cluster.log"),
    ]  # fmt: skip


def cluster_probe(settings: Settings) -> str:
    """Ready once the node owns every slot (assigned here on its first start) and says ok."""
    import redis

    host, port = cluster_endpoint(settings)
    user, password = redis_credentials(settings) or (None, None)
    # A plain client: the cluster-aware one needs the slots this probe may still have to assign.
    client = redis.Redis(host=host, port=port, username=user, password=password,
                         socket_connect_timeout=2, socket_timeout=2)
    try:
        info = client.cluster("info")
        if int(info.get("cluster_slots_assigned", 0)) == 0:
            client.execute_command("CLUSTER ADDSLOTSRANGE", 0, SLOTS - 1)
            info = client.cluster("info")
        if info.get("cluster_state") != "ok":
            raise RuntimeError(f"cluster state {info.get('cluster_state')}")
        version = client.info("server").get("redis_version", "?")
    finally:
        client.close()
    return f"Redis {version}, cluster of one node, {SLOTS} slots"


def redis_server(console: Console) -> str:
    """The redis-server executable, installed with apt-get on the first run if need be."""
    with _INSTALLING:
        return shutil.which("redis-server") or _install_redis_server(console)


def _install_redis_server(console: Console) -> str:
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

    from core.clients import redis_client

    client = redis_client(settings, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    finally:
        client.close()
    return f"Redis {version}"


SERVICE = Service("redis", endpoint, command, probe, "redis.log", 30.0)
CLUSTER_SERVICE = Service("redis-cluster", cluster_endpoint, cluster_command, cluster_probe,
                          "redis-cluster.log", 30.0)
