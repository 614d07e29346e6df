"""Every contract test runs once per store backend: in memory, and Redis + the CQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.backends import Backend, MemoryBackend, RedisCqlBackend

BACKENDS = ("memory", "redis+cql")


@pytest.fixture(scope="session")
def redis_cql_backend(request: pytest.FixtureRequest) -> Iterator[RedisCqlBackend]:
    from core.clients import cql_session

    settings = request.getfixturevalue("local_stack")
    session = cql_session(settings)
    backend = RedisCqlBackend(settings, session)
    yield backend
    backend.close()
    session.cluster.shutdown()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return MemoryBackend()
    real: RedisCqlBackend = request.getfixturevalue("redis_cql_backend")
    real.new_test()
    return real
