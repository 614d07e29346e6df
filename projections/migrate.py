"""Applies the versioned CQL migrations to a keyspace, each exactly once.

Files named `NNNN_name.cql` migrate every read-model version keyspace. A family prefix keeps
other keyspaces' migrations beside them: `media_NNNN_name.cql` migrates the media keyspace,
which holds durable state (story keys) that a replay must never drop.
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from cassandra.cluster import Session

__all__ = [
    "CqlServer",
    "Migration",
    "migrations",
    "cql_server",
    "server_of",
    "create_keyspace",
    "create_keyspace_cql",
    "ensure_keyspace",
    "migrate",
]

log = logging.getLogger(__name__)

MIGRATION_FILE = r"^{family}(\d{{4}})_(\w+)\.cql$"


@dataclass(frozen=True)
class Migration:
    """One versioned schema change."""

    version: int
    name: str
    statements: tuple[str, ...]


def _statements(cql: str) -> tuple[str, ...]:
    """Split a migration into statements, comments dropped."""
    lines = [line for line in cql.splitlines() if not line.lstrip().startswith("--")]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def migrations(family: str = "") -> list[Migration]:
    """Every migration of one family shipped with the package, in version order."""
    pattern = re.compile(MIGRATION_FILE.format(family=re.escape(family)))
    found = []
    for entry in resources.files("projections.migrations").iterdir():
        match = pattern.match(entry.name)
        if match:
            statements = _statements(entry.read_text())
            found.append(Migration(int(match[1]), match[2], statements))
    return sorted(found, key=lambda m: m.version)


@dataclass(frozen=True)
class CqlServer:
    """What the CQL server is, as far as creating keyspaces goes."""

    scylla: bool = False
    tablets: bool = False  # the server knows the `tablets` keyspace option


CASSANDRA = CqlServer()

# `system_schema.scylla_keyspaces` exists only on ScyllaDB, and has the `initial_tablets`
# column only on versions that know tablets. Both servers answer this query (Cassandra with no
# rows), so it tells them apart without relying on version strings or driver internals.
_SCYLLA_KEYSPACE_COLUMNS = (
    "SELECT column_name FROM system_schema.columns"
    " WHERE keyspace_name = 'system_schema' AND table_name = 'scylla_keyspaces'"
)
_servers: weakref.WeakKeyDictionary[object, CqlServer] = weakref.WeakKeyDictionary()


def server_of(columns: set[str]) -> CqlServer:
    """The server, from the columns of `system_schema.scylla_keyspaces` (none: Cassandra)."""
    return CqlServer(scylla=bool(columns), tablets="initial_tablets" in columns)


def cql_server(session: Session) -> CqlServer:
    """The server behind a session, asked once per cluster connection."""
    cluster = session.cluster
    if cluster not in _servers:
        rows = session.execute(_SCYLLA_KEYSPACE_COLUMNS)
        _servers[cluster] = server_of({row.column_name for row in rows})
    return _servers[cluster]


def create_keyspace_cql(keyspace: str, replication: str, server: CqlServer = CASSANDRA) -> str:
    """CREATE KEYSPACE IF NOT EXISTS with the replication map.

    The read models and the media state use lightweight transactions, which ScyllaDB does not
    run on tablets: on a ScyllaDB that knows tablets, the keyspace keeps vnodes. Cassandra
    refuses options it does not know, so it gets none.
    """
    statement = f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}"
    if server.scylla and server.tablets:
        statement += " AND tablets = {'enabled': false}"
    return statement


def create_keyspace(session: Session, keyspace: str, replication: str) -> None:
    """Create the keyspace if missing, with the options the server needs."""
    session.execute(create_keyspace_cql(keyspace, replication, cql_server(session)), timeout=60)


def ensure_keyspace(session: Session, keyspace: str, replication: str) -> None:
    """Create the keyspace and its migration ledger if missing."""
    create_keyspace(session, keyspace, replication)
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations "
        "(version int PRIMARY KEY, name text, applied_at timestamp)"
    )


def migrate(
    session: Session, keyspace: str, replication: str, family: str = ""
) -> list[Migration]:
    """Apply pending migrations of a family in order; returns those applied now."""
    ensure_keyspace(session, keyspace, replication)
    session.set_keyspace(keyspace)
    done = {row.version for row in session.execute("SELECT version FROM schema_migrations")}
    applied = []
    for migration in migrations(family):
        if migration.version in done:
            continue
        for statement in migration.statements:
            session.execute(statement, timeout=60)
        session.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
            (migration.version, migration.name, datetime.now(UTC)),
        )
        log.info("applied migration %04d_%s to %s", migration.version, migration.name, keyspace)
        applied.append(migration)
    return applied
