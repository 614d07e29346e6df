"""`stories gateway` and `stories token` as real processes; following a read-model switch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from projections.catalogue import PROJECTIONS
from projections.versions import create_version, switch_serving
from tests.integration.gateway_helpers import GatewayProcess, GatewayWorld, wait_until
from tests.integration.worker_helpers import PrivateDeployment
from tests.metric_names import missing


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
        assert traced.json() == {"items": [], "next_cursor": None}
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
