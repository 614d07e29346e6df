"""One version for the release: `stories --version` names the installed package's."""

from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

from stories.cli import app


def test_version_is_the_installed_release():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"stories {version('stories')}"
