"""`stories worker` supervision: several children, each restarted on its own, stopped together."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from streams import supervisor as supervision
from streams.supervisor import PARENT_VARIABLE, child_environments, supervise, watch_parent


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """`supervise` installs SIGTERM/SIGINT handlers; the test session keeps its own."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _child(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


def test_each_child_gets_a_metrics_port_of_its_own():
    ports = [env["STORIES_WORKER_METRICS_PORT"] for env in child_environments(3, 9108)]
    assert ports == ["9108", "9109", "9110"]


def test_metrics_off_stays_off_for_every_child(monkeypatch):
    monkeypatch.setenv("STORIES_WORKER_METRICS_PORT", "0")
    assert all(env["STORIES_WORKER_METRICS_PORT"] == "0" for env in child_environments(2, 0))


def test_every_child_runs_with_its_environment(tmp_path):
    argv = _child(tmp_path, f"""
        import os, pathlib
        port = os.environ["STORIES_WORKER_METRICS_PORT"]
        pathlib.Path({str(tmp_path)!r}, "ran-" + port).write_text(str(os.getpid()))
    """)
    assert supervise(argv, child_environments(2, 7000)) == 0
    assert sorted(p.name for p in tmp_path.glob("ran-*")) == ["ran-7000", "ran-7001"]


def test_a_child_that_fails_is_started_again_while_the_other_finishes(tmp_path):
    argv = _child(tmp_path, f"""
        import os, pathlib, sys
        port = os.environ["STORIES_WORKER_METRICS_PORT"]
        runs = pathlib.Path({str(tmp_path)!r}, "runs-" + port)
        count = len(runs.read_text()) if runs.exists() else 0
        runs.write_text("x" * (count + 1))
        sys.exit(3 if port == "7000" and count == 0 else 0)
    """)
    assert supervise(argv, child_environments(2, 7000), max_backoff=0.1) == 0
    assert (tmp_path / "runs-7000").read_text() == "xx"
    assert (tmp_path / "runs-7001").read_text() == "x"


def test_stopping_the_supervisor_stops_every_child(tmp_path):
    child = _child(tmp_path, f"""
        import os, pathlib, time
        pathlib.Path({str(tmp_path)!r}, str(os.getpid())).touch()
        time.sleep(120)
    """)
    runner = tmp_path / "runner.py"
    runner.write_text(textwrap.dedent(f"""
        import sys
        from streams.supervisor import child_environments, supervise
        sys.exit(supervise({child!r}, child_environments(2, 0)))
    """))
    supervisor = subprocess.Popen([sys.executable, str(runner)], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("[0-9]*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(p.name) for p in tmp_path.glob("[0-9]*")]
    assert len(pids) == 2
    supervisor.send_signal(signal.SIGTERM)
    # It returns once every child has stopped, passing on how they ended (killed by the signal).
    assert supervisor.wait(30) == -signal.SIGTERM % 256
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.fixture
def fresh_prctl_lookup():
    supervision._find_prctl.cache_clear()
    yield
    supervision._find_prctl.cache_clear()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_prctl_is_found_through_the_c_library_lookup(fresh_prctl_lookup):
    assert supervision._find_prctl() is not None


def test_a_c_library_without_prctl_leaves_the_child_to_watch(fresh_prctl_lookup, monkeypatch):
    class LibraryWithoutPrctl:  # macOS's or a BSD's libc, as ctypes sees it
        def __init__(self, name, use_errno=False):
            pass

        def __getattr__(self, name):
            raise AttributeError(name)

    monkeypatch.setattr(supervision.ctypes, "CDLL", LibraryWithoutPrctl)
    assert supervision._find_prctl() is None


def test_an_unsupervised_process_watches_nothing(monkeypatch):
    monkeypatch.delenv(PARENT_VARIABLE, raising=False)
    assert watch_parent() is None


def _ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (an orphan's new parent may be slow to)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z"


@pytest.mark.parametrize("prctl", ["kernel", "none"])
def test_a_child_ends_when_its_supervisor_is_killed(tmp_path, prctl):
    """kill -9 of the supervisor leaves no worker behind, with prctl (the kernel kills the
    child) or without it (the child's watchdog notices its new parent and kills itself)."""
    child = _child(tmp_path, f"""
        import os, pathlib, time
        from streams.supervisor import PARENT_VARIABLE, watch_parent
        watched = os.environ.get(PARENT_VARIABLE, "")
        watch_parent()
        pathlib.Path({str(tmp_path)!r}, str(os.getpid())).write_text(watched)
        time.sleep(120)
    """)
    runner = tmp_path / "runner.py"
    runner.write_text(textwrap.dedent(f"""
        import sys
        from streams import supervisor
        if {prctl!r} == "none":  # as on macOS or a BSD: the lookup finds no prctl
            supervisor._find_prctl = lambda: None
        sys.exit(supervisor.supervise({child!r}))
    """))
    parent = subprocess.Popen([sys.executable, str(runner)], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 30
    while not (started := list(tmp_path.glob("[0-9]*"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(started) == 1
    pid, watched = int(started[0].name), started[0].read_text()
    assert watched == ("" if prctl == "kernel" else str(parent.pid))
    try:
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not _ended(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ended(pid)
    finally:
        if not _ended(pid):
            os.kill(pid, signal.SIGKILL)
