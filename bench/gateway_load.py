"""Gateway reads under load: tray and story-list reads at fixed concurrency, beside a bare endpoint.

Both servers run as their own processes (uvicorn, the same number of worker processes) on the
same read models, and the same wrk load is pointed at each in turn.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.http_load import LoadRequest, free_port, run_wrk, wrk_path
from harness.deployment import Deployment
from harness.usage import cpu_seconds, resident_bytes, service_pids
from projections.queries import read_tray

__all__ = ["GatewayPlan", "measure_gateway", "readers"]


@dataclass(frozen=True)
class GatewayPlan:
    """How long each load runs and how it is shaped."""

    seconds: float
    connections: int = 64
    processes: int = 2
    threads: int = 2


def readers(deployment: Deployment, candidates: Sequence[str], wanted: int
            ) -> list[tuple[str, str]]:
    """(viewer, author) pairs where the viewer's tray is not empty; the author is its first."""
    models = deployment.runtime.redis_models()
    now = int(time.time() * 1000)
    pairs = []
    for viewer in candidates:
        tray = read_tray(models, viewer, now)
        if tray:
            pairs.append((viewer, tray[0].author_id))
        if len(pairs) >= wanted:
            break
    return pairs


def _gateway_requests(deployment: Deployment, pairs: list[tuple[str, str]]
                      ) -> tuple[list[LoadRequest], list[LoadRequest]]:
    from gateway.auth import issue_token

    trays: list[LoadRequest] = []
    stories: list[LoadRequest] = []
    for viewer, author in pairs:
        headers = {"Authorization": f"Bearer {issue_token(deployment.settings, viewer, 7200)}"}
        trays.append(("/api/v1/stories/tray", headers))
        stories.append((f"/api/v1/users/{author}/stories", headers))
    return trays, stories


def _bare_requests(pairs: list[tuple[str, str]]) -> tuple[list[LoadRequest], list[LoadRequest]]:
    return ([(f"/tray/{v}", {}) for v, _ in pairs],
            [(f"/stories/{v}/{a}", {}) for v, a in pairs])


def _load(port: int, trays: list[LoadRequest], stories: list[LoadRequest], plan: GatewayPlan,
          redis_pid: int | None) -> dict[str, Any]:
    """Tray reads, then story lists; each with the Redis server's CPU per read when local."""
    base = f"http://127.0.0.1:{port}"
    return {
        "tray": _with_redis_cpu(redis_pid, lambda: run_wrk(base, trays, plan.seconds,
                                                           plan.connections, plan.threads)),
        "story_list": _with_redis_cpu(redis_pid, lambda: run_wrk(base, stories, plan.seconds,
                                                                 plan.connections, plan.threads)),
    }


def _with_redis_cpu(redis_pid: int | None, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The load's result and `redis_cpu_us_per_read`: the Redis process's CPU over the run."""
    before = cpu_seconds(redis_pid) if redis_pid else 0.0
    result = load()
    if redis_pid and result["requests"]:
        used = cpu_seconds(redis_pid) - before
        result["redis_cpu_us_per_read"] = round(used / result["requests"] * 1e6, 1)
    return result


def _gateway_run(deployment: Deployment, pairs: list[tuple[str, str]], plan: GatewayPlan,
                 ) -> dict[str, Any]:
    port = free_port()
    process = deployment.serve("gateway", [sys.executable, "-m", "stories.cli", "gateway"],
                               port, STORIES_GATEWAY_PORT=str(port),
                               STORIES_GATEWAY_WORKERS=str(plan.processes))
    try:
        redis_pid = service_pids(deployment.settings).get("redis")
        result = _load(port, *_gateway_requests(deployment, pairs), plan, redis_pid)
        result["rss_bytes"] = resident_bytes(process.pid)
        return result
    finally:
        deployment.stop(process)


def _bare_run(deployment: Deployment, pairs: list[tuple[str, str]], plan: GatewayPlan,
              ) -> dict[str, Any]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:create_bare_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(plan.processes),
            "--no-access-log", "--log-level", "warning"]
    process = deployment.serve("bare", argv, port)
    try:
        return _load(port, *_bare_requests(pairs), plan, service_pids(deployment.settings).get("redis"))
    finally:
        deployment.stop(process)


def measure_gateway(deployment: Deployment, candidates: Sequence[str],
                    plan: GatewayPlan) -> dict[str, Any]:
    """Gateway and bare endpoint under the same load; waiting if either piece is missing."""
    if wrk_path() is None:
        return {"status": "waiting", "reason": "wrk is not installed (make bench installs it)"}
    try:
        importlib.import_module("gateway.app")  # the gateway must at least import
    except Exception as error:  # noqa: BLE001 - reported, the rest of the suite goes on
        return {"status": "waiting", "reason": f"gateway not ready: {error}"}
    pairs = readers(deployment, candidates, 500)
    if not pairs:
        return {"status": "waiting", "reason": "no viewer has a tray to read"}
    gateway = _gateway_run(deployment, pairs, plan)
    bare = _bare_run(deployment, pairs, plan)
    return {
        "status": "measured", "readers": len(pairs), "processes": plan.processes,
        "connections": plan.connections, "gateway": gateway, "bare": bare,
        "tray_ratio_to_bare": round(gateway["tray"]["rate"] / max(bare["tray"]["rate"], 1), 3),
        "story_list_ratio_to_bare": round(
            gateway["story_list"]["rate"] / max(bare["story_list"]["rate"], 1), 3),
        "gateway_rss_bytes": gateway["rss_bytes"],
    }
