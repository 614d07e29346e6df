"""Unit tests read no STORIES_* variable of the shell that runs them: the settings they build
are the defaults, or what they pass, whatever stack the developer points at."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_stories_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("STORIES_")]:
        monkeypatch.delenv(name)
