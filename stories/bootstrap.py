"""`stories init`: topics, CQL schema (read models and media keys) and bucket, when missing."""

from __future__ import annotations

from dataclasses import dataclass

from core.clients import cql_session, ensure_bucket, kafka_config, s3_client
from core.settings import Settings
from media.state import ensure_media_schema
from projections.versions import serving_version
from streams.admin import ensure_topics

__all__ = ["InitReport", "init_all"]


@dataclass(frozen=True)
class InitReport:
    """What init created this time (empty lists when everything already existed)."""

    topics_created: list[str]
    read_model_keyspace: str
    bucket_created: bool


def init_all(settings: Settings) -> InitReport:
    """Create whatever is missing; safe to run any number of times."""
    topics = ensure_topics(kafka_config(settings), settings.topic_prefix)
    session = cql_session(settings)
    try:
        version = serving_version(session, settings.cql_keyspace, settings.cql_replication)
        ensure_media_schema(session, settings)
    finally:
        session.cluster.shutdown()
    bucket_created = ensure_bucket(s3_client(settings), settings.s3_bucket)
    keyspaces = ", ".join(sorted({v.keyspace for v in version.versions()}))
    return InitReport(topics, keyspaces, bucket_created)
