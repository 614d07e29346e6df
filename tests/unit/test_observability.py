"""infra/observability: the alert rules pass promtool (syntax and their unit tests), the
dashboard is well-formed Grafana JSON whose queries parse, every alert names its runbook section,
and the replay's metrics are those the dashboard queries.

The worker's and the gateway's metrics are checked against the running processes in
tests/integration/test_worker_health.py and test_gateway_process.py.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
import typer
import yaml
from prometheus_client import generate_latest

from core.metrics import REPLAY_PHASES, REPLAY_REGISTRY
from harness.processes import free_port
from stories.commands.replay import serving_metrics
from tests.metric_names import (
    OBSERVABILITY,
    alert_rules,
    dashboard,
    dashboard_queries,
    missing,
    owner,
    referenced,
)

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / ".state" / "tools" / "bin" / "promtool"
RUNBOOK = ROOT / "docs" / "operations.md"
# Grafana's own variables, as Grafana substitutes them before the query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not PROMTOOL.exists():
        pytest.fail(f"promtool is missing at {PROMTOOL.relative_to(ROOT)}: run `make promtool` "
                    f"(`make test` and `make test-unit` do)", pytrace=False)
    return PROMTOOL


def _run(promtool: Path, *args: str | Path, cwd: Path = OBSERVABILITY) -> str:
    result = subprocess.run([str(promtool), *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_alert_rules_pass_promtool_check(promtool: Path):
    assert "SUCCESS: 9 rules found" in _run(promtool, "check", "rules", "alerts.yml")


def test_the_alert_rules_pass_their_unit_tests(promtool: Path):
    assert "SUCCESS" in _run(promtool, "test", "rules", "alerts.test.yml")


def test_every_dashboard_query_is_valid_promql(promtool: Path, tmp_path: Path):
    """Each query as a recording rule, so that promtool parses it as Prometheus would."""
    rules = [{"record": f"dashboard:query_{i}", "expr": _substituted(expr)}
             for i, (_, expr) in enumerate(dashboard_queries())]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _run(promtool, "check", "rules", path)


def _substituted(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


def test_the_dashboard_is_grafana_json_with_panels_that_fit_the_grid():
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs) and all(t["expr"] for t in panel["targets"])


def test_the_dashboard_covers_what_an_operator_watches():
    names = {name for _, expr in dashboard_queries() for name in re.findall(r"stories_\w+", expr)}
    for wanted in ("stories_gateway_events_emitted_total", "stories_consumer_lag",
                   "stories_dead_letters_total", "stories_expiry_backlog",
                   "stories_fold_seconds_bucket", "stories_batch_size_bucket",
                   "stories_store_retries_total", "stories_store_fault", "stories_worker_ready",
                   "stories_gateway_requests_total", "stories_gateway_request_seconds_bucket",
                   "stories_replay_progress_ratio", "stories_replay_events_total"):
        assert wanted in names, wanted


def test_every_alert_waits_and_names_its_severity_and_runbook_section():
    sections = {_anchor(h) for h in re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), re.M)}
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {
        "StoriesConsumerLagGrowing", "StoriesDeadLetters", "StoriesExpiryBacklog",
        "StoriesGateway5xx", "StoriesStoreRetries", "StoriesWorkerNotReady"}
    for rule in rules:
        name, notes = rule["alert"], rule["annotations"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert notes["summary"] and f"section {name}." in notes["description"], name
        assert notes["runbook"] == f"docs/operations.md#{name.lower()}", name
        assert name.lower() in sections, f"docs/operations.md has no section {name}"


def _anchor(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_replay_serves_every_replay_metric_the_dashboard_queries():
    assert {owner(n) for n in referenced()} == {"worker", "gateway", "replay"}
    port = free_port()
    with (serving_metrics("127.0.0.1", port),
          urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response):
        text = response.read().decode()
    assert missing(text, "replay") == []
    assert text.count("stories_replay_phase{") == len(REPLAY_PHASES)
    # Apart from the worker's and the gateway's registry, which the replay does not serve.
    replay_names = sorted(n for n in referenced() if owner(n) == "replay")
    assert missing(generate_latest().decode(), "replay") == replay_names
    assert "stories_consumer_lag" not in text


def test_the_replay_metrics_port_is_optional_and_refused_when_taken():
    with serving_metrics("127.0.0.1", 0):
        pass
    port = free_port()
    with (serving_metrics("127.0.0.1", port),
          pytest.raises(typer.BadParameter, match="in use"),
          serving_metrics("127.0.0.1", port)):
        pass


def _replay_sample(name: str, **labels: str) -> float | None:
    return REPLAY_REGISTRY.get_sample_value(name, labels)


def test_a_replay_pass_counts_its_events_and_only_the_rebuild_reports_a_share():
    from rich.console import Console
    from rich.progress import Progress

    from projections.replay import _Meter

    before = _replay_sample("stories_replay_events_total", topic="engagement") or 0
    with Progress(console=Console(quiet=True)) as progress:
        rebuild = _Meter(10, progress)
        assert (_replay_sample("stories_replay_remaining_events"),
                _replay_sample("stories_replay_progress_ratio")) == (10, 0)
        rebuild.advance("engagement", 4)
        assert (_replay_sample("stories_replay_remaining_events"),
                _replay_sample("stories_replay_progress_ratio")) == (6, 0.4)
    _Meter(3, None).advance("engagement", 1)  # a catch-up pass
    assert (_replay_sample("stories_replay_remaining_events"),
            _replay_sample("stories_replay_progress_ratio")) == (2, 0.4)
    assert _replay_sample("stories_replay_events_total", topic="engagement") == before + 5
    _Meter(0, Progress(console=Console(quiet=True)))  # nothing to rebuild: all done
    assert _replay_sample("stories_replay_progress_ratio") == 1
