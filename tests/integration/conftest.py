"""Every integration test runs against the real local stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.clients import cql_session
from core.settings import Settings
from tests.integration.readmodel_helpers import PrivateReadModels


@pytest.fixture(autouse=True)
def _real_stack(local_stack: Settings) -> Settings:
    return local_stack


@pytest.fixture(scope="module")
def stores(local_stack: Settings) -> Iterator[PrivateReadModels]:
    """Read models of the test module's own: a private keyspace, a Redis prefix per projector."""
    session = cql_session(local_stack)
    models = PrivateReadModels(local_stack, session)
    yield models
    models.close()
    session.cluster.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)
