"""Cassandra: the CQL server standing in for ScyllaDB, from the jars of infra/cassandra/pom.xml.

One node per contact point in `STORIES_CQL_HOSTS`: one for the single-node stack, three for the
local cluster, each on its own loopback address with the same ports. The first node is the
seed; each later one starts only once the node before it serves CQL, since nodes joining a ring
at the same time collide.
"""

from __future__ import annotations

from functools import partial

from pydantic import SecretStr
from rich.console import Console

from core.settings import Settings
from infra.stack.files import INFRA_DIR, fetch_jars, jvm_options, render
from infra.stack.processes import java
from infra.stack.service import Service, StackError
from infra.stack.state import Dirs

__all__ = ["SERVICE", "services", "endpoint", "command", "probe", "users", "initial_token"]

# Cassandra mlockall()s the heap committed at start-up when it runs as root: a small -Xms keeps
# an idle node from pinning the whole 1 GiB.
HEAP = ("-Xms256m", "-Xmx1g")
CLUSTER_HEAP = ("-Xms256m", "-Xmx768m")  # three nodes on one box
# A joining node waits this long for gossip to settle (30 s by default): enough on loopback.
CLUSTER_FLAGS = ("-Dcassandra.ring_delay_ms=5000",)
START_TIMEOUT_S = 240.0
TOKEN_SPACE = 2**64  # Murmur3 tokens run from -2**63 to 2**63 - 1
# Cassandra creates this superuser on a cluster's first start with authentication on.
DEFAULT_SUPERUSER = ("cassandra", "cassandra")


def services(settings: Settings) -> list[Service]:
    """`cassandra` for one node; `cassandra-1` … `cassandra-n` for a cluster, each after the
    last; then, with a CQL user set, the `cassandra-auth` step that creates it."""
    total = len(settings.cql_contact_points)
    nodes = [SERVICE] if total == 1 else [
        _node_service(number, f"cassandra-{number}",
                      after=() if number == 1 else (f"cassandra-{number - 1}",))
        for number in range(1, total + 1)]
    if not settings.cql_username:
        return nodes
    return [*nodes, Service("cassandra-auth", endpoint, None, users, "system.log",
                            START_TIMEOUT_S, after=(nodes[-1].name,))]


def endpoint(settings: Settings, node: int = 1) -> tuple[str, int]:
    """Where node `node` (the first by default) serves CQL."""
    return settings.cql_contact_points[node - 1], settings.cql_port


def initial_token(node: int, total: int) -> int:
    """Node `node`'s one token: the ring split evenly, so each node owns as much as the others."""
    return -(2**63) + (node - 1) * (TOKEN_SPACE // total)


def command(settings: Settings, dirs: Dirs, console: Console, node: int = 1) -> list[str]:
    """The node's command line, its jars fetched and its configuration rendered."""
    lib = fetch_jars("cassandra", dirs, console)
    host, port = endpoint(settings, node)
    total = len(settings.cql_contact_points)
    config = render(
        "cassandra", "cassandra.yaml", dirs.conf / "cassandra.yaml",
        host=host, seed=settings.cql_contact_points[0], cql_port=port,
        storage_port=settings.cql_storage_port, data_dir=dirs.data,
        initial_token=0 if total == 1 else initial_token(node, total),
        hinted_handoff="true" if total > 1 else "false",
        authenticator="PasswordAuthenticator" if settings.cql_username else "AllowAllAuthenticator",
        authorizer="CassandraAuthorizer" if settings.cql_username else "AllowAllAuthorizer",
    )  # fmt: skip
    logback = render("cassandra", "logback.xml", dirs.conf / "logback.xml", log_file=dirs.logs / "system.log")
    triggers = dirs.conf / "triggers"  # Cassandra warns every minute when it is missing
    triggers.mkdir(exist_ok=True)
    jamm = next(lib.glob("jamm-*.jar"), None)
    if jamm is None:
        raise StackError(dirs.name, f"no jamm-*.jar in {lib}: delete that folder to refetch it")
    sizing = HEAP if total == 1 else (*CLUSTER_HEAP, *CLUSTER_FLAGS)
    return [
        java("cassandra"), *sizing,
        *jvm_options(INFRA_DIR / "cassandra" / "jvm-options.conf"),
        f"-javaagent:{jamm}",  # Cassandra measures its memtables with it
        f"-Dcassandra.config={config.as_uri()}",
        f"-Dcassandra.storagedir={dirs.data}", f"-Dcassandra.logdir={dirs.logs}",
        f"-Dcassandra.triggers_dir={triggers}",
        f"-Dlogback.configurationFile={logback.as_uri()}",
        "-cp", str(lib / "*"), "org.apache.cassandra.service.CassandraDaemon",
    ]  # fmt: skip


def probe(settings: Settings, node: int = 1) -> str:
    """Ready once this node answers a CQL query itself (as the configured user, over TLS when
    configured); reports its release and, on a cluster, how many peers it sees. A node that
    refuses a user the `cassandra-auth` step has not created yet serves CQL too."""
    from cassandra.cluster import ExecutionProfile
    from cassandra.policies import WhiteListRoundRobinPolicy

    from core.clients import cql_cluster

    host, port = endpoint(settings, node)
    # Only this node: the probe asks whether it has joined, not whether the cluster answers.
    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([host]),
                               request_timeout=5)
    cluster = cql_cluster(settings.model_copy(update={"cql_hosts": host}), profile,
                          connect_timeout=3, control_connection_timeout=3)
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
        peers = len(list(session.execute("SELECT peer FROM system.peers")))
    except Exception as error:
        if settings.cql_username and _refused_login(error):
            return f"serving CQL; user {settings.cql_username} not created yet"
        raise
    finally:
        cluster.shutdown()
    total = len(settings.cql_contact_points)
    return f"release {row.release_version}" + ("" if total == 1 else f", {peers} peers")


def _refused_login(error: Exception) -> bool:
    from cassandra import AuthenticationFailed
    from cassandra.cluster import NoHostAvailable

    return isinstance(error, NoHostAvailable) and any(
        isinstance(reason, AuthenticationFailed) for reason in error.errors.values())


def users(settings: Settings) -> str:
    """The `cassandra-auth` step: `system_auth` replicated like the read models (or losing one
    node breaks logins), and the configured user, a superuser, created by the built-in
    `cassandra` superuser the first time. Ready once the configured user logs in."""
    from core.clients import cql_cluster

    try:
        cluster = cql_cluster(settings, connect_timeout=5, control_connection_timeout=5)
        cluster.connect().shutdown()
        cluster.shutdown()
        return f"user {settings.cql_username} logs in; system_auth {settings.cql_replication}"
    except Exception as error:
        if not _refused_login(error):
            raise
    built_in = settings.model_copy(update={"cql_username": DEFAULT_SUPERUSER[0],
                                           "cql_password": SecretStr(DEFAULT_SUPERUSER[1])})
    role = '"' + settings.cql_username.replace('"', '""') + '"'  # a quoted CQL name
    cluster = cql_cluster(built_in, connect_timeout=5, control_connection_timeout=5)
    try:
        session = cluster.connect()
        session.execute(f"ALTER KEYSPACE system_auth WITH replication = {settings.cql_replication}")
        session.execute(
            f"CREATE ROLE IF NOT EXISTS {role} WITH PASSWORD = %s"
            " AND LOGIN = true AND SUPERUSER = true",
            (settings.cql_password.get_secret_value(),))
    finally:
        cluster.shutdown()
    raise RuntimeError(f"user {settings.cql_username} created; logging in next")


def _node_service(node: int, name: str, after: tuple[str, ...] = ()) -> Service:
    return Service(name, partial(endpoint, node=node), partial(command, node=node),
                   partial(probe, node=node), "system.log", START_TIMEOUT_S, after)


SERVICE = _node_service(1, "cassandra")
