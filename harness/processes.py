"""Child processes of a deployment: started with its settings, logged to a file, stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path

import httpx
from pydantic import SecretStr

from core.settings import Settings
from harness.waiting import wait_until

__all__ = ["settings_env", "spawn", "stop", "free_port", "wait_healthy"]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build exactly these settings."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue  # unset: the child's default (also None)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"STORIES_{name.upper()}"] = str(value)
    return env


def spawn(argv: list[str], env: Mapping[str, str], log_path: Path, cwd: Path
          ) -> subprocess.Popen:
    """A child process with its output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 30) -> None:
    """Send `sig` and wait; a process that outlives the grace period is killed."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def free_port(*, bus_offset: int = 0) -> int:
    """A loopback port nothing listens on right now; with `bus_offset`, one whose companion port
    (a Redis cluster node's bus port is its port + 10000) is free and in range too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if not bus_offset:
            return port
        if port + bus_offset <= 65535 and _is_free(port + bus_offset):
            return port


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers(process: subprocess.Popen, url: str, log_path: Path) -> bool:
    if process.poll() is not None:
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        raise RuntimeError(f"{log_path.stem} exited with {process.returncode}: {tail}")
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(process: subprocess.Popen, url: str, log_path: Path, timeout: float = 90) -> None:
    """Until a server answers its health path; its log tail is raised if it exits first."""
    wait_until(lambda: _answers(process, url, log_path), f"{log_path.stem} to answer at {url}",
               timeout)
