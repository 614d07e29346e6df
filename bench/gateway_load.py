"""Gateway reads under load: tray and story-list reads at fixed concurrency, beside a bare endpoint.

Both servers run as their own processes (uvicorn, the same number of worker processes) on the
same read models, and the same wrk load is pointed at each in turn. Trays are read twice: trays
with image stories (a thumbnail among the first page's entries, whose media keys the gateway
looks up) and text-only trays, each by its own readers; a kind no reader has is not measured.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from bench.bare_app import TRAY_LIMIT
from bench.freshness import FreshnessPlan, reported_rate, simulate_in_background
from bench.http_load import LoadRequest, free_port, run_wrk, wrk_path
from harness.deployment import Deployment
from harness.usage import cpu_seconds, resident_bytes, service_pids
from projections.queries import read_tray

__all__ = ["GatewayPlan", "Readers", "RUNS", "measure_gateway", "readers", "ratios_to_bare",
           "bearer", "start_gateway", "missing_pieces"]

RUNS = ("tray", "tray_text", "story_list")  # each server's wrk runs; `tray` has image stories
LOAD_WARMUP_SECONDS = 5  # the simulator reaches its rate before the reads under load count


@dataclass(frozen=True)
class GatewayPlan:
    """How long each load runs and how it is shaped."""

    seconds: float
    connections: int = 64
    processes: int = 2
    threads: int = 2
    background: FreshnessPlan | None = None  # the trays read again under this simulated load


Pair = tuple[str, str]  # (viewer, the author of the viewer's first tray entry)


@dataclass(frozen=True)
class Readers:
    """Viewers with something in their tray, in candidate order, and the same split by kind."""

    listed: list[Pair]  # the first `wanted` non-empty trays: the story-list readers
    images: list[Pair]  # trays with an image (or video) story's thumbnail on the first page
    text: list[Pair]  # trays of text stories only
    entries: dict[str, float]  # mean entries on the first page, by kind

    def runs(self) -> dict[str, list[Pair]]:
        """Each of the `RUNS` and its readers."""
        return dict(zip(RUNS, (self.images, self.text, self.listed), strict=True))


def _mean(counts: list[int]) -> float:
    return round(sum(counts) / len(counts), 1)


def readers(deployment: Deployment, candidates: Sequence[str], wanted: int) -> Readers:
    """Up to `wanted` readers of each kind of tray, and the first `wanted` non-empty trays."""
    models = deployment.runtime.redis_models()
    now = int(time.time() * 1000)
    listed: list[Pair] = []
    kinds: dict[str, list[Pair]] = {"images": [], "text": []}
    sizes: dict[str, list[int]] = {"images": [], "text": []}
    for viewer in candidates:
        page = read_tray(models, viewer, now)[:TRAY_LIMIT]
        if not page:
            continue
        if len(listed) < wanted:
            listed.append((viewer, page[0].author_id))
        kind = "images" if any(item.thumbnail_key for item in page) else "text"
        if len(kinds[kind]) < wanted:
            kinds[kind].append((viewer, page[0].author_id))
            sizes[kind].append(len(page))
        if min(len(found) for found in kinds.values()) >= wanted:
            break
    return Readers(listed, kinds["images"], kinds["text"],
                   {kind: _mean(counts) for kind, counts in sizes.items() if counts})


def bearer(deployment: Deployment, viewer: str, seconds: int = 7200) -> dict[str, str]:
    """The Authorization header of a token for `viewer`, valid for `seconds`."""
    from gateway.auth import issue_token

    return {"Authorization": f"Bearer {issue_token(deployment.settings, viewer, seconds)}"}


def _gateway_requests(deployment: Deployment, found: Readers) -> dict[str, list[LoadRequest]]:
    signed = partial(bearer, deployment)
    runs = found.runs()
    return {"tray": [("/api/v1/stories/tray", signed(v)) for v, _ in runs["tray"]],
            "tray_text": [("/api/v1/stories/tray", signed(v)) for v, _ in runs["tray_text"]],
            "story_list": [(f"/api/v1/users/{a}/stories", signed(v)) for v, a in runs["story_list"]]}


def _bare_requests(found: Readers) -> dict[str, list[LoadRequest]]:
    runs = found.runs()
    return {"tray": [(f"/tray/{v}", {}) for v, _ in runs["tray"]],
            "tray_text": [(f"/tray/{v}", {}) for v, _ in runs["tray_text"]],
            "story_list": [(f"/stories/{v}/{a}", {}) for v, a in runs["story_list"]]}


def _load(port: int, requests: dict[str, list[LoadRequest]], plan: GatewayPlan,
          redis_pid: int | None) -> dict[str, Any]:
    """Each run that has readers, in turn (trays with images, text-only trays, story lists);
    each with the Redis server's CPU per read when local."""
    base = f"http://127.0.0.1:{port}"
    return {run: _with_redis_cpu(redis_pid, partial(run_wrk, base, paths, plan.seconds,
                                                    plan.connections, plan.threads))
            for run, paths in requests.items() if paths}


def _with_redis_cpu(redis_pid: int | None, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The load's result and `redis_cpu_us_per_read`: the Redis process's CPU over the run."""
    before = cpu_seconds(redis_pid) if redis_pid else 0.0
    result = load()
    if redis_pid and result["requests"]:
        used = cpu_seconds(redis_pid) - before
        result["redis_cpu_us_per_read"] = round(used / result["requests"] * 1e6, 1)
    return result


def start_gateway(deployment: Deployment, processes: int,
                  label: str = "gateway") -> tuple[subprocess.Popen, int]:
    """`stories gateway` (uvicorn with `processes` workers) on a free port, once it answers."""
    port = free_port()
    process = deployment.serve(label, [sys.executable, "-m", "stories.cli", "gateway"],
                               port, STORIES_GATEWAY_PORT=str(port),
                               STORIES_GATEWAY_WORKERS=str(processes))
    return process, port


def _gateway_run(deployment: Deployment, found: Readers, plan: GatewayPlan) -> dict[str, Any]:
    process, port = start_gateway(deployment, plan.processes)
    try:
        redis_pid = service_pids(deployment.settings).get("redis")
        result = _load(port, _gateway_requests(deployment, found), plan, redis_pid)
        result["rss_bytes"] = resident_bytes(process.pid)
        return result
    finally:
        deployment.stop(process)


def _bare_run(deployment: Deployment, found: Readers, plan: GatewayPlan) -> dict[str, Any]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:create_bare_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(plan.processes),
            "--no-access-log", "--log-level", "warning"]
    process = deployment.serve("bare", argv, port)
    try:
        return _load(port, _bare_requests(found), plan, service_pids(deployment.settings).get("redis"))
    finally:
        deployment.stop(process)


def missing_pieces() -> dict[str, str] | None:
    """A waiting section when wrk or an importable gateway is missing, else None."""
    if wrk_path() is None:
        return {"status": "waiting", "reason": "wrk is not installed (make bench installs it)"}
    try:
        importlib.import_module("gateway.app")  # the gateway must at least import
    except Exception as error:  # noqa: BLE001 - reported, the rest of the suite goes on
        return {"status": "waiting", "reason": f"gateway not ready: {error}"}
    return None


def measure_gateway(deployment: Deployment, candidates: Sequence[str],
                    plan: GatewayPlan) -> dict[str, Any]:
    """Gateway and bare endpoint under the same load; waiting if either piece is missing."""
    missing = missing_pieces()
    if missing:
        return missing
    found = readers(deployment, candidates, 500)
    if not found.listed:
        return {"status": "waiting", "reason": "no viewer has a tray to read"}
    gateway = _gateway_run(deployment, found, plan)
    bare = _bare_run(deployment, found, plan)
    result = {
        "status": "measured", "readers": len(found.listed),
        "tray_readers": {"images": len(found.images), "text": len(found.text)},
        "tray_entries": found.entries, "processes": plan.processes,
        "connections": plan.connections, "gateway": gateway, "bare": bare,
        **ratios_to_bare(gateway, bare), "gateway_rss_bytes": gateway["rss_bytes"],
    }
    if plan.background is not None:
        result["under_load"] = _trays_under_load(deployment, found, plan, plan.background)
    return result


def _trays_under_load(deployment: Deployment, found: Readers, plan: GatewayPlan,
                      background: FreshnessPlan) -> dict[str, Any]:
    """The tray runs again while `stories simulate` loads the worker (and the same cores):
    what a reader sees while the product is busy, not only when it is idle."""
    requests = _gateway_requests(deployment, found)
    trays = {run: requests[run] for run in ("tray", "tray_text") if requests.get(run)}
    process, port = start_gateway(deployment, plan.processes, "gateway-under-load")
    load = replace(background, seconds=plan.seconds * len(trays) + LOAD_WARMUP_SECONDS + 5)
    simulator = simulate_in_background(deployment, load, "gateway-background")
    try:
        time.sleep(LOAD_WARMUP_SECONDS)
        result: dict[str, Any] = _load(port, trays, plan, None)
    finally:
        deployment.stop(process)
        simulator.wait(timeout=load.seconds + 120)
    result["background_rate"] = background.rate
    result["reached_per_s"] = reported_rate(deployment, "gateway-background")
    deployment.wait_idle(1800)
    return result


def ratios_to_bare(gateway: dict[str, Any], bare: dict[str, Any]) -> dict[str, float | None]:
    """`<run>_ratio_to_bare`: the gateway's rate over the bare endpoint's on the same readers,
    None for a run without readers."""
    return {f"{run}_ratio_to_bare": round(gateway[run]["rate"] / max(bare[run]["rate"], 1), 3)
            if run in gateway and run in bare else None for run in RUNS}
