"""What the gateway's /metrics serves: its own metrics only, those of every process added up in
multiprocess mode, on the API port or on a port of its own.

Real gateway processes (two workers, both ports) are scraped in
tests/integration/test_gateway_process.py.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from pydantic import ValidationError

from core.settings import Settings
from gateway.app import create_app
from gateway.metrics import (
    REGISTRY,
    MetricsPortTaken,
    multiprocess_registry,
    serving_metrics,
)
from harness.processes import free_port
from tests.metric_names import exposed, missing

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TRAY = {"method": "GET", "route": "/api/v1/stories/tray", "status": "200"}


def _write(directory: Path, file: str, metric: str, sample: str, labels: dict[str, str],
           value: float) -> None:
    """One sample in a process's file, as prometheus_client's multiprocess mode writes it."""
    values = MmapedDict(str(directory / file))
    values.write_value(mmap_key(metric, sample, list(labels), list(labels.values()), "help"),
                       value, 0.0)
    values.close()


def test_one_process_serves_its_own_metrics_and_not_the_workers():
    import core.metrics  # noqa: F401 - the gateway imports the worker's definitions too

    text = generate_latest(REGISTRY).decode()
    assert missing(text, "gateway") == []
    assert "process_resident_memory_bytes" in exposed(text)
    assert not [n for n in exposed(text) if n.startswith("stories_") and "_gateway_" not in n]


def test_the_processes_files_add_up_to_the_gateways_families_only(tmp_path: Path):
    for pid, count in ((101, 3), (102, 4)):
        _write(tmp_path, f"counter_{pid}.db", "stories_gateway_requests",
               "stories_gateway_requests_total", TRAY, count)
        _write(tmp_path, f"gauge_all_{pid}.db", "stories_worker_ready", "stories_worker_ready",
               {}, 0)
    registry = multiprocess_registry(tmp_path)
    assert registry.get_sample_value("stories_gateway_requests_total", TRAY) == 7
    text = generate_latest(registry).decode()
    # Declared before any process has a sample, as one process's registry declares them.
    assert missing(text, "gateway") == []
    assert {n for n in exposed(text) if not n.startswith("stories_gateway_")} == set()


def test_a_metrics_port_serves_the_registry_and_refuses_a_taken_port():
    port = free_port()
    with serving_metrics("127.0.0.1", port, REGISTRY):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert missing(response.read().decode(), "gateway") == []
        with (pytest.raises(MetricsPortTaken, match="STORIES_GATEWAY_METRICS_PORT"),
              serving_metrics("127.0.0.1", port, REGISTRY)):
            pass
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_with_a_metrics_port_the_api_has_no_metrics_path():
    def paths(settings: Settings) -> tuple[int, bool]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = TestClient(create_app(settings))  # no lifespan: no services
        return client.get("/metrics").status_code, "/metrics" in client.get(
            "/openapi.json").json()["paths"]

    assert paths(Settings(environment="test")) == (200, True)
    assert paths(Settings(environment="test", gateway_metrics_port=9109)) == (404, False)


def test_the_metrics_port_is_unset_when_empty_and_a_port_when_set(monkeypatch):
    monkeypatch.setenv("STORIES_GATEWAY_METRICS_PORT", "")
    assert Settings(environment="test").gateway_metrics_port is None
    monkeypatch.setenv("STORIES_GATEWAY_METRICS_PORT", "9109")
    assert Settings(environment="test").gateway_metrics_port == 9109
    monkeypatch.setenv("STORIES_GATEWAY_METRICS_PORT", "0")
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Settings(environment="test")
