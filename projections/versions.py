"""Read-model versions: the serving ones answer reads; a replay builds the next one beside them.

Version N lives in CQL keyspace `{base}_vN` and under Redis prefix `{base}:vN:`. Each
projection has its own serving version number (table `{base}.live_version`), so a replay can
switch some projections and leave the others where they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cassandra.cluster import Session

from projections.catalogue import PROJECTIONS, tables_of
from projections.migrate import create_keyspace, migrate

__all__ = [
    "ReadModelVersion",
    "ServingVersions",
    "create_version",
    "drop_version",
    "drop_tables",
    "serving_version",
    "read_serving_versions",
    "switch_serving",
]


@dataclass(frozen=True)
class ReadModelVersion:
    """Where one version of the read models lives."""

    base: str
    number: int

    @property
    def keyspace(self) -> str:
        return f"{self.base}_v{self.number}"

    @property
    def redis_prefix(self) -> str:
        return f"{self.base}:v{self.number}:"


@dataclass(frozen=True)
class ServingVersions:
    """The version each projection reads and writes."""

    base: str
    numbers: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, base: str, numbers: Mapping[str, int]) -> ServingVersions:
        return cls(base, tuple(sorted(numbers.items())))

    @classmethod
    def single(cls, base: str, number: int) -> ServingVersions:
        return cls.of(base, dict.fromkeys(PROJECTIONS, number))

    def number(self, projection: str) -> int:
        return dict(self.numbers)[projection]

    def version(self, projection: str) -> ReadModelVersion:
        return ReadModelVersion(self.base, self.number(projection))

    def versions(self) -> set[ReadModelVersion]:
        return {ReadModelVersion(self.base, n) for _, n in self.numbers}

    def redis_prefixes(self) -> dict[str, str]:
        return {p: ReadModelVersion(self.base, n).redis_prefix for p, n in self.numbers}

    def keyspaces(self) -> dict[str, str]:
        return {p: ReadModelVersion(self.base, n).keyspace for p, n in self.numbers}

    def newest(self) -> int:
        return max(n for _, n in self.numbers)


def _ensure_meta(session: Session, base: str, replication: str) -> None:
    create_keyspace(session, base, replication)  # live_version is written by compare-and-set
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {base}.live_version (name text PRIMARY KEY, number int)"
    )


def read_serving_versions(session: Session, base: str) -> ServingVersions | None:
    """The serving versions, without creating or migrating anything (for readers)."""
    rows = session.execute(f"SELECT name, number FROM {base}.live_version")
    numbers = {row.name: row.number for row in rows if row.name in PROJECTIONS}
    return ServingVersions.of(base, numbers) if set(numbers) == set(PROJECTIONS) else None


def serving_version(session: Session, base: str, replication: str) -> ServingVersions:
    """The serving versions, every keyspace migrated; version 1 is created on first use."""
    _ensure_meta(session, base, replication)
    for projection in PROJECTIONS:
        session.execute(
            f"INSERT INTO {base}.live_version (name, number) VALUES (%s, 1) IF NOT EXISTS",
            (projection,),
        )
    live = read_serving_versions(session, base)
    assert live is not None
    for version in live.versions():
        migrate(session, version.keyspace, replication)
    return live


def create_version(session: Session, base: str, replication: str, number: int) -> ReadModelVersion:
    """A fresh, empty, fully migrated version."""
    version = ReadModelVersion(base, number)
    migrate(session, version.keyspace, replication)
    return version


def switch_serving(session: Session, base: str, projections: Iterable[str], number: int) -> None:
    """Point these projections at another version (readers follow on their next refresh)."""
    for projection in projections:
        session.execute(
            f"UPDATE {base}.live_version SET number = %s WHERE name = %s", (number, projection)
        )


def drop_tables(session: Session, version: ReadModelVersion, projections: Iterable[str]) -> None:
    """Drop these projections' tables from one version's keyspace."""
    for projection in projections:
        for table in tables_of(projection):
            session.execute(f"DROP TABLE IF EXISTS {version.keyspace}.{table}", timeout=120)


def drop_version(session: Session, version: ReadModelVersion) -> None:
    session.execute(f"DROP KEYSPACE IF EXISTS {version.keyspace}", timeout=120)
