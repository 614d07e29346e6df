"""The benchmark report: targets marked met or missed, a table, the JSON files, the results log.

Besides the whole report (`write_json`), `flatten` gives every figure as one flat object with
fixed keys (`FLAT_KEYS`), null when the run did not measure it: what `stories bench --json PATH`
writes, and what `--record` keeps of a full run in docs/benchmarks.json.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["TARGETS", "Target", "evaluate", "write_json", "print_report", "record_row",
           "FRESHNESS_LOAD", "FRESHNESS_LOADS", "RSS_TODAY_MIB", "FLAT_KEYS", "flatten",
           "write_flat", "now_iso", "SOAK_LOAD", "SOAK_SECONDS", "RSS_GROWTH_LIMIT_PCT"]

FRESHNESS_LOAD = 1000  # events/s of background load the freshness targets are stated at
FRESHNESS_LOADS = (1000, 2000, 5000)  # the loads the flat object names (`..._at_1k` and so on)
RSS_TODAY_MIB = {"worker": 693, "gateway": 347}  # issue #14's baseline, the full run of 2026-11-21
RSS_ALLOWANCE = 1.10  # resident memory at the end of a run: at most 10 % above the baseline
SOAK_LOAD = 1000  # events/s of background load the soak's growth targets are stated at
SOAK_SECONDS = 600  # how long the soak lasts
RSS_GROWTH_LIMIT_PCT = 5  # resident memory growth over the soak, in percent
RESULTS_MARKER = "<!-- results log: stories bench --record appends below -->"
Report = dict[str, Any]
Read = Callable[[Report], Any]


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _get(report: Report, *path: str) -> Any:
    return _dig(report.get("sections", {}), path)


def _at(*path: str) -> Read:
    """A figure of a section, by its path."""
    return lambda report: _get(report, *path)


def _root(*path: str) -> Read:
    """A field of the report itself (commit, size, stack)."""
    return lambda report: _dig(report, path)


def _at_load(rate: int, *path: str) -> Read:
    """A figure of the freshness load whose target was `rate` events/s."""
    def read(report: Report) -> Any:
        for load in _get(report, "freshness", "loads") or []:
            if round(load.get("background_target_rate", -1)) == rate:
                return _dig(load, path)
        return None

    return read


def _mib(value: int | None) -> float | None:
    return round(value / 1048576, 1) if value else None


def _rss_mib(process: str) -> Read:
    """Resident memory in MiB where it is measured: the worker's after the freshness loads,
    the gateway's after its reads."""
    section = "freshness" if process == "worker" else "gateway"
    return lambda report: _mib(_get(report, section, f"{process}_rss_bytes"))


def _soak_rss_mib(process: str, end: str) -> Read:
    """A process's resident memory in MiB at the soak's baseline (`start`) or `end`."""
    return lambda report: _mib(_get(report, "soak", process, f"{end}_rss_bytes"))


def _soak_caveat(process: str) -> Callable[[Report], str]:
    """Conditions under which a small growth is not the target's: a shorter soak or a lighter
    background than the issue names; for the worker, falling behind the load."""
    def caveat(report: Report) -> str:
        notes = []
        seconds = _get(report, "soak", "seconds")
        if seconds is not None and seconds < 0.95 * SOAK_SECONDS:
            notes.append(f"the soak lasted {seconds:,.0f} s, not {SOAK_SECONDS:,}")
        load = _get(report, "soak", "background_rate")
        if load is not None and load < 0.95 * SOAK_LOAD:
            notes.append(f"background reached {load:,} events/s, not {SOAK_LOAD:,}")
        if process == "worker" and _get(report, "soak", "kept_up") is False:
            notes.append(f"the worker fell behind (consumed {_get(report, 'soak', 'consumed_rate'):,}"
                         f" events/s, lag {_get(report, 'soak', 'lag_at_end'):,} at the end)")
        return "; ".join(notes)

    return caveat


def _load_caveat(path: str) -> Callable[[Report], str]:
    """Conditions that qualify a latency of this path, so a met target is never read out of
    context: a lighter background than the target names, a worker that fell behind."""
    def caveat(report: Report) -> str:
        notes = []
        load = _get(report, "freshness", "background_rate")
        if load is not None and load < 0.95 * FRESHNESS_LOAD:
            notes.append(f"background reached {load:,} events/s, not {FRESHNESS_LOAD:,}")
        if _get(report, "freshness", "kept_up") is False:
            notes.append(f"the worker fell behind (lag {_get(report, 'freshness', 'lag_at_last_probe'):,}"
                         f" at the last probe)")
        lighter = _get(report, "freshness", "sustainable")
        if lighter:
            notes.append(f"at {lighter['background_rate']:,}/s: p99 {lighter[path].get('p99_ms')} ms")
        return "; ".join(notes)

    return caveat


@dataclass(frozen=True)
class Target:
    """One target from issue #14, read from the report."""

    name: str
    description: str
    value: Read
    op: str
    threshold: float
    caveat: Callable[[Report], str] | None = None  # a met value with a caveat is not met
    reasons_below: float | None = None  # below this, docs/benchmarks.md must say why


OPS = {">=": operator.ge, "<": operator.lt, "<=": operator.le}
WORKER_RSS_LIMIT = round(RSS_TODAY_MIB["worker"] * RSS_ALLOWANCE, 1)
GATEWAY_RSS_LIMIT = round(RSS_TODAY_MIB["gateway"] * RSS_ALLOWANCE, 1)

TARGETS: tuple[Target, ...] = (
    Target("ingest_rate", "ingest >= 12,000 views/s end to end",
           _at("ingest", "end_to_end", "rate"), ">=", 12_000),
    Target("ingest_ratio", "ingest >= 0.8 of the combined ceiling",
           _at("ingest", "ratio_to_combined"), ">=", 0.8, reasons_below=0.7),
    Target("post_to_tray_p99", f"post -> tray p99 < 250 ms at {FRESHNESS_LOAD:,} events/s background",
           _at("freshness", "post_to_tray", "p99_ms"), "<", 250, _load_caveat("post_to_tray")),
    Target("view_to_list_p99",
           f"view -> viewer list p99 < 1 s at {FRESHNESS_LOAD:,} events/s background",
           _at("freshness", "view_to_viewer_list", "p99_ms"), "<", 1000,
           _load_caveat("view_to_viewer_list")),
    Target("tray_images_rate", "tray reads with image stories >= 3,000/s at 64 connections",
           _at("gateway", "gateway", "tray", "rate"), ">=", 3000),
    Target("tray_images_ratio", "tray reads with image stories >= 0.6 of the bare endpoint",
           _at("gateway", "tray_ratio_to_bare"), ">=", 0.6),
    Target("story_list_ratio", "story list reads >= 0.6 of the bare endpoint",
           _at("gateway", "story_list_ratio_to_bare"), ">=", 0.6),
    Target("worker_rss", f"worker RSS <= {WORKER_RSS_LIMIT:,} MiB "
                         f"({RSS_TODAY_MIB['worker']} + 10 %)",
           _rss_mib("worker"), "<=", WORKER_RSS_LIMIT),
    Target("gateway_rss", f"gateway RSS <= {GATEWAY_RSS_LIMIT:,} MiB "
                          f"({RSS_TODAY_MIB['gateway']} + 10 %)",
           _rss_mib("gateway"), "<=", GATEWAY_RSS_LIMIT),
    Target("worker_rss_growth", f"worker RSS growth < {RSS_GROWTH_LIMIT_PCT} % over the soak "
                                f"({SOAK_SECONDS // 60} min at {SOAK_LOAD:,} events/s)",
           _at("soak", "worker", "growth_pct"), "<", RSS_GROWTH_LIMIT_PCT, _soak_caveat("worker")),
    Target("gateway_rss_growth", f"gateway RSS growth < {RSS_GROWTH_LIMIT_PCT} % over the soak",
           _at("soak", "gateway", "growth_pct"), "<", RSS_GROWTH_LIMIT_PCT,
           _soak_caveat("gateway")),
)


def _judge(target: Target, report: Report) -> dict[str, Any]:
    """The target with its measured value and met (True/False), or None when not measured."""
    value = target.value(report)
    met = None if value is None else bool(OPS[target.op](value, target.threshold))
    notes = [target.caveat(report)] if target.caveat else []
    if met and any(notes):
        met = False  # a latency at a lighter load than the target names is not the target
    if value is not None and target.reasons_below is not None and value < target.reasons_below:
        notes.append(f"below {target.reasons_below}: docs/benchmarks.md must give the reasons")
    return {"name": target.name, "description": target.description, "value": value,
            "op": target.op, "target": target.threshold, "met": met,
            "note": "; ".join(n for n in notes if n)}


def evaluate(report: Report) -> list[dict[str, Any]]:
    """Each target with its measured value and met (True/False) or None when not measured."""
    return [_judge(target, report) for target in TARGETS]


def write_json(report: Report, folder: Path) -> Path:
    """reports/bench-<UTC timestamp>.json"""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(report["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"bench-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path


def _loads(*paths: tuple[str, tuple[str, ...]]) -> tuple[tuple[str, Read], ...]:
    """`<name>_at_1k`, `_at_2k`, `_at_5k`: a figure of each freshness load the targets name."""
    return tuple((f"{name}_at_{rate // 1000}k", _at_load(rate, *path))
                 for rate in FRESHNESS_LOADS for name, path in paths)


FLAT_KEYS: tuple[tuple[str, Read], ...] = (
    ("started_at", _root("started_at")),
    ("commit", _root("commit")),
    ("size", _root("size")),
    ("stack_kind", _root("stack", "kind")),
    ("command", _root("command")),
    ("cpus", _root("machine", "cpus")),
    ("load_before", _root("machine", "load_before")),
    ("worker_processes", _root("plan", "worker_processes")),
    ("ingest_views_per_s", _at("ingest", "end_to_end", "rate")),
    ("ingest_views", _at("ingest", "views")),
    ("ingest_views_before", _at("ingest", "views_before")),
    ("ceiling_decode_per_s", _at("ingest", "ceilings", "kafka_decode", "rate")),
    ("ceiling_cql_per_s", _at("ingest", "combined_ceiling", "of", "cql_write")),
    ("ceiling_cql_shape", _at("ingest", "combined_ceiling", "cql_method")),
    ("ceiling_cql_batched_per_s", _at("ingest", "ceilings", "cql_write", "rate")),
    ("ceiling_cql_batched_shape", _at("ingest", "ceilings", "cql_write", "method")),
    ("ceiling_cql_row_by_row_per_s", _at("ingest", "cql_write_row_by_row", "rate")),
    ("ceiling_redis_per_s", _at("ingest", "ceilings", "redis_write", "rate")),
    ("combined_ceiling_views_per_s", _at("ingest", "combined_ceiling", "rate")),
    ("ingest_ratio", _at("ingest", "ratio_to_combined")),
    ("ingest_ratio_to_slowest", _at("ingest", "ratio_to_slowest")),
    *((f"{name}_cpu_us_per_view", _at("ingest", "cpu_us_per_view", name))
      for name in ("worker", "cassandra", "redis", "kafka")),
    ("freshness_background_per_s", _at("freshness", "background_rate")),
    ("post_to_tray_p99_ms", _at("freshness", "post_to_tray", "p99_ms")),
    ("view_to_list_p99_ms", _at("freshness", "view_to_viewer_list", "p99_ms")),
    *_loads(("background_per_s", ("background_rate",)),
            ("post_to_tray_p99_ms", ("post_to_tray", "p99_ms")),
            ("view_to_list_p99_ms", ("view_to_viewer_list", "p99_ms")),
            ("kept_up", ("kept_up",))),
    ("expiry_background_per_s", _at("expiry", "background_rate")),
    *((f"{name}_{q}_ms", _at("expiry", name, f"{q}_ms"))
      for name in ("ended_after_expiry", "ended_after_delete", "ended_after_api_delete",
                   "expiry_cleanup")
      for q in ("p50", "p99")),
    ("tray_images_rps", _at("gateway", "gateway", "tray", "rate")),
    ("tray_images_p99_ms", _at("gateway", "gateway", "tray", "p99_ms")),
    ("tray_text_rps", _at("gateway", "gateway", "tray_text", "rate")),
    ("tray_text_p99_ms", _at("gateway", "gateway", "tray_text", "p99_ms")),
    ("bare_rps", _at("gateway", "bare", "tray", "rate")),
    ("bare_text_rps", _at("gateway", "bare", "tray_text", "rate")),
    ("tray_images_ratio", _at("gateway", "tray_ratio_to_bare")),
    ("tray_text_ratio", _at("gateway", "tray_text_ratio_to_bare")),
    ("story_list_rps", _at("gateway", "gateway", "story_list", "rate")),
    ("story_list_p99_ms", _at("gateway", "gateway", "story_list", "p99_ms")),
    ("bare_story_list_rps", _at("gateway", "bare", "story_list", "rate")),
    ("story_list_ratio", _at("gateway", "story_list_ratio_to_bare")),
    ("tray_under_load_background_per_s", _at("gateway", "under_load", "reached_per_s")),
    ("tray_images_rps_under_load", _at("gateway", "under_load", "tray", "rate")),
    ("tray_images_p99_ms_under_load", _at("gateway", "under_load", "tray", "p99_ms")),
    ("tray_text_rps_under_load", _at("gateway", "under_load", "tray_text", "rate")),
    ("tray_text_p99_ms_under_load", _at("gateway", "under_load", "tray_text", "p99_ms")),
    ("worker_rss_mib", _rss_mib("worker")),
    ("gateway_rss_mib", _rss_mib("gateway")),
    ("soak_seconds", _at("soak", "seconds")),
    ("soak_background_per_s", _at("soak", "background_rate")),
    ("worker_rss_soak_start_mib", _soak_rss_mib("worker", "start")),
    ("worker_rss_soak_end_mib", _soak_rss_mib("worker", "end")),
    ("worker_rss_growth_pct", _at("soak", "worker", "growth_pct")),
    ("gateway_rss_soak_start_mib", _soak_rss_mib("gateway", "start")),
    ("gateway_rss_soak_end_mib", _soak_rss_mib("gateway", "end")),
    ("gateway_rss_growth_pct", _at("soak", "gateway", "growth_pct")),
    ("redis_bytes_per_active_story", _at("footprint", "redis", "bytes_per_active_story")),
    ("redis_bytes_per_tray_entry", _at("footprint", "redis", "bytes_per_tray_entry")),
    ("cql_bytes_per_viewer_row", _at("footprint", "cql", "bytes_per_viewer_row")),
    ("replay_events_per_s", _at("replay", "rate")),
    *((f"fanout_redis_commands_{post}", _at("fanout", "posts", post, "redis_commands"))
      for post in ("ordinary", "big_pushed", "celebrity_pulled")),
    ("media_images_per_s", _at("media", "images_per_second")),
    ("media_video_seconds_per_s", _at("media", "video_seconds_per_second")),
)


def flatten(report: Report) -> dict[str, Any]:
    """Every figure under its fixed key; None (JSON null) for one the run did not measure."""
    return {key: read(report) for key, read in FLAT_KEYS}


def write_flat(report: Report, path: Path) -> Path:
    """The flat object as a JSON file (`stories bench --json`, docs/benchmarks.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(flatten(report), indent=2) + "\n")
    return path


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


Row = tuple[str, str, Any]


def _headline(report: Report) -> list[Row]:
    """(section, figure, value) rows for the table."""
    g = lambda *path: _get(report, *path)  # noqa: E731 - a local shorthand
    return [
        *_ingest_rows(report),
        *_freshness_rows(report),
        *_expiry_rows(report),
        *_gateway_rows(report),
        ("replay", "events/s", g("replay", "rate")),
        ("fan-out", "Redis commands: ordinary / big / celebrity post", _fanout(report)),
        ("footprint", "worker RSS MiB (after the last freshness load)", _rss_mib("worker")(report)),
        ("footprint", "gateway RSS MiB (after its reads)", _rss_mib("gateway")(report)),
        ("footprint", "Redis bytes per active story", g("footprint", "redis", "bytes_per_active_story")),
        ("footprint", "Redis bytes per tray entry", g("footprint", "redis", "bytes_per_tray_entry")),
        ("footprint", "CQL bytes per viewer row", g("footprint", "cql", "bytes_per_viewer_row")),
        *_soak_rows(report),
        ("media", "images/s", g("media", "images_per_second")),
        ("media", "video seconds/s", g("media", "video_seconds_per_second")),
    ]


def _ingest_rows(report: Report) -> list[Row]:
    g = lambda *path: _get(report, "ingest", *path)  # noqa: E731 - a local shorthand
    shape = g("combined_ceiling", "cql_method")
    return [
        ("ingest", "views loaded before the measurement", g("views_before")),
        ("ingest", "end to end, view events/s", g("end_to_end", "rate")),
        ("ingest", "ceiling: kafka consume + decode /s", g("ceilings", "kafka_decode", "rate")),
        ("ingest", "ceiling: CQL viewer rows, batched as configured /s", g("ceilings", "cql_write", "rate")),
        ("ingest", "ceiling: CQL viewer rows, other batch shapes /s", _other_shapes(report)),
        ("ingest", "ceiling: CQL viewer rows, row by row /s", g("cql_write_row_by_row", "rate")),
        ("ingest", "ceiling: Redis view updates /s", g("ceilings", "redis_write", "rate")),
        ("ingest", f"combined ceiling, 1/sum(1/ceiling), CQL {shape or '-'} /s",
         g("combined_ceiling", "rate")),
        ("ingest", "ratio to combined ceiling", g("ratio_to_combined")),
        ("ingest", "ratio to slowest ceiling", g("ratio_to_slowest")),
        ("ingest", "Redis replicas waited for per flush", g("redis_wait_replicas")),
        ("ingest", "worker CPU us per view", g("cpu_us_per_view", "worker")),
        ("ingest", "Cassandra CPU us per view", g("cpu_us_per_view", "cassandra")),
    ]


def _other_shapes(report: Report) -> str | None:
    """Each other CQL batch shape of the run with its rate: `100x50 12,345`."""
    shapes = _get(report, "ingest", "cql_write_shapes")
    if not shapes:
        return None
    return ", ".join(f"{name.removeprefix('cql_write_')} {_fmt(found['rate'])}"
                     for name, found in shapes.items())


def _freshness_rows(report: Report) -> list[Row]:
    """Each load, lightest first (the targets read it), then the lighter load it fell back to."""
    loads = _get(report, "freshness", "loads") or [_get(report, "freshness") or {}]
    labelled = [(_load_label(load), load) for load in loads]
    labelled.append(("sustainable", _get(report, "freshness", "sustainable") or {}))
    return [row for label, load in labelled for row in _load_rows(label, load)]


def _load_label(load: dict[str, Any]) -> str:
    rate = load.get("background_target_rate")
    return f"at {rate:,.0f}/s" if rate else "target load"


def _load_rows(label: str, load: dict[str, Any]) -> list[Row]:
    return [("freshness", f"{label}: background events/s reached", load.get("background_rate")),
            ("freshness", f"{label}: post -> tray p50 / p95 / p99 ms",
             _triple(load.get("post_to_tray"))),
            ("freshness", f"{label}: view -> viewer list p50 / p95 / p99 ms",
             _triple(load.get("view_to_viewer_list")))]


def _expiry_rows(report: Report) -> list[Row]:
    g = lambda *path: _get(report, "expiry", *path)  # noqa: E731 - a local shorthand
    return [
        ("expiry", "background events/s reached", g("background_rate")),
        ("expiry", "expiry -> live feed `ended` p50 / p95 / p99 ms", _triple(g("ended_after_expiry"))),
        ("expiry", "deletion sent -> live feed `ended` p50 / p95 / p99 ms",
         _triple(g("ended_after_delete"))),
        ("expiry", "DELETE through the API -> live feed `ended` p50 / p95 / p99 ms",
         _triple(g("ended_after_api_delete"))),
        ("expiry", "expiry -> gone from the read models p50 / p95 / p99 ms",
         _triple(g("expiry_cleanup"))),
    ]


def _gateway_rows(report: Report) -> list[Row]:
    g = lambda *path: _get(report, "gateway", *path)  # noqa: E731 - a local shorthand
    return [
        ("gateway", "readers: trays with image stories / text only",
         _pair(g("tray_readers", "images"), g("tray_readers", "text"))),
        ("gateway", "tray with image stories, reads/s (p50 / p99 ms)", _rate(report, "gateway", "tray")),
        ("gateway", "bare, same readers, reads/s (p50 / p99 ms)", _rate(report, "bare", "tray")),
        ("gateway", "tray with image stories / bare", g("tray_ratio_to_bare")),
        ("gateway", "text-only tray, reads/s (p50 / p99 ms)", _rate(report, "gateway", "tray_text")),
        ("gateway", "bare, same readers, reads/s (p50 / p99 ms)", _rate(report, "bare", "tray_text")),
        ("gateway", "text-only tray / bare", g("tray_text_ratio_to_bare")),
        ("gateway", "story list reads/s (p50 / p99 ms)", _rate(report, "gateway", "story_list")),
        ("gateway", "bare story list reads/s (p50 / p99 ms)", _rate(report, "bare", "story_list")),
        ("gateway", "story list / bare", g("story_list_ratio_to_bare")),
        ("gateway", f"under {_count(g('under_load', 'reached_per_s'))} events/s of simulated load:"
         " tray with image stories / text-only, reads/s (p50 / p99 ms)",
         _pair(_rate(report, "under_load", "tray"), _rate(report, "under_load", "tray_text"))),
    ]


def _soak_rows(report: Report) -> list[Row]:
    """The load the soak ran under, then each process's memory at its baseline and end."""
    g = lambda *path: _get(report, "soak", *path)  # noqa: E731 - a local shorthand
    load = None if g("seconds") is None else (
        f"{g('seconds'):,.0f} s at {_fmt(g('background_rate'))} events/s, "
        f"{_fmt(g('reads', 'rate'))} reads/s")
    return [("soak", "measured after the warm-up", load),
            ("soak", "worker consumed events/s (lag at the end)", _consumed(report)),
            *(("soak", f"{process} RSS MiB: start -> end (growth %)", _growth(report, process))
              for process in ("worker", "gateway"))]


def _consumed(report: Report) -> str | None:
    rate, lag = _get(report, "soak", "consumed_rate"), _get(report, "soak", "lag_at_end")
    return None if rate is None else f"{rate:,} ({_fmt(lag)})"


def _growth(report: Report, process: str) -> str | None:
    start, end = _soak_rss_mib(process, "start")(report), _soak_rss_mib(process, "end")(report)
    growth = _get(report, "soak", process, "growth_pct")
    return None if growth is None else f"{_fmt(start)} -> {_fmt(end)} ({growth:+.1f} %)"


def _pair(first: Any, second: Any) -> str | None:
    return None if first is None and second is None else f"{_fmt(first)} / {_fmt(second)}"


def _triple(found: dict[str, Any] | None) -> str | None:
    if not found or not found.get("count"):
        return None
    return f"{found['p50_ms']} / {found['p95_ms']} / {found['p99_ms']} (n={found['count']})"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _rate(report: Report, server: str, path: str) -> str | None:
    found = _get(report, "gateway", server, path)
    return f"{found['rate']:,} ({found['p50_ms']} / {found['p99_ms']})" if found else None


def _fanout(report: Report) -> str | None:
    posts = _get(report, "fanout", "posts")
    if not posts:
        return None
    return " / ".join(f"{p['redis_commands']:,} ({p['followers']:,} fol.)" for p in posts.values())


def print_report(report: Report, console: Console) -> None:
    """The headline figures and the targets."""
    figures = Table("section", "figure", "value", title=f"stories bench ({report['size']})")
    for section, figure, value in _headline(report):
        figures.add_row(section, figure, _fmt(value))
    console.print(figures)
    targets = Table("target", "measured", "", "note", title="targets")
    for t in report["targets"]:
        mark = "[dim]not measured[/]" if t["met"] is None else (
            "[green]met[/]" if t["met"] else "[red]missed[/]")
        targets.add_row(t["description"], _fmt(t["value"]), mark, t["note"])
    console.print(targets)
    for name, section in report["sections"].items():
        if section.get("status") in ("failed", "waiting"):
            why = section.get("reason") or section.get("error")
            console.print(f"[yellow]{name}: {section['status']}: {why}", markup=True)


def record_row(report: Report, log: Path) -> None:
    """Append one row to the results log of docs/benchmarks.md."""
    text = log.read_text()
    if RESULTS_MARKER not in text:
        raise ValueError(f"{log} has no results log marker ({RESULTS_MARKER})")
    met = [t for t in report["targets"] if t["met"]]
    measured = [t for t in report["targets"] if t["met"] is not None]
    cells = [
        report["started_at"][:16].replace("T", " "), report["commit"][:8],
        report["size"] + (" (cluster)" if report.get("stack", {}).get("kind") == "cluster" else ""),
        f"{report['machine']['load_before']:.1f}",
        _fmt(_get(report, "ingest", "end_to_end", "rate")),
        _fmt(_get(report, "ingest", "ratio_to_slowest")),
        _fmt(_get(report, "freshness", "background_rate")),
        _fmt(_get(report, "freshness", "post_to_tray", "p99_ms")),
        _fmt(_get(report, "freshness", "view_to_viewer_list", "p99_ms")),
        _fmt(_get(report, "gateway", "gateway", "tray", "rate")),
        _fmt(_get(report, "gateway", "gateway", "tray", "p99_ms")),
        _fmt(_get(report, "gateway", "tray_ratio_to_bare")),
        _fmt(_get(report, "replay", "rate")),
        _fmt(_get(report, "media", "images_per_second")),
        _fmt(_get(report, "media", "video_seconds_per_second")),
        f"{len(met)}/{len(measured)}",
    ]
    log.write_text(text.rstrip("\n") + "\n| " + " | ".join(cells) + " |\n")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
