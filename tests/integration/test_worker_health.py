"""A running `stories worker` serves /healthz, /readyz and /metrics on its configured port, and
/metrics has every worker metric that infra/observability's dashboard and alerts query."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

import schemas
from harness.processes import free_port
from tests.integration.test_worker import emit_all
from tests.integration.worker_helpers import PrivateDeployment, wait_until
from tests.metric_names import missing


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


@pytest.fixture
def deployment(local_stack, tmp_path):
    d = PrivateDeployment(local_stack, tmp_path, worker_metrics_port=free_port(),
                          worker_metrics_host="127.0.0.1")
    yield d
    d.close()


def test_worker_reports_alive_ready_and_its_metrics(deployment):
    base = f"http://127.0.0.1:{deployment.settings.worker_metrics_port}"
    deployment.start_worker()
    wait_until(lambda: _get(f"{base}/healthz")[0] == 200, "the worker to answer /healthz", 60)
    wait_until(lambda: _get(f"{base}/readyz")[0] == 200,
               "the worker to be ready after its assignment", 120)

    follow = schemas.new_event("UserFollowed", actor_id="fan", followee_id="star")
    emit_all(deployment, [("UserFollowed", follow)])
    models = deployment.runtime.redis_models()
    wait_until(lambda: models.follows("fan", "star"), "the worker to fold the follow")

    wait_until(lambda: "stories_consumer_lag{" in _get(f"{base}/metrics")[1],
               "the consumer lag to be measured", 30)
    status, text = _get(f"{base}/metrics")
    assert status == 200
    for name in ("stories_consumer_lag", "stories_batch_size_bucket", "stories_fold_seconds_bucket",
                 "stories_batch_seconds_bucket", "stories_dead_letters_total",
                 "stories_store_retries_total", "stories_events_projected_total",
                 "stories_worker_ready 1.0"):
        assert name in text, (name, deployment.logs())
    assert 'stories_batch_size_count{topic="social-graph"}' in text
    assert "stories_expiry_backlog 0.0" in text  # nothing due on a fresh deployment
    assert missing(text, "worker") == [], "infra/observability queries what the worker lacks"
