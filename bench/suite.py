"""The whole benchmark in one run, on one private deployment: every section, then the report.

Sections run one after another on the same machine: setup (the simulated world's graph through
the worker), ingest with its ceilings, freshness under background load, the live feed's end and
the clean-up after expiry and deletion under the lightest of those loads, gateway reads, Redis
footprint, the memory soak, replay, fan-out, CQL footprint and media. The soak comes after the
sections whose figures its long load would disturb and before replay, which stops the worker it
watches. A section that fails is reported as such and the others still run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.expiry import ExpiryPlan, measure_expiry
from bench.fanout import measure_fanout
from bench.footprint import cql_viewer_footprint, kafka_footprint, redis_footprint
from bench.freshness import FreshnessPlan, at_loads, measure_freshness
from bench.gateway_load import GatewayPlan, measure_gateway
from bench.ingest import IngestPlan, measure_ingest, post_stories
from bench.replay_timing import timed_folds
from bench.report import evaluate, now_iso, print_report, record_row, write_flat, write_json
from bench.soak import SoakPlan, measure_soak, soak_readers
from core.clients import is_cluster
from core.settings import REPO_ROOT, Settings
from harness.deployment import Deployment
from harness.usage import service_pids
from simulation.emitter import send_paced
from simulation.simulate import Simulation, SimulationConfig

__all__ = ["BenchSize", "SIZES", "run_suite", "SECTIONS", "RESULTS_LOG", "LATEST_FULL_RUN"]

SECTIONS = ("ingest", "freshness", "expiry", "gateway", "footprint", "soak", "replay", "fanout",
            "media")
RESULTS_LOG = REPO_ROOT / "docs" / "benchmarks.md"
LATEST_FULL_RUN = REPO_ROOT / "docs" / "benchmarks.json"  # the flat object, beside the log


@dataclass(frozen=True)
class BenchSize:
    """How big each section runs."""

    name: str
    users: int
    ingest_views: int
    ingest_stories: int
    background_rates: tuple[float, ...]  # freshness: one load each, lightest first
    background_seconds: float
    probes: int
    gateway_seconds: float
    gateway_processes: int
    media_seconds: float
    fanout_threshold: int | None  # None: the configured one
    soak_rate: float  # events/s of simulated load under the soak
    soak_warmup_seconds: float  # before the baseline sample
    soak_seconds: float  # from the baseline sample to the last
    soak_sample_seconds: float
    worker_processes: int = 1  # full size: one per core, as `stories worker --processes`


SIZES = {
    "full": BenchSize("full", users=2000, ingest_views=200_000, ingest_stories=500,
                      background_rates=(1000, 2000, 5000), background_seconds=60, probes=150,
                      gateway_seconds=15, gateway_processes=2, media_seconds=5,
                      fanout_threshold=None, soak_rate=1000, soak_warmup_seconds=60,
                      soak_seconds=600, soak_sample_seconds=10,
                      worker_processes=os.cpu_count() or 1),
    "small": BenchSize("small", users=120, ingest_views=3000, ingest_stories=30,
                       background_rates=(300,), background_seconds=6, probes=5,
                       gateway_seconds=1, gateway_processes=1, media_seconds=0,
                       fanout_threshold=200, soak_rate=300, soak_warmup_seconds=2,
                       soak_seconds=4, soak_sample_seconds=1),
}


class _Run:
    """One benchmark run: the deployment, the world and the report being filled in."""

    def __init__(self, settings: Settings, size: BenchSize, workdir: Path, console: Console):
        self.size, self.console = size, console
        self.deployment = Deployment(settings, workdir, prefix="bench")
        self.world = Simulation(SimulationConfig(users=size.users, seed=7, events=0)).world
        self.worker = self.deployment.start_worker(
            STORIES_WORKER_PROCESSES=str(size.worker_processes))
        self.sections: dict[str, Any] = {}
        self.setup: dict[str, Any] = {}

    def section(self, name: str, measure: Callable[[], dict[str, Any]]) -> None:
        """Run one section; its failure is recorded, not raised."""
        self.console.print(f"[bold]{name}[/] ...")
        began = time.perf_counter()
        try:
            result = measure()
        except Exception as error:  # noqa: BLE001 - a failed section is a result too
            result = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        result.setdefault("status", "measured")
        result["section_seconds"] = round(time.perf_counter() - began, 1)
        self.sections[name] = result
        self.console.print(f"  {name}: {result['status']} in {result['section_seconds']} s")

    def send_graph(self) -> None:
        """The simulated world's follows and close friends, through the worker, before timing."""
        simulation = Simulation(SimulationConfig(users=self.size.users, seed=7, events=0))
        began = time.perf_counter()
        report = send_paced(simulation.graph_events(), self.deployment.runtime.events, None)
        self.deployment.wait_idle(1800)
        seconds = time.perf_counter() - began
        self.setup["graph_events"] = report.delivered
        self.setup["graph_seconds"] = round(seconds, 1)
        self.setup["graph_rate"] = round(report.delivered / seconds)

    def ingest(self) -> dict[str, Any]:
        size = self.size
        authors = self.world.user_ids[: max(1, size.users // 10)]
        stories = post_stories(self.deployment, authors, size.ingest_stories, 1)
        pids = {"worker": self.worker.pid, **service_pids(self.deployment.settings)}
        plan = IngestPlan(size.ingest_views, size.ingest_stories)
        return measure_ingest(self.deployment, stories, plan, pids)

    def freshness(self) -> dict[str, Any]:
        """Each background rate in turn, lightest first: the targets read the lightest."""
        rates = sorted(set(self.size.background_rates))
        return at_loads([self._freshness_at(rate, retry=rate == rates[0]) for rate in rates])

    def _freshness_at(self, rate: float, retry: bool) -> dict[str, Any]:
        """One load; with `retry`, when the worker falls behind, again at what it kept up with."""
        size = self.size
        plan = FreshnessPlan(size.users, 7, rate, size.background_seconds, size.probes)
        result = measure_freshness(self.deployment, plan, self.worker.pid)
        self.deployment.wait_idle(1800)
        if retry and not result["kept_up"] and result["consumed_rate"] > 0:
            lighter = replace(plan, rate=round(0.6 * result["consumed_rate"]))
            result["sustainable"] = measure_freshness(self.deployment, lighter, self.worker.pid)
            self.deployment.wait_idle(1800)
        return result

    def expiry(self) -> dict[str, Any]:
        """Under the lightest freshness load, the one the targets are stated at."""
        size = self.size
        background = FreshnessPlan(size.users, 7, min(size.background_rates), 0, probes=0)
        return measure_expiry(self.deployment, ExpiryPlan(size.probes, background))

    def gateway(self) -> dict[str, Any]:
        readers = sorted(range(self.size.users), key=lambda u: -len(self.world.following[u]))
        size = self.size
        lightest = min(size.background_rates)  # the load the latency targets read (1,000/s)
        plan = GatewayPlan(size.gateway_seconds, processes=size.gateway_processes,
                           background=FreshnessPlan(size.users, 7, lightest, 0, probes=0))
        return measure_gateway(self.deployment, [self.world.user_ids[u] for u in readers], plan)

    def soak(self) -> dict[str, Any]:
        size = self.size
        plan = SoakPlan(size.users, 7, size.soak_rate, size.soak_warmup_seconds,
                        size.soak_seconds, size.soak_sample_seconds, size.gateway_processes)
        result = measure_soak(self.deployment, soak_readers(self.world), plan, self.worker.pid)
        self.deployment.wait_idle(1800)
        return result

    def replay(self) -> dict[str, Any]:
        self.deployment.stop(self.worker)
        with timed_folds() as by_topic:
            report = self.deployment.replay()  # the new version is live now
        return {"events": report.events, "seconds": round(report.seconds, 2),
                "rate": round(report.rate), "version": report.version, "folds": by_topic}

    def fanout(self) -> dict[str, Any]:
        if is_cluster(self.deployment.runtime.redis):
            return {"status": "skipped", "reason": "commands are counted through a single-node "
                    "Redis client; the contract suite runs the same folds on the cluster"}
        counts = sorted(self.world.follower_counts())
        threshold = self.size.fanout_threshold or self.deployment.settings.fanout_threshold
        big = min(counts[-1], threshold)
        scratch = self.deployment.scratch_runtime("f")
        return measure_fanout(scratch, counts[len(counts) // 2], big, threshold)

    def footprint(self) -> dict[str, Any]:
        ingest = self.sections.get("ingest", {})
        result: dict[str, Any] = {
            "worker_rss_bytes": self.sections.get("freshness", {}).get("worker_rss_bytes"),
            "gateway_rss_bytes": self.sections.get("gateway", {}).get("gateway_rss_bytes"),
            "redis": redis_footprint(self.deployment.runtime),
        }
        if "scratch_keyspace" in ingest:
            scratch = self.deployment.scratch[0]
            result["cql"] = cql_viewer_footprint(scratch, ingest["scratch_keyspace"],
                                                 ingest["views"])
        result["kafka"] = kafka_footprint(self.deployment.settings)
        return result

    def media(self) -> dict[str, Any]:
        from media.bench import measure

        return dict(measure(self.size.media_seconds))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=REPO_ROOT, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0],
            "python": platform.python_version(), "platform": platform.platform()}


def stack_description(settings: Settings) -> dict[str, Any]:
    """What the bench ran against: one node of each engine, or a cluster, and its replication."""
    from core.clients import redis_clustered

    brokers = len([b for b in settings.kafka_bootstrap.split(",") if b.strip()])
    clustered = brokers > 1 or len(settings.cql_contact_points) > 1 or redis_clustered(settings)
    return {"kind": "cluster" if clustered else "single-node", "kafka_brokers": brokers,
            "kafka_replication_factor": settings.kafka_replication_factor,
            "kafka_min_insync_replicas": settings.kafka_min_insync_replicas,
            "cql_nodes": len(settings.cql_contact_points), "cql_replication": settings.cql_replication,
            "cql_consistency": settings.cql_consistency,
            "redis": "cluster" if redis_clustered(settings) else "single node"}


def _command(size: str, record: bool, sections: tuple[str, ...], cluster: bool = False) -> str:
    words = ["stories", "bench", *(["--cluster"] if cluster else []), "--size", size]
    if sections != SECTIONS:
        words += [f"--section {s}" for s in sections]
    return " ".join(words + (["--record"] if record else []))


def run_suite(settings: Settings, size_name: str, console: Console,
              reports: Path = REPO_ROOT / "reports", record: bool = False,
              sections: tuple[str, ...] = SECTIONS, flat: Path | None = None,
              **overrides: Any) -> tuple[dict, Path]:
    """Run the sections, write the JSON report (and the flat object to `flat`, the results-log
    row when recording); returns the report and its path."""
    size = replace(SIZES[size_name], **overrides)
    stack = stack_description(settings)
    report: dict[str, Any] = {"started_at": now_iso(), "size": size.name, "commit": _commit(),
                              "command": _command(size_name, record, sections,
                                                  stack["kind"] == "cluster"),
                              "machine": _machine(), "stack": stack, "plan": size.__dict__}
    stamp = report["started_at"][:19].replace(":", "").replace("-", "")
    run = _Run(settings, size, reports / f"work-{stamp}", console)
    try:
        console.print("[bold]setup[/]: the world's graph through the worker")
        run.send_graph()
        for name in SECTIONS:
            if name in sections:
                run.section(name, getattr(run, name))
    finally:
        run.deployment.close()
    report.update(setup=run.setup, sections=run.sections)
    report["machine"]["load_after"] = os.getloadavg()[0]
    report["targets"] = evaluate(report)
    path = write_json(report, reports)
    print_report(report, console)
    if flat:
        console.print(f"figures: {write_flat(report, flat)}")
    if record:
        _record(report, console, full=size.name == "full" and set(sections) == set(SECTIONS))
    console.print(f"report: {path}")
    return report, path


def _record(report: dict[str, Any], console: Console, full: bool) -> None:
    """A row in the results log; a full run's figures also replace docs/benchmarks.json."""
    record_row(report, RESULTS_LOG)
    if full:
        write_flat(report, LATEST_FULL_RUN)
    else:
        console.print(f"{LATEST_FULL_RUN.name} kept: it holds the latest full run (every "
                      "section at full size)")

