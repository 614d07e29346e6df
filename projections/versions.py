"""Read-model versions: the live one serves reads; a replay builds the next one beside it."""

from __future__ import annotations

from dataclasses import dataclass

from cassandra.cluster import Session

from projections.migrate import migrate

__all__ = [
    "ReadModelVersion",
    "create_version",
    "drop_version",
    "live_version",
    "read_live_number",
    "switch_live",
]


@dataclass(frozen=True)
class ReadModelVersion:
    """Where one version of every read model lives."""

    base: str
    number: int

    @property
    def keyspace(self) -> str:
        return f"{self.base}_v{self.number}"

    @property
    def redis_prefix(self) -> str:
        return f"{self.base}:v{self.number}:"


def _ensure_meta(session: Session, base: str, replication: str) -> None:
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {base} WITH replication = {replication}")
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {base}.live_version (name text PRIMARY KEY, number int)"
    )


def live_version(session: Session, base: str, replication: str) -> ReadModelVersion:
    """The version reads are served from; version 1 is created on first use."""
    _ensure_meta(session, base, replication)
    row = session.execute(
        f"SELECT number FROM {base}.live_version WHERE name = 'read_models'"
    ).one()
    if row is None:
        version = create_version(session, base, replication, 1)
        session.execute(
            f"INSERT INTO {base}.live_version (name, number) VALUES ('read_models', 1) "
            "IF NOT EXISTS"
        )
        return version
    version = ReadModelVersion(base, row.number)
    migrate(session, version.keyspace, replication)
    return version


def read_live_number(session: Session, base: str) -> int | None:
    """The live version number, without creating or migrating anything (for readers)."""
    row = session.execute(
        f"SELECT number FROM {base}.live_version WHERE name = 'read_models'"
    ).one()
    return row.number if row else None


def create_version(session: Session, base: str, replication: str, number: int) -> ReadModelVersion:
    """A fresh, empty, fully migrated version."""
    version = ReadModelVersion(base, number)
    migrate(session, version.keyspace, replication)
    return version


def switch_live(session: Session, base: str, number: int) -> None:
    """Point reads at another version (readers pick it up on their next refresh)."""
    session.execute(
        f"UPDATE {base}.live_version SET number = %s WHERE name = 'read_models'", (number,)
    )


def drop_version(session: Session, version: ReadModelVersion) -> None:
    session.execute(f"DROP KEYSPACE IF EXISTS {version.keyspace}", timeout=120)
