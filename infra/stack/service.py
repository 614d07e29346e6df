"""What the stack knows of a service: how to reach, start and probe it, and how it can fail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from core.settings import Settings
from infra.stack.state import Dirs

__all__ = ["Service", "ServiceStatus", "StackError", "one_line", "count"]


@dataclass(frozen=True)
class Service:
    """One engine (or one node of an engine's cluster) of the local stack, described once for
    up, down and status."""

    name: str
    endpoint: Callable[[Settings], tuple[str, int]]
    # Fetches and renders whatever the service needs, then returns its command line; None for
    # a step with no process of its own (forming a cluster of nodes started before it).
    command: Callable[[Settings, Dirs, Console], list[str]] | None
    probe: Callable[[Settings], str]  # raises unless ready; returns a one-line detail
    log_name: str
    start_timeout_s: float
    # Services that must be ready before this one starts (a Cassandra node joins the ring only
    # once the node before it has).
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceStatus:
    """One service of the local stack as seen right now."""

    name: str
    address: str
    running: bool
    healthy: bool
    pid: int | None  # set only for a process that `up` started
    detail: str


class StackError(Exception):
    """A service of the local stack could not be prepared, started or reached."""

    def __init__(self, service: str, message: str, log_tail: str = "") -> None:
        self.service = service
        self.reason = message
        self.log_tail = log_tail
        text = f"{service}: {message}"
        if log_tail:
            text += f"\n--- last lines of the {service} logs ---\n{log_tail}"
        super().__init__(text)


def one_line(error: BaseException) -> str:
    """An error as one short line for a status table or a probe report."""
    text = str(error).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(error).__name__}: {message}"[:300]


def count(number: int, noun: str) -> str:
    """'1 topic', '26 topics': the details the probes report."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
