"""The local cluster's Redis: six cluster-enabled redis-servers, three primaries with a replica
each, on the seed's port (from `STORIES_REDIS_URL`) and the five after it.

`redis-1` … `redis-6` are the processes; `redis-cluster` is the step after them that forms the
cluster on its first start (redis-cli assigns the slots and pairs each primary with a replica)
and is ready once every slot is served and every primary has a connected replica.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from core.clients import TLS_SCHEMES, redis_credentials
from core.settings import Settings
from infra.stack.redis import SLOTS, acl_directives, redis_server
from infra.stack.service import Service, StackError
from infra.stack.state import Dirs, last_lines
from infra.stack.tls import TlsFiles, ensure_tls, redis_tls_arguments

__all__ = ["NODES", "services", "node_endpoint", "node_addresses", "node_client", "cluster_state"]

PRIMARIES = 3
NODES = PRIMARIES * 2  # a replica for each primary
# How long a silent primary stays a primary: short, so a replica takes over within seconds
# even on a loaded box (Redis's default is 15 s).
NODE_TIMEOUT_MS = 5000
FORM_TIMEOUT_S = 60.0


def services(settings: Settings) -> list[Service]:
    """The six nodes, then the step that forms them into a cluster."""
    nodes = [Service(f"redis-{node}", partial(node_endpoint, node=node),
                     partial(_node_command, node=node), partial(_node_probe, node=node),
                     "redis.log", 30.0)
             for node in range(1, NODES + 1)]
    names = tuple(service.name for service in nodes)
    return [*nodes, Service("redis-cluster", partial(node_endpoint, node=1), None, cluster_state,
                            "redis.log", FORM_TIMEOUT_S, after=names)]


def node_endpoint(settings: Settings, node: int) -> tuple[str, int]:
    """Node `node` listens on the seed's port + node - 1."""
    url = urlsplit(settings.redis_url)
    return url.hostname or "127.0.0.1", (url.port or 6379) + node - 1


def node_addresses(settings: Settings) -> list[str]:
    """host:port of every node, the seed first."""
    return [":".join(map(str, node_endpoint(settings, node))) for node in range(1, NODES + 1)]


def _node_config(settings: Settings, dirs: Dirs) -> Path:
    """The node's ACL (the configured user only) and the credentials a replica logs in to its
    primary with, in a file only its owner reads."""
    lines = acl_directives(settings)
    credentials = redis_credentials(settings)
    if credentials is not None:
        lines += [f"masteruser {credentials[0]}", f"masterauth {credentials[1]}"]
    path = dirs.conf / "node.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o600)
    return path


def _tls(settings: Settings) -> TlsFiles | None:
    """With a `rediss+cluster://` URL the nodes serve TLS only (clients, the cluster bus and
    replication), with the stack's throwaway CA, which clients must be told to trust."""
    if urlsplit(settings.redis_url).scheme not in TLS_SCHEMES:
        return None
    files = ensure_tls(Path(settings.state_dir) / "tls", [node_endpoint(settings, 1)[0]])
    if Path(settings.redis_ssl_ca_file or "/") != files.ca_cert:
        raise StackError("redis-cluster", f"the nodes serve TLS with the CA of {files.ca_cert}: "
                                          f"set STORIES_REDIS_SSL_CA_FILE={files.ca_cert}")
    return files


def _listening(settings: Settings, port: int) -> list[str]:
    """The node's client port: TLS only when the URL asks for it."""
    files = _tls(settings)
    if files is None:
        return ["--port", str(port)]
    return ["--port", "0", *redis_tls_arguments(files, port),
            "--tls-cluster", "yes", "--tls-replication", "yes"]


def _node_command(settings: Settings, dirs: Dirs, console: Console, node: int) -> list[str]:
    host, port = node_endpoint(settings, node)
    return [
        redis_server(console), str(_node_config(settings, dirs)), *_listening(settings, port),
        "--bind", host,
        "--cluster-enabled", "yes", "--cluster-config-file", str(dirs.data / "nodes.conf"),
        "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        # While a primary is being replaced, the other primaries' slots keep being served.
        "--cluster-require-full-coverage", "no",
        # Test data only: no snapshots, no append-only file. A killed primary that came back
        # empty before its replica took over would lose its slots' keys: it comes back later
        # than the node timeout, as a replica.
        "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--dir", str(dirs.data), "--logfile", str(dirs.logs / "redis.log"),
    ]  # fmt: skip


def node_client(settings: Settings, node: int) -> Any:
    """A plain client of one node (as the configured user, over TLS when the nodes serve it)."""
    import redis

    host, port = node_endpoint(settings, node)
    user, password = redis_credentials(settings) or (None, None)
    files = _tls(settings)
    tls: dict[str, Any] = {} if files is None else {"ssl": True, "ssl_ca_certs": str(files.ca_cert)}
    return redis.Redis(host=host, port=port, username=user, password=password,
                       socket_connect_timeout=2, socket_timeout=5, decode_responses=True, **tls)


def _node_probe(settings: Settings, node: int) -> str:
    client = node_client(settings, node)
    try:
        version = client.info("server").get("redis_version", "?")
    finally:
        client.close()
    return f"Redis {version}, cluster node"


def cluster_state(settings: Settings) -> str:
    """Form the cluster if no slot is assigned yet; ready once every slot is served by a live
    primary with a connected replica."""
    client = node_client(settings, 1)
    try:
        info = client.cluster("info")
        if int(info.get("cluster_slots_assigned", 0)) == 0:
            _create(settings)
            info = client.cluster("info")
        nodes = client.cluster("nodes")
    finally:
        client.close()
    primaries, replicas = _roles(nodes)
    if info.get("cluster_state") != "ok" or int(info.get("cluster_slots_ok", 0)) != SLOTS:
        raise RuntimeError(f"cluster state {info.get('cluster_state')}, "
                           f"{info.get('cluster_slots_ok')} of {SLOTS} slots served")
    if len(primaries) != PRIMARIES or set(replicas.values()) != primaries:
        raise RuntimeError(f"{len(primaries)} primaries serving slots, "
                           f"{len(set(replicas.values()) & primaries)} with a connected replica")
    return f"cluster ok, {PRIMARIES} primaries with a replica each, {SLOTS} slots"


def _roles(nodes: dict[str, dict[str, object]]) -> tuple[set[str], dict[str, str]]:
    """Ids of the live primaries that serve slots, and each connected replica's primary id."""
    primaries: set[str] = set()
    replicas: dict[str, str] = {}
    for node in nodes.values():
        flags = str(node.get("flags", ""))
        if "fail" in flags or not node.get("connected"):
            continue
        if "master" in flags and node.get("slots"):
            primaries.add(str(node["node_id"]))
        elif "slave" in flags:
            replicas[str(node["node_id"])] = str(node.get("master_id"))
    return primaries, replicas


def _create(settings: Settings) -> None:
    """`redis-cli --cluster create`: slots split over three primaries, one replica each."""
    redis_cli = shutil.which("redis-cli")
    if redis_cli is None:
        raise StackError("redis-cluster", "redis-cli is not installed (Debian: redis-tools)")
    credentials = redis_credentials(settings)
    login = [] if credentials is None else ["--user", credentials[0]]
    files = _tls(settings)
    if files is not None:
        login += ["--tls", "--cacert", str(files.ca_cert)]
    argv = [redis_cli, *login, "--cluster", "create", *node_addresses(settings),
            "--cluster-replicas", "1", "--cluster-yes"]
    # The password through the environment: a command line is visible to every user.
    environment = {**os.environ, "REDISCLI_AUTH": credentials[1]} if credentials else None
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=FORM_TIMEOUT_S, env=environment)
    if result.returncode != 0:
        raise StackError("redis-cluster", "redis-cli could not form the cluster",
                         last_lines(result.stdout + result.stderr))
