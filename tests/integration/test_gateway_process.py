"""`stories gateway` and `stories token` as real processes; following a read-model switch; the
metrics of several gateway processes, on the API port or a port of their own."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from harness.processes import free_port
from projections.catalogue import PROJECTIONS
from projections.versions import create_version, switch_serving
from tests.integration.gateway_helpers import GatewayProcess, GatewayWorld, wait_until
from tests.integration.worker_helpers import PrivateDeployment
from tests.metric_names import exposed, missing


@pytest.fixture
def deployment(local_stack, tmp_path):
    d = PrivateDeployment(local_stack, tmp_path)
    yield d
    d.close()


def test_the_command_serves_the_api_to_a_token_from_the_command(deployment, tmp_path):
    log = tmp_path / "gateway.log"
    server = GatewayProcess(deployment, log, log_format="json")
    try:
        token = subprocess.run(
            [sys.executable, "-m", "stories.cli", "token", "ada", "--ttl", "60"],
            env=deployment.env(), capture_output=True, text=True, check=True,
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        traced = httpx.get(f"{server.url}/api/v1/stories/tray",
                           headers={**headers, "X-Request-ID": "it-trace-1"})
        assert traced.json() == {"items": [], "next_cursor": None, "truncated": False}
        assert traced.headers["x-request-id"] == "it-trace-1"
        assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
        assert httpx.get(f"{server.url}/api/v1/stories/tray").status_code == 401
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'route="/api/v1/stories/tray",status="401"' in metrics
        assert missing(metrics, "gateway") == [], "infra/observability queries what it lacks"
    finally:
        server.stop()
    # A graceful stop: uvicorn shuts the app down, then exits by the signal it was sent.
    assert server.process.returncode in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert "Application shutdown complete." in [line["message"] for line in lines]
    # One JSON access line for the traced request: its route template, never the raw user id.
    [access] = [line for line in lines if line.get("request_id") == "it-trace-1"]
    assert {k: access[k] for k in ("logger", "method", "route", "status")} == {
        "logger": "gateway.access", "method": "GET", "route": "/api/v1/stories/tray", "status": 200}
    assert len(access["user"]) == 16 and "ada" not in json.dumps(access)


def test_the_gateway_follows_a_switch_of_the_live_versions(local_stack, tmp_path):
    world = GatewayWorld(local_stack, tmp_path, gateway_refresh_seconds=0.5)
    try:
        with world.serving():
            author = world.user("author")
            story_id = author.post_story(text="in version 1")
            gateway = world.client.app.state.gateway
            assert gateway.models.versions.newest() == 1

            session, base = world.deployment.runtime.session, world.settings.cql_keyspace
            create_version(session, base, world.settings.cql_replication, 2)
            switch_serving(session, base, PROJECTIONS, 2)
            wait_until(lambda: gateway.models.versions.newest() == 2, "the switch", timeout=10)
            assert author.story_ids_of(author) == []  # version 2 has not seen the post
            assert story_id not in author.story_ids_of(author)
    finally:
        world.close()


# -- /metrics of several gateway processes --------------------------------------------------------

TRAY = "/api/v1/stories/tray"


def _refused_trays(url: str, count: int) -> None:
    """`count` tray reads without a token, each on a connection of its own, a few at a time, so
    the kernel hands them to every gateway process."""
    def one(_: int) -> int:
        return httpx.get(f"{url}{TRAY}", headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(one, range(count))) == {401}


def _trays_counted(families) -> float:
    """The sum of stories_gateway_requests_total over the refused tray reads."""
    return sum(sample.value for family in families for sample in family.samples
               if sample.name == "stories_gateway_requests_total"
               and sample.labels == {"method": "GET", "route": TRAY, "status": "401"})


def _scraped_trays(exposition: str) -> float:
    return _trays_counted(text_string_to_metric_families(exposition))


def _per_process(metrics_dir: Path) -> dict[str, float]:
    """Refused tray reads counted by each process, from its own file of the shared directory."""
    return {path.stem: _trays_counted(MultiProcessCollector.merge([str(path)], accumulate=False))
            for path in metrics_dir.glob("counter_*.db")}


def _two_worker_gateway(deployment, tmp_path: Path, **settings) -> tuple[GatewayProcess, Path]:
    """A gateway of two worker processes; its metrics directory is made under `tmp_path`."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    server = GatewayProcess(deployment, extra_env={"TMPDIR": str(temporary)},
                            gateway_workers=2, **settings)
    # The first process to start answers the health check; requests wait for both.
    wait_until(lambda: server.log_path.read_text().count("Application startup complete") == 2,
               "both gateway processes to start", timeout=60)
    [metrics_dir] = temporary.glob("stories-gateway-metrics-*")
    return server, metrics_dir


def test_metrics_of_two_gateway_processes_add_up(deployment, tmp_path):
    requests = 60
    server, metrics_dir = _two_worker_gateway(deployment, tmp_path)
    try:
        _refused_trays(server.url, requests)
        per_process = _per_process(metrics_dir)
        assert len([n for n in per_process.values() if n]) == 2, f"not both processes: {per_process}"
        assert sum(per_process.values()) == requests
        # Whichever process answers a scrape, it reports the requests of both.
        for _ in range(6):
            scrape = httpx.get(f"{server.url}/metrics", headers={"Connection": "close"}).text
            assert _scraped_trays(scrape) == requests
        assert missing(scrape, "gateway") == [], "infra/observability queries what it lacks"
        # The gateway serves its own metrics, never the worker's it imports.
        assert not [name for name in exposed(scrape) if not name.startswith("stories_gateway_")]
    finally:
        server.stop()
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert not metrics_dir.exists(), "the gateway removes its metrics directory when it stops"


def test_a_metrics_port_of_its_own_serves_every_process_and_the_api_port_does_not(deployment,
                                                                                  tmp_path):
    requests, metrics_port = 30, free_port()
    server, _ = _two_worker_gateway(deployment, tmp_path, gateway_metrics_port=metrics_port)
    try:
        _refused_trays(server.url, requests)
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
        assert _scraped_trays(scrape.text) == requests
        assert missing(scrape.text, "gateway") == []
        # The API port answers /metrics like any path it does not serve, and does not list it.
        hidden = httpx.get(f"{server.url}/metrics")
        assert hidden.status_code == 404
        assert hidden.headers["content-type"] == "application/problem+json"
        assert "/metrics" not in httpx.get(f"{server.url}/openapi.json").json()["paths"]
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        # The 404 of /metrics on the API port is counted like any unmatched path.
        again = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'route="unmatched",status="404"' in again
    finally:
        server.stop()
