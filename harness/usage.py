"""What a process and its children use, read from /proc, and the local stack's own processes."""

from __future__ import annotations

import os
from pathlib import Path

from core.settings import Settings

__all__ = ["process_tree", "resident_bytes", "cpu_seconds", "service_pids"]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (None once the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (a supervised worker runs in a child)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def resident_bytes(pid: int) -> int:
    """Resident memory of a process and its descendants (RSS pages)."""
    pages = 0
    for member in process_tree(pid):
        fields = _stat(member)
        pages += int(fields[21]) if fields else 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU used so far by a process and its descendants."""
    ticks = 0
    for member in process_tree(pid):
        fields = _stat(member)
        ticks += int(fields[11]) + int(fields[12]) if fields else 0
    return ticks / os.sysconf("SC_CLK_TCK")


def service_pids(settings: Settings) -> dict[str, int]:
    """Processes of the local stack, from the pid files `stories up` keeps (none if remote)."""
    pids = {}
    for service in ("kafka", "cassandra", "redis"):
        path = settings.state_dir / service / f"{service}.pid"
        try:
            pids[service] = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return pids
