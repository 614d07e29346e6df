"""Shared fixtures: settings, and the real local stack for integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from rich.console import Console

from core.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(environment="test")


@pytest.fixture(scope="session")
def local_stack(settings: Settings) -> Settings:
    """The real services, started by the project's own infra (a no-op when already up)."""
    from infra.stack import up
    from stories.bootstrap import init_all

    up(settings, Console(stderr=True))
    init_all(settings)
    return settings


@pytest.fixture
def topic_prefix(local_stack: Settings) -> Iterator[str]:
    """A private set of topics for one test, so tests never read each other's events."""
    from core.clients import kafka_config
    from streams.admin import ensure_topics

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_config(local_stack), prefix)
    yield prefix

