"""The state folder: one folder per service (lib, conf, data, logs, pid file) and the stack lock.

Layout, per service (<state_dir>/<svc>/):
    lib/        jars of a JVM service, fetched again only when its pom changes
    conf/       configuration rendered from the templates in infra/<svc>/
    data/       the service's data
    logs/       the service's own log, and console.log (its stdout and stderr)
    <svc>.pid   pid and start time of the process that `up` started
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings

__all__ = ["LOG_TAIL_LINES", "Dirs", "service_dirs", "exclusive", "log_tail", "last_lines"]

LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class Dirs:
    """The folders and files of one service under the state folder."""

    root: Path
    name: str

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pid_file(self) -> Path:
        return self.root / f"{self.name}.pid"

    @property
    def console_log(self) -> Path:
        return self.logs / "console.log"

    def create(self) -> None:
        for folder in (self.conf, self.data, self.logs):
            folder.mkdir(parents=True, exist_ok=True)


def service_dirs(settings: Settings, name: str) -> Dirs:
    """The folders of the service `name` under this settings' state folder."""
    return Dirs(Path(settings.state_dir) / name, name)


@contextlib.contextmanager
def exclusive(settings: Settings) -> Iterator[None]:
    """One `up` or `down` at a time per state folder: two would start every service twice."""
    lock_path = Path(settings.state_dir) / "stack.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
        yield


def log_tail(dirs: Dirs, log_name: str) -> str:
    """The last lines of the service's own log and of its console, each headed by its path."""
    parts = []
    for path in (dirs.logs / log_name, dirs.console_log):
        tail = last_lines(_read_end(path))
        if tail.strip():
            parts.append(f"==> {path} <==\n{tail}")
    return "\n".join(parts)


def _read_end(path: Path, size: int = 65536) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - size))
            return file.read().decode(errors="replace")
    except OSError:
        return ""


def last_lines(text: str, count: int = LOG_TAIL_LINES) -> str:
    """The end of a long output: enough to see why something failed."""
    return "\n".join(text.splitlines()[-count:])
