"""Every integration test runs against the real local stack."""

from __future__ import annotations

import pytest

from core.settings import Settings


@pytest.fixture(autouse=True)
def _real_stack(local_stack: Settings) -> Settings:
    return local_stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)
