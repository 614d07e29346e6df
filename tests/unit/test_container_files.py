"""The Dockerfile and infra/compose.yaml match the product, without Docker: the settings they set
exist, the ports they expose and publish are the settings' defaults, the product's containers
reach the engines by service name, the image installs the hashed runtime lock and runs as a
user, its health check asks a path the gateway and the worker serve, and compose's Kafka is the
version of the local stack's.

Neither file is run here (CI has no Docker); README says so.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from fastapi.testclient import TestClient

from core.settings import Settings
from gateway.app import create_app
from stories.cli import app as cli
from stories.health import Readiness, StoreFaults, health_app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "infra" / "compose.yaml"
APP_SERVICES = ("init", "gateway", "worker")
VARIABLE = re.compile(r"\bSTORIES_[A-Z0-9_]+")
DEFAULTED = re.compile(r"\$\{(STORIES_[A-Z0-9_]+):-([^}]*)\}")


def default(name: str) -> Any:
    """The default of a setting, whatever the environment of the test says."""
    return Settings.model_fields[name].default


def default_port(name: str) -> int:
    """The port of an address setting's default (`host:port` or a URL)."""
    value = str(default(name))
    port = urlsplit(value if "//" in value else f"//{value}").port
    assert port is not None, name
    return port


# The settings whose default is each service's port, published on loopback as it is.
PUBLISHED = {
    "scylla": default("cql_port"),
    "kafka": default_port("kafka_bootstrap"),
    "redis": default_port("redis_url"),
    "redis-cluster": default("redis_cluster_port"),
    "minio": default_port("s3_endpoint"),
    "gateway": default("gateway_port"),
    "worker": default("worker_metrics_port"),
}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuation lines joined, comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines() if line.strip())
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(ROOT / "Dockerfile")
    last = max(index for index, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def build_stage() -> list[tuple[str, str]]:
    steps = instructions(ROOT / "Dockerfile")
    first, last = (index for index, (word, _) in enumerate(steps) if word == "FROM")
    return steps[first:last]


def exec_form(word: str) -> list[str]:
    """The exec-form (JSON) arguments of the final stage's ENTRYPOINT or CMD."""
    [value] = [json.loads(rest) for found, rest in final_stage() if found == word]
    return list(value)


def image_environment() -> dict[str, str]:
    """The variables the final stage's ENV instructions set."""
    pairs = [
        word.split("=", 1) for found, rest in final_stage() if found == "ENV" for word in shlex.split(rest)
    ]
    return {name: value for name, value in pairs}


def cli_commands() -> set[str]:
    return set(typer.main.get_group(cli).commands)


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def env_file_lines(service: dict[str, Any]) -> Iterator[str]:
    files = service.get("env_file", [])
    for name in [files] if isinstance(files, str) else files:
        yield from (COMPOSE.parent / name).read_text().splitlines()


def environment(service: dict[str, Any]) -> dict[str, str]:
    """What a container of the service is given: its env files, then its environment."""
    found = {}
    for line in env_file_lines(service):
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return {**found, **{name: str(value) for name, value in service.get("environment", {}).items()}}


def published(service: dict[str, Any]) -> dict[int, str]:
    """Container port -> `host address:host port` of each port the service publishes."""
    found = {}
    for entry in service.get("ports", []):
        address, host_port, container_port = (
            str(entry).rsplit(":", 2) if str(entry).count(":") == 2 else ("", *str(entry).split(":"))
        )
        found[int(container_port)] = f"{address}:{host_port}"
    return found


def test_every_stories_variable_is_a_setting() -> None:
    """A misspelt variable would be ignored by the settings (extra="ignore"), silently."""
    settings = {f"STORIES_{name.upper()}" for name in Settings.model_fields}
    used = {name for _, rest in instructions(ROOT / "Dockerfile") for name in VARIABLE.findall(rest)}
    for service in services().values():
        used |= {name for name in environment(service) if name.startswith("STORIES_")}
        used |= set(VARIABLE.findall(json.dumps(service)))
    assert used, "neither file sets a setting"
    assert sorted(used - settings) == []


def test_the_dockerfile_exposes_the_gateway_and_worker_ports() -> None:
    exposed = {int(port) for word, rest in final_stage() if word == "EXPOSE" for port in rest.split()}
    assert exposed == {default("gateway_port"), default("worker_metrics_port")}


def test_the_dockerfiles_defaults_are_the_settings_defaults() -> None:
    """The health check's `${STORIES_GATEWAY_PORT:-8000}` and the like."""
    found = DEFAULTED.findall((ROOT / "Dockerfile").read_text())
    assert found
    wrong = [
        (name, value) for name, value in found if value != str(default(name.removeprefix("STORIES_").lower()))
    ]
    assert wrong == []


@pytest.mark.parametrize("service", sorted(PUBLISHED))
def test_compose_publishes_the_default_port_on_loopback(service: str) -> None:
    port = PUBLISHED[service]
    assert published(services()[service]).get(port) == f"127.0.0.1:{port}"


def test_the_product_containers_listen_on_every_interface() -> None:
    """Published ports reach a container on its own interface, not on its loopback."""
    env = image_environment()
    assert env["STORIES_GATEWAY_HOST"] == env["STORIES_WORKER_METRICS_HOST"] == "0.0.0.0"


def test_the_product_containers_reach_the_engines_by_service_name() -> None:
    """Each address is a service of the file, on a port that service serves to containers."""
    all_services = services()
    for name in APP_SERVICES:
        env = environment(all_services[name])
        kafka_host, kafka_port = env["STORIES_KAFKA_BOOTSTRAP"].split(":")
        advertised = all_services[kafka_host]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        assert f"//{kafka_host}:{kafka_port}" in advertised
        for variable in ("STORIES_REDIS_URL", "STORIES_S3_ENDPOINT"):
            address = urlsplit(env[variable])
            assert address.port in published(all_services[str(address.hostname)])
        assert env["STORIES_CQL_HOSTS"] in all_services


def test_scylla_tells_the_product_containers_an_address_they_reach() -> None:
    """After the first contact the driver uses the node's broadcast RPC address: by default,
    the service name the product's containers are given."""
    [flag] = [arg for arg in services()["scylla"]["command"] if arg.startswith("--broadcast-rpc-address=")]
    address = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", flag.partition("=")[2])
    for name in APP_SERVICES:
        assert environment(services()[name])["STORIES_CQL_HOSTS"] == address


def test_compose_runs_the_product_from_the_dockerfile_after_init() -> None:
    all_services = services()
    for name in APP_SERVICES:
        service = all_services[name]
        assert (
            COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]
        ).resolve() == ROOT / "Dockerfile"
        assert service["command"][0] in cli_commands()
    for name in ("gateway", "worker"):
        assert all_services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert all_services["init"]["command"] == ["init"]


def test_the_image_runs_stories_and_serves_the_gateway_by_default() -> None:
    assert exec_form("ENTRYPOINT") == ["stories"]
    assert exec_form("CMD")[0] in cli_commands()
    assert exec_form("CMD") == ["gateway"]


def test_composes_kafka_is_the_local_stacks_version() -> None:
    pom = ET.parse(ROOT / "infra" / "kafka" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    [version] = [
        dep.findtext("m:version", namespaces=ns)
        for dep in pom.iterfind(".//m:dependency", ns)
        if dep.findtext("m:groupId", namespaces=ns) == "org.apache.kafka"
    ]
    image, _, tag = services()["kafka"]["image"].partition(":")
    assert (image, tag) == ("apache/kafka", version)


def test_the_image_installs_the_hashed_runtime_lock() -> None:
    steps = build_stage()
    copied = [rest.split() for word, rest in steps if word == "COPY"]
    [destination] = [dest for *sources, dest in copied if sources == ["requirements/runtime.txt"]]
    installs = [rest for word, rest in steps if word == "RUN" and f"-r {destination}" in rest]
    assert installs and all("--require-hashes" in rest for rest in installs)
    product = [rest for word, rest in steps if word == "RUN" and "pip install" in rest and "-r " not in rest]
    assert product and all("--no-deps" in rest for rest in product), "the product adds no unhashed package"


def test_the_build_context_holds_what_building_the_product_reads() -> None:
    """.dockerignore lets in only what it names: every package of pyproject.toml among it."""
    allowed = {
        line[1:].strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.rstrip("*") for pattern in find["include"]}
    assert packages <= allowed
    assert {"pyproject.toml", "README.md", "requirements/runtime.txt"} <= allowed


def test_the_image_runs_as_a_user_other_than_root() -> None:
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users, "no USER: the container would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_health_check_asks_a_path_the_gateway_and_the_worker_serve() -> None:
    [check] = [rest for word, rest in final_stage() if word == "HEALTHCHECK"]
    paths = set(re.findall(r"127\.0\.0\.1:[^/\s]+(/[\w/-]*)", check))
    assert paths == {"/healthz"}
    [path] = paths
    # Outside `with`, the test client starts no lifespan: the gateway connects to nothing.
    assert TestClient(create_app(Settings())).get(path).status_code == 200
    statuses: list[str] = []
    worker = health_app(Readiness(lambda: [], StoreFaults()))
    worker({"PATH_INFO": path}, lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK"]
