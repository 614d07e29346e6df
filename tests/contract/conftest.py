"""Every contract test runs once per store backend: in memory, Redis + the CQL server, and a
one-node Redis Cluster (which refuses cross-slot commands) + the CQL server. Against the local
cluster (STORIES_ENV_FILE=infra/cluster.env), Redis is the six-node cluster itself: in memory,
and that cluster + the three CQL nodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.clients import redis_clustered
from core.settings import Settings
from tests.contract.backends import Backend, MemoryBackend, RedisCqlBackend

BACKENDS = (("memory", "redis-cluster+cql") if redis_clustered(Settings())
            else ("memory", "redis+cql", "redis-cluster+cql"))


@pytest.fixture(scope="session")
def redis_cql_backend(request: pytest.FixtureRequest) -> Iterator[RedisCqlBackend]:
    from core.clients import cql_session

    settings = request.getfixturevalue("local_stack")
    session = cql_session(settings)
    backend = RedisCqlBackend(settings, session)
    yield backend
    backend.close()
    session.cluster.shutdown()


@pytest.fixture(scope="session")
def redis_cluster_cql_backend(request: pytest.FixtureRequest) -> Iterator[RedisCqlBackend]:
    from core.clients import cql_session

    settings = request.getfixturevalue("local_stack")
    session = cql_session(settings)
    backend = RedisCqlBackend(settings, session, cluster=True)
    yield backend
    backend.close()
    session.cluster.shutdown()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return MemoryBackend()
    fixture = "redis_cql_backend" if request.param == "redis+cql" else "redis_cluster_cql_backend"
    real: RedisCqlBackend = request.getfixturevalue(fixture)
    real.new_test()
    return real
