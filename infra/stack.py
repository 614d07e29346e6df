"""Start, stop and inspect the local stack without Docker.

Kafka, Cassandra (standing in for ScyllaDB) and S3Proxy run from jars that Maven fetches into the
state folder, one small pom per service under infra/<svc>/; Redis is Debian's redis-server. Each
process runs in a session of its own, so it outlives the command that started it, and its pid is
recorded in the state folder: `down` stops those processes and nothing else.

State folder layout, per service (<state_dir>/<svc>/):
    lib/        jars of a JVM service, fetched again only when its pom changes
    conf/       configuration rendered from the templates in infra/<svc>/
    data/       the service's data
    logs/       the service's own log, and console.log (its stdout and stderr)
    <svc>.pid   pid and start time of the process that `up` started
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.markup import escape
from tenacity import Retrying, stop_after_delay, stop_any, wait_fixed

from core.settings import Settings

__all__ = ["ServiceStatus", "StackError", "SERVICE_NAMES", "up", "down", "status"]

log = logging.getLogger(__name__)

INFRA_DIR = Path(__file__).resolve().parent
# Pinned so that every machine copies the jars the same way, whatever its Maven's default plugin.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

KAFKA_HEAP = ("-Xms128m", "-Xmx512m")
# Cassandra mlockall()s the heap committed at start-up when it runs as root: a small -Xms keeps
# an idle node from pinning the whole 1 GiB.
CASSANDRA_HEAP = ("-Xms256m", "-Xmx1g")
S3PROXY_HEAP = ("-Xms32m", "-Xmx256m")

PROBE_INTERVAL_S = 0.5
# Something already listening that `up` did not start gets a grace period, not a full start-up.
EXTERNAL_GRACE_S = 15.0
STOP_TIMEOUT_S = 60.0
KILL_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 40

_maven_lock = threading.Lock()  # parallel Maven runs would race on the same ~/.m2 files
_children: dict[int, subprocess.Popen[bytes]] = {}  # started from this process, reaped on exit


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


class _ProbeTimeout(Exception):
    def __init__(self, last_error: BaseException, process_died: bool) -> None:
        super().__init__(_one_line(last_error))
        self.process_died = process_died


@dataclass(frozen=True)
class _Dirs:
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


@dataclass(frozen=True)
class _Service:
    name: str
    endpoint: Callable[[Settings], tuple[str, int]]
    # Fetches and renders whatever the service needs, then returns its command line.
    command: Callable[[Settings, _Dirs, Console], list[str]]
    probe: Callable[[Settings], str]  # raises unless ready; returns a one-line detail
    log_name: str
    start_timeout_s: float


# ---------------------------------------------------------------------------------------------
# Public API


def _chosen(names: Sequence[str] | None) -> list[_Service]:
    """The services named (all when None), refusing unknown names."""
    if not names:
        return list(SERVICES)
    unknown = sorted(set(names) - set(SERVICE_NAMES))
    if unknown:
        raise ValueError(f"unknown service {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}")
    return [service for service in SERVICES if service.name in names]


def up(settings: Settings, console: Console, services: Sequence[str] | None = None) -> None:
    """Start every service (or those named) not running yet, in parallel; return once each
    passes its probe.

    A service already answering on its port is left alone. Raises StackError (with the tail of
    the service's log) when a service cannot be started or does not become ready in time.
    """
    began = time.monotonic()
    chosen = _chosen(services)
    with _exclusive(settings), ThreadPoolExecutor(len(chosen), "stack-up") as pool:
        futures = [pool.submit(_ensure_running, service, settings, console) for service in chosen]
    errors = [future.exception() for future in futures if future.exception() is not None]
    for error in errors:
        if not isinstance(error, StackError):
            raise error
    if errors:
        failed = [error for error in errors if isinstance(error, StackError)]
        for error in failed:
            console.print(f"[red]✗[/red] {error.service}: {escape(error.reason)}")
        if len(failed) == 1:
            raise failed[0]
        names = ", ".join(error.service for error in failed)
        raise StackError(names, "\n\n".join(str(error) for error in failed))
    console.print(f"local stack ready in {time.monotonic() - began:.1f} s")


def down(settings: Settings, console: Console, services: Sequence[str] | None = None) -> None:
    """Stop the processes that `up` started (all, or those named), and only those: SIGTERM,
    then SIGKILL if need be."""
    chosen = _chosen(services)
    with _exclusive(settings), ThreadPoolExecutor(len(chosen), "stack-down") as pool:
        futures = [pool.submit(_stop, service, settings, console) for service in chosen]
    for future in futures:
        future.result()


def status(settings: Settings) -> list[ServiceStatus]:
    """Each service's address, whether something runs there, and whether it passes its probe."""
    with ThreadPoolExecutor(len(SERVICES), thread_name_prefix="stack-status") as pool:
        return list(pool.map(lambda service: _status_of(service, settings), SERVICES))


@contextlib.contextmanager
def _exclusive(settings: Settings) -> Iterator[None]:
    """One `up` or `down` at a time per state folder: two would start every service twice."""
    lock_path = Path(settings.state_dir) / "stack.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
        yield


# ---------------------------------------------------------------------------------------------
# Start, stop, inspect one service


def _ensure_running(service: _Service, settings: Settings, console: Console) -> None:
    dirs = _dirs(settings, service.name)
    host, port = service.endpoint(settings)
    address = f"{host}:{port}"
    began = time.monotonic()
    pid = _recorded_pid(dirs)
    if pid is None and _port_open(host, port):
        _adopt_external(service, settings, console, address)
        return
    if pid is None:
        dirs.create()
        argv = service.command(settings, dirs, console)
        if _port_open(host, port):  # e.g. installing Redis just started the distribution's own
            _adopt_external(service, settings, console, address)
            return
        pid = _spawn(argv, dirs)
        log.info("%s: started pid %d", service.name, pid)
        log.debug("%s: command line: %s", service.name, " ".join(argv))
        how = "started"
    else:
        how = "already running"
    try:
        detail = _wait_until_ready(service, settings, pid, service.start_timeout_s)
    except _ProbeTimeout as error:
        reason = (
            "exited during start-up"
            if error.process_died
            else f"not ready after {service.start_timeout_s:.0f} s"
        )
        message = f"{reason} (pid {pid}, last probe error: {error})"
        raise StackError(service.name, message, _log_tail(service, dirs)) from None
    elapsed = time.monotonic() - began
    console.print(
        f"[green]✓[/green] {service.name:<9} {address:<15} {how}, ready in {elapsed:.1f} s,"
        f" pid {pid} ({escape(detail)})"
    )


def _adopt_external(service: _Service, settings: Settings, console: Console, address: str) -> None:
    try:
        detail = _wait_until_ready(service, settings, None, EXTERNAL_GRACE_S)
    except _ProbeTimeout as error:
        message = (
            f"{address} is taken by a process `up` did not start, and it does not answer as "
            f"{service.name} (last probe error: {error})"
        )
        raise StackError(service.name, message) from None
    console.print(
        f"[green]✓[/green] {service.name:<9} {address:<15} answering, not ours: left alone ({escape(detail)})"
    )


def _wait_until_ready(service: _Service, settings: Settings, pid: int | None, timeout_s: float) -> str:
    """Poll the probe until it passes; give up at the deadline, or as soon as the process dies."""

    def process_died(_state: object) -> bool:
        return pid is not None and not _alive(pid)

    retrying = Retrying(
        stop=stop_any(stop_after_delay(timeout_s), process_died),
        wait=wait_fixed(PROBE_INTERVAL_S),
        reraise=True,
    )
    try:
        return retrying(_probe, service, settings)
    except Exception as error:  # any probe failure: the service is not ready
        raise _ProbeTimeout(error, process_died(None)) from error


def _probe(service: _Service, settings: Settings) -> str:
    """The service's probe, skipped while its port is closed: clients log every refusal loudly."""
    host, port = service.endpoint(settings)
    if not _port_open(host, port):
        raise ConnectionRefusedError(f"nothing listens on {host}:{port} yet")
    return service.probe(settings)


def _stop(service: _Service, settings: Settings, console: Console) -> None:
    dirs = _dirs(settings, service.name)
    pid = _recorded_pid(dirs)
    if pid is None:
        dirs.pid_file.unlink(missing_ok=True)  # stale: its process is gone
        host, port = service.endpoint(settings)
        note = "left alone (not started by `up`)" if _port_open(host, port) else "not running"
        console.print(f"  {service.name:<9} {note}")
        return
    began = time.monotonic()
    killed = _terminate(pid)
    dirs.pid_file.unlink(missing_ok=True)
    how = "killed after the SIGTERM timeout" if killed else "stopped"
    console.print(f"  {service.name:<9} {how} (pid {pid}, {time.monotonic() - began:.1f} s)")


def _status_of(service: _Service, settings: Settings) -> ServiceStatus:
    dirs = _dirs(settings, service.name)
    host, port = service.endpoint(settings)
    pid = _recorded_pid(dirs)
    running = pid is not None or _port_open(host, port)
    healthy, detail = False, "not running"
    if running:
        try:
            detail, healthy = _probe(service, settings), True
        except Exception as error:  # any probe failure: running but not healthy
            detail = _one_line(error)
    if running and pid is None:
        detail = f"not started by `up`; {detail}"
    return ServiceStatus(service.name, f"{host}:{port}", running, healthy, pid, detail)


# ---------------------------------------------------------------------------------------------
# Processes and pid files


def _spawn(argv: list[str], dirs: _Dirs) -> int:
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


def _recorded_pid(dirs: _Dirs) -> int | None:
    """The pid `up` recorded, if that very process still runs (a recycled pid does not count)."""
    try:
        fields = dirs.pid_file.read_text().split()
        pid = int(fields[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    if not _alive(pid):
        return None
    if len(fields) > 1 and str(_start_ticks(pid)) != fields[1]:
        return None
    return pid


def _terminate(pid: int) -> bool:
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
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _alive(pid: int) -> bool:
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


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# Files: jars, templates, logs


def _dirs(settings: Settings, name: str) -> _Dirs:
    return _Dirs(Path(settings.state_dir) / name, name)


def _fetch_jars(name: str, dirs: _Dirs, console: Console) -> Path:
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
        output = _last_lines(result.stdout + result.stderr)
        raise StackError(name, f"Maven could not fetch the jars of {pom}", output)
    (staging / ".pom.sha256").write_text(fingerprint + "\n")
    shutil.rmtree(dirs.lib, ignore_errors=True)
    staging.rename(dirs.lib)  # only a complete fetch ever becomes lib/
    log.info("%s: jars fetched in %.1f s", name, time.monotonic() - began)
    return dirs.lib


_PLACEHOLDER = re.compile(r"{{(\w+)}}")


def _render(name: str, template: str, target: Path, **values: object) -> Path:
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


def _jvm_options(path: Path) -> list[str]:
    """Flags of a jvm-options file: '--add-opens x' lines become two arguments, as java wants."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [word for line in lines if line and not line.startswith("#") for word in line.split()]


def _log_tail(service: _Service, dirs: _Dirs) -> str:
    parts = []
    for path in (dirs.logs / service.log_name, dirs.console_log):
        tail = _last_lines(_read_end(path))
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


def _last_lines(text: str, count: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-count:])


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(error).__name__}: {message}"[:300]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _run_tool(service: str, argv: list[str], dirs: _Dirs) -> str:
    result = subprocess.run(
        argv, cwd=dirs.root, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300
    )
    if result.returncode != 0:
        output = _last_lines(result.stdout + result.stderr)
        raise StackError(service, f"`{' '.join(argv[-4:])}` failed", output)
    return result.stdout


def _java(service: str) -> str:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        return str(Path(home, "bin", "java"))
    java = shutil.which("java")
    if java is None:
        raise StackError(service, "no `java` on PATH: apt-get install -y openjdk-17-jre-headless")
    return java


# ---------------------------------------------------------------------------------------------
# Kafka: one combined KRaft broker and controller


def _kafka_endpoint(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    return host, int(port)


def _kafka_command(settings: Settings, dirs: _Dirs, console: Console) -> list[str]:
    lib = _fetch_jars("kafka", dirs, console)
    host, port = _kafka_endpoint(settings)
    server_properties = _render(
        "kafka", "server.properties", dirs.conf / "server.properties",
        host=host, broker_port=port, controller_port=settings.kafka_controller_port,
        data_dir=dirs.data,
    )  # fmt: skip
    log4j = _render(
        "kafka", "log4j.properties", dirs.conf / "log4j.properties",
        log_file=dirs.logs / "server.log",
    )  # fmt: skip
    java = [
        _java("kafka"), *KAFKA_HEAP,
        # The flags of Kafka's own kafka-run-class.sh.
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true", f"-Dlog4j.configuration={log4j.as_uri()}",
        "-cp", str(lib / "*"),
    ]  # fmt: skip
    _format_kafka_storage(java, server_properties, dirs)
    return [*java, "kafka.Kafka", str(server_properties)]


def _format_kafka_storage(java: list[str], server_properties: Path, dirs: _Dirs) -> None:
    """KRaft will not start on an unformatted log dir: format it once, with a new cluster id."""
    if (dirs.data / "meta.properties").is_file():
        return
    storage_tool = [*java, "kafka.tools.StorageTool"]
    cluster_id = _run_tool("kafka", [*storage_tool, "random-uuid"], dirs).split()[-1]
    format_args = ["format", "-t", cluster_id, "-c", str(server_properties), "--ignore-formatted"]
    _run_tool("kafka", [*storage_tool, *format_args], dirs)
    log.info("kafka: storage formatted, cluster id %s", cluster_id)


def _probe_kafka(settings: Settings) -> str:
    from confluent_kafka.admin import AdminClient  # imported here: keeps `import infra.stack` cheap

    # log_level 0: a broker still starting is expected, not worth librdkafka's error lines.
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0})
    metadata = admin.list_topics(timeout=3)
    if not metadata.brokers:
        raise RuntimeError("metadata lists no broker")
    return _count(len(metadata.topics), "topic")


# ---------------------------------------------------------------------------------------------
# Cassandra: the CQL server standing in for ScyllaDB


def _cql_endpoint(settings: Settings) -> tuple[str, int]:
    return settings.cql_contact_points[0], settings.cql_port


def _cassandra_command(settings: Settings, dirs: _Dirs, console: Console) -> list[str]:
    lib = _fetch_jars("cassandra", dirs, console)
    host, port = _cql_endpoint(settings)
    config = _render(
        "cassandra", "cassandra.yaml", dirs.conf / "cassandra.yaml",
        host=host, cql_port=port, storage_port=settings.cql_storage_port, data_dir=dirs.data,
    )  # fmt: skip
    logback = _render(
        "cassandra", "logback.xml", dirs.conf / "logback.xml", log_file=dirs.logs / "system.log"
    )
    triggers = dirs.conf / "triggers"  # Cassandra warns every minute when it is missing
    triggers.mkdir(exist_ok=True)
    jamm = next(lib.glob("jamm-*.jar"), None)
    if jamm is None:
        raise StackError("cassandra", f"no jamm-*.jar in {lib}: delete that folder to refetch it")
    return [
        _java("cassandra"), *CASSANDRA_HEAP,
        *_jvm_options(INFRA_DIR / "cassandra" / "jvm-options.conf"),
        f"-javaagent:{jamm}",  # Cassandra measures its memtables with it
        f"-Dcassandra.config={config.as_uri()}",
        f"-Dcassandra.storagedir={dirs.data}", f"-Dcassandra.logdir={dirs.logs}",
        f"-Dcassandra.triggers_dir={triggers}",
        f"-Dlogback.configurationFile={logback.as_uri()}",
        "-cp", str(lib / "*"), "org.apache.cassandra.service.CassandraDaemon",
    ]  # fmt: skip


def _probe_cql(settings: Settings) -> str:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import RoundRobinPolicy

    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=5)
    cluster = Cluster(
        settings.cql_contact_points,
        port=settings.cql_port,
        protocol_version=4,  # what ScyllaDB speaks; the project pins it everywhere
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=3,
        control_connection_timeout=3,
    )
    try:
        row = cluster.connect().execute("SELECT release_version FROM system.local").one()
    finally:
        cluster.shutdown()
    return f"release {row.release_version}"


# ---------------------------------------------------------------------------------------------
# S3Proxy: the S3 API over a local folder


def _s3_endpoint(settings: Settings) -> tuple[str, int]:
    url = urlsplit(settings.s3_endpoint)
    return url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)


def _s3proxy_command(settings: Settings, dirs: _Dirs, console: Console) -> list[str]:
    lib = _fetch_jars("s3proxy", dirs, console)
    host, port = _s3_endpoint(settings)
    properties = _render(
        "s3proxy", "s3proxy.properties", dirs.conf / "s3proxy.properties",
        host=host, port=port, region=settings.s3_region, data_dir=dirs.data,
        access_key=settings.s3_access_key, secret_key=settings.s3_secret_key.get_secret_value(),
    )  # fmt: skip
    properties.chmod(0o600)  # holds the secret key
    logback = _render("s3proxy", "logback.xml", dirs.conf / "logback.xml", log_file=dirs.logs / "s3proxy.log")
    return [
        _java("s3proxy"), *S3PROXY_HEAP, "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
        f"-Dlogback.configurationFile={logback.as_uri()}",
        "-cp", str(lib / "*"), "org.gaul.s3proxy.Main", "--properties", str(properties),
    ]  # fmt: skip


def _probe_s3(settings: Settings) -> str:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 1},  # the caller polls; no retries hidden in here
        ),
    )
    buckets = client.list_buckets().get("Buckets", [])
    return _count(len(buckets), "bucket")


# ---------------------------------------------------------------------------------------------
# Redis: Debian's redis-server, without persistence


def _redis_endpoint(settings: Settings) -> tuple[str, int]:
    url = urlsplit(settings.redis_url)
    return url.hostname or "127.0.0.1", url.port or 6379


def _redis_command(settings: Settings, dirs: _Dirs, console: Console) -> list[str]:
    host, port = _redis_endpoint(settings)
    return [
        _redis_server(console), "--port", str(port), "--bind", host,
        # Test data only: no snapshots, no append-only file.
        "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--dir", str(dirs.data), "--logfile", str(dirs.logs / "redis.log"),
    ]  # fmt: skip


def _redis_server(console: Console) -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise StackError("redis", "redis-server is not installed and there is no apt-get here")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    console.print("  redis     installing redis-server with apt-get (first run only)")
    for argv in ([*sudo, apt_get, "update"], [*sudo, apt_get, "install", "-y", "redis-server"]):
        result = subprocess.run(
            argv, capture_output=True, text=True, env=environment, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            output = _last_lines(result.stdout + result.stderr)
            raise StackError("redis", f"`{' '.join(argv)}` failed", output)
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found is None:
        raise StackError("redis", "apt-get installed redis-server but it is not on PATH")
    return found


def _probe_redis(settings: Settings) -> str:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    finally:
        client.close()
    return f"Redis {version}"


# Cassandra first: the slowest to start, so its thread is the first to launch.
SERVICES: tuple[_Service, ...] = (
    _Service("cassandra", _cql_endpoint, _cassandra_command, _probe_cql, "system.log", 240.0),
    _Service("kafka", _kafka_endpoint, _kafka_command, _probe_kafka, "server.log", 120.0),
    _Service("s3proxy", _s3_endpoint, _s3proxy_command, _probe_s3, "s3proxy.log", 120.0),
    _Service("redis", _redis_endpoint, _redis_command, _probe_redis, "redis.log", 30.0),
)
SERVICE_NAMES = tuple(service.name for service in SERVICES)
