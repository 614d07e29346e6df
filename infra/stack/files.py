"""What a JVM service runs from: its jars fetched by Maven, its configuration rendered from templates.

One small pom per service under infra/<svc>/ names its jars; its templates sit next to it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from rich.console import Console

from infra.stack.service import StackError
from infra.stack.state import Dirs, last_lines

__all__ = ["INFRA_DIR", "fetch_jars", "render", "jvm_options"]

log = logging.getLogger(__name__)

INFRA_DIR = Path(__file__).resolve().parent.parent
# Pinned so that every machine copies the jars the same way, whatever its Maven's default plugin.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

_maven_lock = threading.Lock()  # parallel Maven runs would race on the same ~/.m2 files
_PLACEHOLDER = re.compile(r"{{(\w+)}}")


def fetch_jars(name: str, dirs: Dirs, console: Console) -> Path:
    """Copy the runtime jars of infra/<name>/pom.xml into lib/, unless lib/ matches that pom."""
    pom = INFRA_DIR / name / "pom.xml"
    fingerprint = hashlib.sha256(pom.read_bytes()).hexdigest()
    marker = dirs.lib / ".pom.sha256"
    if marker.is_file() and marker.read_text().strip() == fingerprint:
        return dirs.lib
    maven = shutil.which("mvn")
    if maven is None:
        raise StackError(name, "Maven (`mvn`) is not on PATH: apt-get install -y maven")
    staging = dirs.root / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    argv = [
        maven, "-B", "-q", "-Dstyle.color=never", "-f", str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    with _maven_lock:
        console.print(f"  {name:<9} fetching jars with Maven (first run only)")
        began = time.monotonic()
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        output = last_lines(result.stdout + result.stderr)
        raise StackError(name, f"Maven could not fetch the jars of {pom}", output)
    (staging / ".pom.sha256").write_text(fingerprint + "\n")
    shutil.rmtree(dirs.lib, ignore_errors=True)
    staging.rename(dirs.lib)  # only a complete fetch ever becomes lib/
    log.info("%s: jars fetched in %.1f s", name, time.monotonic() - began)
    return dirs.lib


def render(name: str, template: str, target: Path, **values: object) -> Path:
    """Copy infra/<name>/<template> to target, filling in its {{placeholders}}."""
    source = INFRA_DIR / name / template

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:  # a template bug: never render a silent blank
            raise KeyError(f"{source} needs a value for {{{{{key}}}}}")
        return str(values[key])

    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_PLACEHOLDER.sub(fill, source.read_text()))
    return target


def jvm_options(path: Path) -> list[str]:
    """Flags of a jvm-options file: '--add-opens x' lines become two arguments, as java wants."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [word for line in lines if line and not line.startswith("#") for word in line.split()]
