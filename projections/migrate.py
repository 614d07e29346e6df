"""Applies the versioned CQL migrations to a keyspace, each exactly once.

Files named `NNNN_name.cql` migrate every read-model version keyspace. A family prefix keeps
other keyspaces' migrations beside them: `media_NNNN_name.cql` migrates the media keyspace,
which holds durable state (story keys) that a replay must never drop.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from cassandra.cluster import Session

__all__ = ["Migration", "migrations", "ensure_keyspace", "migrate"]

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


def ensure_keyspace(session: Session, keyspace: str, replication: str) -> None:
    """Create the keyspace and its migration ledger if missing."""
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}"
    )
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
