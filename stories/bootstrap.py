"""`stories init`: topics, CQL schema and bucket, each created only when missing."""

from __future__ import annotations

from dataclasses import dataclass

from projections.migrate import migrate
from stories.services import cql_session, ensure_bucket, s3_client
from stories.settings import Settings
from streams.admin import ensure_topics

__all__ = ["InitReport", "init_all"]


@dataclass(frozen=True)
class InitReport:
    """What init created this time (empty lists when everything already existed)."""

    topics_created: list[str]
    migrations_applied: list[str]
    bucket_created: bool


def init_all(settings: Settings) -> InitReport:
    """Create whatever is missing; safe to run any number of times."""
    topics = ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    session = cql_session(settings)
    try:
        applied = migrate(session, settings.cql_keyspace, settings.cql_replication)
    finally:
        session.cluster.shutdown()
    bucket_created = ensure_bucket(s3_client(settings), settings.s3_bucket)
    names = [f"{m.version:04d}_{m.name}" for m in applied]
    return InitReport(topics, names, bucket_created)
