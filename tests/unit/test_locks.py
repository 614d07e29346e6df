"""The hashed locks agree with pyproject.toml: every direct dependency pinned in its lock at a
version it allows, no development tool in the runtime lock, every line with its hashes, and the
Makefile installing them with hashes required (`make lock` regenerates them)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: frozenset[str]


def lock_lines(path: Path) -> list[str]:
    """The requirement lines of a lock, each with its continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def pins(path: Path) -> dict[str, Pin]:
    """Canonical name -> version and hashes of every line; a line that is no pin fails."""
    found = {}
    for line in lock_lines(path):
        match = PIN.match(line)
        assert match, f"{path.name}: not an exact pin: {line[:80]}"
        found[canonicalize_name(match["name"])] = Pin(match["version"], frozenset(HASH.findall(line)))
    return found


def direct(group: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return [Requirement(line) for line in listed]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        (RUNTIME_LOCK, direct()),
        (DEV_LOCK, direct() + direct("dev")),
    ],
    ids=["runtime", "dev"],
)
def test_every_direct_dependency_is_pinned_at_a_version_pyproject_allows(
    lock: Path, requirements: list[Requirement]
) -> None:
    locked = pins(lock)
    missing = [str(req) for req in requirements if canonicalize_name(req.name) not in locked]
    assert missing == [], f"{lock.name} lacks them: run `make lock`"
    refused = [
        f"{req}: {locked[canonicalize_name(req.name)].version}"
        for req in requirements
        if not req.specifier.contains(locked[canonicalize_name(req.name)].version, prereleases=True)
    ]
    assert refused == [], f"{lock.name} pins versions pyproject.toml refuses: run `make lock`"


def test_the_runtime_lock_holds_no_development_tool() -> None:
    tools = {canonicalize_name(req.name) for req in direct("dev")} - {
        canonicalize_name(req.name) for req in direct()
    }
    assert tools, "the dev group names no tool of its own"
    assert sorted(tools & pins(RUNTIME_LOCK).keys()) == []


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=["runtime", "dev"])
def test_every_line_has_its_hashes(lock: Path) -> None:
    unhashed = [name for name, pin in pins(lock).items() if not pin.hashes]
    assert unhashed == []
    assert [line for line in lock_lines(lock) if line.startswith("-")] == []  # no -e, -r or index


def test_the_dev_lock_pins_every_runtime_package_alike() -> None:
    """One install of the dev lock is the runtime lock plus the tools, same files to the hash."""
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    differ = [name for name, pin in runtime.items() if dev.get(name) != pin]
    assert differ == []


def test_the_makefile_installs_the_locks_with_hashes_and_can_regenerate_them() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^RUNTIME_LOCK\s*:=\s*requirements/runtime\.txt$", makefile, re.M)
    assert re.search(r"^DEV_LOCK\s*:=\s*requirements/dev\.txt$", makefile, re.M)
    stamp = re.search(r"^\$\(STAMP\):(.*)$", makefile, re.M)
    assert stamp and {"$(RUNTIME_LOCK)", "$(DEV_LOCK)"} <= set(stamp[1].split()), (
        "a changed lock must reinstall"
    )
    assert re.search(r"pip install .*--require-hashes -r \$\(DEV_LOCK\)", makefile)
    lock = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert (
        lock
        and "--generate-hashes" in makefile
        and "-o $(RUNTIME_LOCK)" in lock[1]
        and "--extra dev -c $(RUNTIME_LOCK) -o $(DEV_LOCK)" in lock[1]
    )
