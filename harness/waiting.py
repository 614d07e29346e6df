"""Polling until something holds, the one way every deployment waits."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_until"]


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60,
               interval: float = 0.2) -> float:
    """Poll until true and return the seconds it took; a timeout names what never happened."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if predicate():
            return time.perf_counter() - began
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
