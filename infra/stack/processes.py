"""The service processes: spawned in sessions of their own, recorded by pid and start time, stopped.

A pid file holds the pid and the start time (clock ticks since boot) of the process `up`
started: together they name one process, so a recycled pid is never taken for the service.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from infra.stack.service import StackError
from infra.stack.state import Dirs, last_lines

__all__ = [
    "STOP_TIMEOUT_S",
    "KILL_TIMEOUT_S",
    "spawn",
    "recorded_pid",
    "terminate",
    "alive",
    "port_open",
    "run_tool",
    "java",
]

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 60.0
KILL_TIMEOUT_S = 10.0

_children: dict[int, subprocess.Popen[bytes]] = {}  # started from this process, reaped on exit


def spawn(argv: list[str], dirs: Dirs) -> int:
    """Start the service with its output in console.log, and record its pid and start time."""
    dirs.logs.mkdir(parents=True, exist_ok=True)
    with dirs.console_log.open("wb") as output:
        # A session of its own: the service outlives this process and ignores its Ctrl-C.
        child = subprocess.Popen(
            argv,
            cwd=dirs.root,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[child.pid] = child
    ticks = _start_ticks(child.pid)
    dirs.pid_file.write_text(f"{child.pid}\n{'' if ticks is None else ticks}\n")
    return child.pid


def recorded_pid(dirs: Dirs) -> int | None:
    """The pid `up` recorded, if that very process still runs (a recycled pid does not count)."""
    try:
        fields = dirs.pid_file.read_text().split()
        pid = int(fields[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    if not alive(pid):
        return None
    if len(fields) > 1 and str(_start_ticks(pid)) != fields[1]:
        return None
    return pid


def terminate(pid: int) -> bool:
    """SIGTERM, then SIGKILL if still alive after STOP_TIMEOUT_S; True when it had to be killed."""
    _signal(pid, signal.SIGTERM)
    if _wait_for_exit(pid, STOP_TIMEOUT_S):
        return False
    log.warning("pid %d ignored SIGTERM for %.0f s: sending SIGKILL", pid, STOP_TIMEOUT_S)
    _signal(pid, signal.SIGKILL)
    _wait_for_exit(pid, KILL_TIMEOUT_S)
    return True


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited on its own meanwhile
        os.kill(pid, signum)


def _wait_for_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def alive(pid: int) -> bool:
    """Whether the process runs: a zombie does not count, and our own zombies are reaped."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:  # reaps our own zombie
        del _children[pid]
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[0] != "Z"
    if Path("/proc/self/stat").exists():
        return False  # Linux: no /proc entry, no process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot: with the pid, it names one process."""
    stat = _proc_stat(pid)
    return int(stat[19]) if stat is not None else None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state first, start time at [19]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def port_open(host: str, port: int) -> bool:
    """Whether something accepts connections there, whoever started it."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def run_tool(service: str, argv: list[str], dirs: Dirs) -> str:
    """Run a one-off command of the service (a storage formatter, say) and return its output."""
    result = subprocess.run(
        argv, cwd=dirs.root, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300
    )
    if result.returncode != 0:
        output = last_lines(result.stdout + result.stderr)
        raise StackError(service, f"`{' '.join(argv[-4:])}` failed", output)
    return result.stdout


def java(service: str) -> str:
    """The java executable: JAVA_HOME's if it has one, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        return str(Path(home, "bin", "java"))
    found = shutil.which("java")
    if found is None:
        raise StackError(service, "no `java` on PATH: apt-get install -y openjdk-17-jre-headless")
    return found
