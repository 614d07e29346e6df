"""The release this code is: one version, shown by `stories --version` and in `/healthz`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION = version("stories")
except PackageNotFoundError:  # run from a checkout that was never installed
    VERSION = "0+unknown"
