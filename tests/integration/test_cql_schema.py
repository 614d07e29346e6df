"""The CQL schema is applied on the real CQL server, once, by versioned migrations."""

from __future__ import annotations

import uuid

from core.clients import cql_session
from projections.migrate import migrate, migrations
from projections.versions import serving_version


def test_migrations_create_every_table_once(settings):
    keyspace = f"test_{uuid.uuid4().hex[:10]}"
    session = cql_session(settings)
    try:
        first = migrate(session, keyspace, settings.cql_replication)
        again = migrate(session, keyspace, settings.cql_replication)
        rows = session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
        )
        tables = {row.table_name for row in rows}
        ledger = {row.version for row in session.execute("SELECT version FROM schema_migrations")}
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        session.cluster.shutdown()
    assert [m.version for m in first] == [m.version for m in migrations()]
    assert again == []
    assert {"stories", "story_viewers", "followers", "highlights"} <= tables
    assert ledger == {m.version for m in migrations()}


def test_the_live_read_model_keyspace_is_migrated_by_init(settings):
    session = cql_session(settings)
    try:
        live = serving_version(session, settings.cql_keyspace, settings.cql_replication)
        session.set_keyspace(live.version("stories").keyspace)
        versions = {row.version for row in session.execute("SELECT version FROM schema_migrations")}
    finally:
        session.cluster.shutdown()
    assert versions == {m.version for m in migrations()}
