"""The bench report: the combined ceiling, the targets and the flat figures of `--json`, read from
a report built from the sections' own pieces (no services)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench import suite
from bench.freshness import at_loads, percentiles
from bench.gateway_load import ratios_to_bare
from bench.http_load import _summary
from bench.ingest import ceiling_figures, combine_ceilings, combined_ceiling
from bench.report import (
    FLAT_KEYS,
    RESULTS_MARKER,
    TARGETS,
    evaluate,
    flatten,
    print_report,
    write_flat,
)
from bench.soak import SOAK, WARM_UP, SoakPlan, _soak_figures
from stories.commands.bench import _overrides

OLDER_REPORT = Path(__file__).parent / "data" / "bench-report-before-ceilings.json"

MIB = 1048576
ISSUE_KEYS = {  # the keys issue #14 names, plus each ceiling and what identifies the run
    "ingest_views_per_s", "combined_ceiling_views_per_s", "ingest_ratio", "tray_images_rps",
    "tray_text_rps", "bare_rps", "story_list_rps", "bare_story_list_rps", "post_to_tray_p99_ms",
    "view_to_list_p99_ms", "worker_rss_mib", "gateway_rss_mib", "ceiling_decode_per_s",
    "ceiling_cql_per_s", "ceiling_redis_per_s", "commit", "size", "stack_kind",
    "soak_seconds", "soak_background_per_s", "worker_rss_soak_start_mib", "worker_rss_soak_end_mib",
    "worker_rss_growth_pct", "gateway_rss_soak_start_mib", "gateway_rss_soak_end_mib",
    "gateway_rss_growth_pct",
}


def wrk(rate: int, p99_ms: float) -> dict[str, Any]:
    """One wrk run's result, as `run_wrk` summarises it."""
    return _summary({"requests": rate * 10, "duration_us": 10_000_000, "connect_errors": 0,
                     "read_errors": 0, "write_errors": 0, "status_errors": 0, "timeouts": 0,
                     "p50_us": 1000, "p90_us": 2000, "p99_us": int(p99_ms * 1000),
                     "max_us": 90_000, "mean_us": 1500.0}, 64, 2)


def freshness_load(target: int, reached: int, post_p99_s: float, view_p99_s: float,
                   kept_up: bool = True, rss_mib: int = 600) -> dict[str, Any]:
    """One background load, as `measure_freshness` returns it (100 probes of each path)."""
    return {"background_target_rate": target, "background_rate": reached, "kept_up": kept_up,
            "lag_at_last_probe": 50 if kept_up else 40_000, "consumed_rate": reached,
            "post_to_tray": percentiles([0.05] * 99 + [post_p99_s]),
            "view_to_viewer_list": percentiles([0.05] * 99 + [view_p99_s]),
            "probes_timed_out": 0, "worker_rss_bytes": rss_mib * MIB}


def soak_section(seconds: int = 600, reached: int = 998, worker_mib: tuple[int, int] = (693, 710),
                 gateway_mib: tuple[int, int] = (347, 350)) -> dict[str, Any]:
    """A soak as `measure_soak` returns it: a warm-up sample, the baseline, the last sample."""
    def sample(at: int, phase: str, worker: int, gateway: int) -> dict[str, Any]:
        return {"at_s": at, "phase": phase, "worker_rss_bytes": worker * MIB,
                "gateway_rss_bytes": gateway * MIB}

    samples = [sample(0, WARM_UP, 500, 200), sample(60, SOAK, worker_mib[0], gateway_mib[0]),
               sample(60 + seconds, SOAK, worker_mib[1], gateway_mib[1])]
    plan = SoakPlan(2000, 7, 1000, 60, seconds, 10, 2)
    return {**_soak_figures(plan, samples), "background_target_rate": 1000,
            "background_rate": reached, "consumed_rate": reached, "lag_at_end": 120,
            "kept_up": True, "reads": wrk(70, 20)}


def expiry_section() -> dict[str, Any]:
    """The expiry probes as `measure_expiry` returns them (100 of each kind)."""
    return {"background_target_rate": 1000, "background_rate": 995, "probes": 100,
            "lead_seconds": 3.0, "lag_before": 0, "lag_at_end": 80,
            "ended_after_expiry": percentiles([0.3] * 99 + [0.9]),
            "ended_after_delete": percentiles([0.1] * 99 + [0.4]),
            "ended_after_api_delete": percentiles([0.01] * 99 + [0.05]),
            "expiry_cleanup": percentiles([0.35] * 99 + [1.2]),
            "feeds_not_opened": 0, "probes_timed_out": 0}


def full_report() -> dict[str, Any]:
    """A full run's report as `run_suite` puts it together, with the issue's baseline figures."""
    ceilings = {"kafka_decode": {"events": 200_000, "rate": 110_550},
                "cql_write": {"events": 200_000, "rate": 26_322,
                              "method": "unlogged batches by partition"},
                "redis_write": {"events": 200_000, "rate": 115_528}}
    per_row = {"events": 200_000, "rate": 7_497, "method": "one request per row"}
    ingest = {"views": 200_000, "views_before": 0, "partitions": 12,
              "cpu_us_per_view": {"worker": 167.0, "cassandra": 37.0, "redis": 10.0, "kafka": 2.0},
              **ceiling_figures({"events": 200_000, "seconds": 26.3, "rate": 7_610}, ceilings,
                                per_row)}
    freshness = at_loads([freshness_load(5000, 4984, 5.2, 25.1, kept_up=False, rss_mib=693),
                          freshness_load(1000, 998, 0.2, 0.8, rss_mib=610),
                          freshness_load(2000, 1990, 0.4, 1.5, rss_mib=650)])
    gateway_runs = {"tray": wrk(710, 271), "tray_text": wrk(2013, 104), "story_list": wrk(718, 200),
                    "rss_bytes": 347 * MIB}
    bare_runs = {"tray": wrk(2359, 70), "tray_text": wrk(2930, 60), "story_list": wrk(4837, 30)}
    gateway = {"status": "measured", "readers": 500, "tray_readers": {"images": 500, "text": 120},
               "gateway": gateway_runs, "bare": bare_runs,
               **ratios_to_bare(gateway_runs, bare_runs), "gateway_rss_bytes": 347 * MIB}
    sections = {"ingest": ingest, "freshness": freshness, "expiry": expiry_section(),
                "gateway": gateway,
                "footprint": {"worker_rss_bytes": freshness["worker_rss_bytes"],
                              "gateway_rss_bytes": gateway["gateway_rss_bytes"],
                              "redis": {"bytes_per_active_story": 967.0}},
                "soak": soak_section(),
                "replay": {"events": 639_648, "rate": 11_768},
                "media": {"images_per_second": 9.09, "video_seconds_per_second": 1.83}}
    for section in sections.values():
        section.setdefault("status", "measured")
    report = {"started_at": "2026-12-03T10:00:00+00:00", "size": "full", "commit": "abc1234def",
              "command": "stories bench --size full", "machine": {"cpus": 2, "load_before": 1.5},
              "stack": {"kind": "single-node"}, "plan": {"worker_processes": 2},
              "setup": {}, "sections": sections}
    report["targets"] = evaluate(report)
    return report


def judged(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in evaluate(report)}


# -- the combined ceiling ---------------------------------------------------------------------


def test_the_combined_ceiling_of_the_issue_is_about_18k_views_per_second():
    assert combined_ceiling([110_550, 26_322, 115_528]) == pytest.approx(17_956, abs=1)


def test_the_combined_ceiling_is_below_the_slowest_step():
    assert combined_ceiling([1000, 1000]) == pytest.approx(500)
    assert combined_ceiling([1000, 1_000_000]) < 1000
    assert combined_ceiling([4000]) == pytest.approx(4000)


@pytest.mark.parametrize("rates", [[], [1000, 0], [1000, -5]])
def test_a_missing_or_zero_ceiling_has_no_combined_ceiling(rates):
    with pytest.raises(ValueError, match="positive"):
        combined_ceiling(rates)


def test_the_combined_ceiling_takes_the_faster_cql_shape():
    ceilings = {"kafka_decode": {"rate": 100_000}, "cql_write": {"rate": 20_000, "method": "batched"},
                "redis_write": {"rate": 100_000}}
    faster_rows = {"cql_write": ceilings["cql_write"],
                   "cql_write_row_by_row": {"rate": 50_000, "method": "one request per row"}}
    found = combine_ceilings(ceilings, faster_rows, 10_000)
    assert found["combined_ceiling"]["cql_shape"] == "cql_write_row_by_row"
    assert found["combined_ceiling"]["of"]["cql_write"] == 50_000
    assert found["combined_ceiling"]["rate"] == 25_000  # 1 / (1/100k + 1/50k + 1/100k)
    assert found["ratio_to_combined"] == 0.4


def test_the_ingest_section_keeps_the_ratio_to_the_slowest_beside_the_combined_one():
    ingest = full_report()["sections"]["ingest"]
    assert ingest["slowest_ceiling"] == "cql_write"
    assert ingest["ratio_to_slowest"] == pytest.approx(7_610 / 26_322, abs=1e-3)
    assert ingest["combined_ceiling"]["rate"] == 17_956
    assert ingest["combined_ceiling"]["cql_method"] == "unlogged batches by partition"
    assert ingest["ratio_to_combined"] == pytest.approx(0.424, abs=1e-3)


# -- the flat object --------------------------------------------------------------------------


def test_every_fixed_key_is_there_with_null_when_nothing_was_measured():
    flat = flatten({"started_at": "2026-12-03T10:00:00+00:00", "size": "small", "commit": "abc",
                    "stack": {"kind": "single-node"}, "sections": {}})
    assert list(flat) == [key for key, _ in FLAT_KEYS]
    assert ISSUE_KEYS - set(flat) == set()
    assert (flat["commit"], flat["size"], flat["stack_kind"]) == ("abc", "small", "single-node")
    figures = {k: v for k, v in flat.items() if k not in ("started_at", "commit", "size", "stack_kind")}
    assert set(figures.values()) == {None}


def test_the_figures_are_read_from_their_sections():
    flat = flatten(full_report())
    assert flat["ingest_views_per_s"] == 7_610
    assert flat["ingest_views_before"] == 0
    assert (flat["ceiling_decode_per_s"], flat["ceiling_cql_per_s"], flat["ceiling_redis_per_s"]) \
        == (110_550, 26_322, 115_528)
    assert flat["ceiling_cql_row_by_row_per_s"] == 7_497
    assert flat["combined_ceiling_views_per_s"] == 17_956
    assert flat["ingest_ratio"] == pytest.approx(0.424, abs=1e-3)
    assert flat["ingest_ratio_to_slowest"] == pytest.approx(0.289, abs=1e-3)
    assert (flat["tray_images_rps"], flat["tray_text_rps"], flat["bare_rps"]) == (710, 2013, 2359)
    assert (flat["story_list_rps"], flat["bare_story_list_rps"]) == (718, 4837)
    assert flat["tray_images_ratio"] == pytest.approx(0.301, abs=1e-3)
    assert (flat["worker_rss_mib"], flat["gateway_rss_mib"]) == (693.0, 347.0)
    assert (flat["commit"], flat["size"], flat["stack_kind"]) == ("abc1234def", "full", "single-node")


def test_the_soak_keys_are_its_baseline_end_and_growth():
    flat = flatten(full_report())
    assert (flat["soak_seconds"], flat["soak_background_per_s"]) == (600, 998)
    assert (flat["worker_rss_soak_start_mib"], flat["worker_rss_soak_end_mib"]) == (693.0, 710.0)
    assert flat["worker_rss_growth_pct"] == pytest.approx(2.45, abs=0.01)
    assert (flat["gateway_rss_soak_start_mib"], flat["gateway_rss_soak_end_mib"]) == (347.0, 350.0)
    assert flat["gateway_rss_growth_pct"] == pytest.approx(0.86, abs=0.01)


def test_latency_keys_are_the_lightest_load_and_each_load_has_its_own():
    flat = flatten(full_report())
    assert (flat["post_to_tray_p99_ms"], flat["view_to_list_p99_ms"]) == (200.0, 800.0)
    assert flat["freshness_background_per_s"] == 998
    assert (flat["post_to_tray_p99_ms_at_2k"], flat["view_to_list_p99_ms_at_2k"]) == (400.0, 1500.0)
    assert (flat["background_per_s_at_5k"], flat["kept_up_at_5k"]) == (4984, False)
    assert flat["post_to_tray_p99_ms_at_1k"] == flat["post_to_tray_p99_ms"]


def test_the_expiry_keys_are_the_feed_ends_and_the_clean_up():
    flat = flatten(full_report())
    assert flat["expiry_background_per_s"] == 995
    assert (flat["ended_after_expiry_p50_ms"], flat["ended_after_expiry_p99_ms"]) == (300.0, 900.0)
    assert (flat["ended_after_delete_p50_ms"], flat["ended_after_delete_p99_ms"]) == (100.0, 400.0)
    assert (flat["ended_after_api_delete_p50_ms"],
            flat["ended_after_api_delete_p99_ms"]) == (10.0, 50.0)
    assert (flat["expiry_cleanup_p50_ms"], flat["expiry_cleanup_p99_ms"]) == (350.0, 1200.0)


def test_the_expiry_rows_are_in_the_printed_table():
    console = Console(record=True, width=200)
    print_report(full_report(), console)
    text = console.export_text()
    assert "expiry -> live feed `ended` p50 / p95 / p99 ms" in text
    assert "350.0 / 350.0 / 1200.0 (n=100)" in text


@pytest.mark.parametrize("missing", ["gateway", "freshness", "ingest", "soak", "expiry"])
def test_a_section_not_run_or_failed_leaves_its_keys_null(missing):
    for absent in ("not run", "failed"):
        report = full_report()
        if absent == "failed":
            report["sections"][missing] = {"status": "failed", "error": "RuntimeError: boom"}
        else:
            del report["sections"][missing]
        flat = flatten(report)
        assert list(flat) == [key for key, _ in FLAT_KEYS]
        own = {"gateway": ["tray_images_rps", "tray_text_rps", "bare_rps", "gateway_rss_mib"],
               "freshness": ["post_to_tray_p99_ms", "view_to_list_p99_ms", "worker_rss_mib",
                             "post_to_tray_p99_ms_at_5k"],
               "ingest": ["ingest_views_per_s", "combined_ceiling_views_per_s", "ingest_ratio",
                          "ceiling_decode_per_s"],
               "soak": ["soak_seconds", "worker_rss_soak_start_mib", "worker_rss_growth_pct",
                        "gateway_rss_growth_pct"],
               "expiry": ["expiry_background_per_s", "ended_after_expiry_p99_ms",
                          "ended_after_delete_p99_ms", "expiry_cleanup_p99_ms"]}
        assert [flat[key] for key in own[missing]] == [None] * len(own[missing])
        others = [key for section, keys in own.items() if section != missing for key in keys]
        assert None not in [flat[key] for key in others]


def test_a_tray_kind_without_readers_is_null_and_has_no_ratio():
    report = full_report()
    gateway = report["sections"]["gateway"]
    for server in ("gateway", "bare"):
        del gateway[server]["tray_text"]
    gateway.update(ratios_to_bare(gateway["gateway"], gateway["bare"]))
    flat = flatten(report)
    assert (flat["tray_text_rps"], flat["tray_text_ratio"]) == (None, None)
    assert flat["tray_images_rps"] == 710


def test_the_json_file_is_one_flat_object_with_nulls(tmp_path):
    report = full_report()
    del report["sections"]["media"]
    path = write_flat(report, tmp_path / "out" / "figures.json")
    written = json.loads(path.read_text())
    assert list(written) == [key for key, _ in FLAT_KEYS]
    assert not [k for k, v in written.items() if isinstance(v, dict | list)]
    assert written["media_images_per_s"] is None and "null" in path.read_text()
    assert written["ingest_views_per_s"] == 7_610


def test_an_older_report_flattens_with_what_it_measured():
    """A small run of 2026-12-02, written before the combined ceiling and text-only trays."""
    old = json.loads(OLDER_REPORT.read_text())
    flat = flatten(old)
    sections = old["sections"]
    assert flat["ingest_views_per_s"] == sections["ingest"]["end_to_end"]["rate"]
    assert flat["tray_images_rps"] == sections["gateway"]["gateway"]["tray"]["rate"]
    assert flat["post_to_tray_p99_ms"] == sections["freshness"]["post_to_tray"]["p99_ms"]
    assert flat["worker_rss_mib"] == round(sections["freshness"]["worker_rss_bytes"] / MIB, 1)
    assert flat["combined_ceiling_views_per_s"] is None and flat["tray_text_rps"] is None


# -- the targets ------------------------------------------------------------------------------


def test_the_targets_are_the_issues():
    assert {t.name: (t.op, t.threshold) for t in TARGETS} == {
        "ingest_rate": (">=", 12_000), "ingest_ratio": (">=", 0.8),
        "post_to_tray_p99": ("<", 250), "view_to_list_p99": ("<", 1000),
        "tray_images_rate": (">=", 3000), "tray_images_ratio": (">=", 0.6),
        "story_list_ratio": (">=", 0.6), "worker_rss": ("<=", 762.3), "gateway_rss": ("<=", 381.7),
        "worker_rss_growth": ("<", 5), "gateway_rss_growth": ("<", 5),
    }


def test_the_baseline_run_misses_the_throughput_targets_and_meets_the_rest():
    found = judged(full_report())
    assert {name: t["met"] for name, t in found.items()} == {
        "ingest_rate": False, "ingest_ratio": False, "post_to_tray_p99": True,
        "view_to_list_p99": True, "tray_images_rate": False, "tray_images_ratio": False,
        "story_list_ratio": False, "worker_rss": True, "gateway_rss": True,
        "worker_rss_growth": True, "gateway_rss_growth": True,
    }
    assert found["ingest_rate"]["value"] == 7_610
    assert found["worker_rss"]["value"] == 693.0


def test_a_ratio_below_0_7_asks_for_its_reasons_and_one_between_does_not():
    report = full_report()
    assert "docs/benchmarks.md must give the reasons" in judged(report)["ingest_ratio"]["note"]
    report["sections"]["ingest"]["ratio_to_combined"] = 0.75
    between = judged(report)["ingest_ratio"]
    assert (between["met"], between["note"]) == (False, "")
    report["sections"]["ingest"]["ratio_to_combined"] = 0.8
    assert judged(report)["ingest_ratio"]["met"] is True


def test_thresholds_are_inclusive_where_the_issue_says_at_least():
    report = full_report()
    report["sections"]["ingest"]["end_to_end"]["rate"] = 12_000
    report["sections"]["gateway"]["gateway"]["tray"]["rate"] = 2_999
    found = judged(report)
    assert found["ingest_rate"]["met"] is True
    assert found["tray_images_rate"]["met"] is False


def test_nothing_measured_is_not_measured_rather_than_missed():
    found = judged({"sections": {}})
    assert {t["met"] for t in found.values()} == {None}
    assert {t["note"] for t in found.values()} == {""}


def test_a_latency_met_under_a_lighter_background_is_not_the_target():
    report = full_report()
    report["sections"]["freshness"] = at_loads([freshness_load(300, 297, 0.1, 0.2)])
    found = judged(report)["post_to_tray_p99"]
    assert found["value"] == 100.0 and found["met"] is False
    assert "background reached 297 events/s, not 1,000" in found["note"]


def test_a_latency_after_the_worker_fell_behind_cites_the_load_it_kept_up_with():
    report = full_report()
    first = freshness_load(1000, 1000, 0.2, 0.3, kept_up=False)
    first["sustainable"] = freshness_load(600, 598, 0.15, 0.9)
    report["sections"]["freshness"] = at_loads([first])
    found = judged(report)
    assert found["post_to_tray_p99"]["met"] is False
    assert "the worker fell behind (lag 40,000" in found["post_to_tray_p99"]["note"]
    assert "at 598/s: p99 150.0 ms" in found["post_to_tray_p99"]["note"]
    assert "at 598/s: p99 900.0 ms" in found["view_to_list_p99"]["note"]


def test_a_latency_missed_stays_missed_whatever_the_notes():
    report = full_report()
    report["sections"]["freshness"] = at_loads([freshness_load(1000, 1000, 0.3, 1.2)])
    found = judged(report)
    assert (found["post_to_tray_p99"]["met"], found["view_to_list_p99"]["met"]) == (False, False)
    assert found["post_to_tray_p99"]["note"] == ""


def test_memory_above_ten_percent_over_the_baseline_is_missed():
    report = full_report()
    report["sections"]["freshness"]["worker_rss_bytes"] = 800 * MIB
    assert judged(report)["worker_rss"]["met"] is False


def test_growth_of_five_percent_or_more_over_the_soak_is_missed():
    report = full_report()
    report["sections"]["soak"] = soak_section(worker_mib=(600, 630), gateway_mib=(300, 330))
    found = judged(report)
    assert (found["worker_rss_growth"]["value"], found["worker_rss_growth"]["met"]) == (5.0, False)
    assert (found["gateway_rss_growth"]["value"], found["gateway_rss_growth"]["met"]) == (10.0, False)


@pytest.mark.parametrize(("seconds", "reached", "note"), [
    (60, 998, "the soak lasted 60 s, not 600"),
    (600, 300, "background reached 300 events/s, not 1,000"),
])
def test_a_short_or_light_soak_is_not_the_target(seconds, reached, note):
    report = full_report()
    report["sections"]["soak"] = soak_section(seconds=seconds, reached=reached)
    for name in ("worker_rss_growth", "gateway_rss_growth"):
        found = judged(report)[name]
        assert found["value"] < 5 and found["met"] is False and found["note"] == note


def test_a_worker_behind_the_soak_load_is_not_the_worker_target():
    report = full_report()
    report["sections"]["soak"].update(kept_up=False, consumed_rate=580, lag_at_end=54_989)
    found = judged(report)
    assert found["worker_rss_growth"]["met"] is False
    assert found["worker_rss_growth"]["note"] == ("the worker fell behind (consumed 580 events/s, "
                                                  "lag 54,989 at the end)")
    assert (found["gateway_rss_growth"]["met"], found["gateway_rss_growth"]["note"]) == (True, "")


# -- the freshness section, the table, the options, the record --------------------------------


def test_the_freshness_section_puts_the_lightest_load_on_top_and_the_last_memory():
    section = at_loads([freshness_load(5000, 4900, 5.0, 9.0, rss_mib=700),
                        freshness_load(1000, 990, 0.2, 0.5, rss_mib=600)])
    assert section["background_target_rate"] == 1000 and section["post_to_tray"]["p99_ms"] == 200.0
    assert [load["background_target_rate"] for load in section["loads"]] == [1000, 5000]
    assert section["worker_rss_bytes"] == 700 * MIB


def test_the_table_shows_the_combined_ceiling_each_load_and_both_trays():
    console = Console(record=True, width=200)
    print_report(full_report(), console)
    text = console.export_text()
    assert "combined ceiling" in text and "17,956" in text and "0.424" in text
    assert "views loaded before the measurement" in text
    for rate in ("1,000", "2,000", "5,000"):
        assert f"at {rate}/s: post -> tray" in text
    assert "text-only tray, reads/s" in text and "2,013 (1.0 / 104.0)" in text
    assert "ingest >= 12,000 views/s end to end" in text
    assert "600 s at 998 events/s, 70 reads/s" in text
    assert "998 (120)" in text and "693.0 -> 710.0 (+2.5 %)" in text and "347.0 -> 350.0 (+0.9 %)" in text
    assert "worker RSS growth < 5 % over the soak" in text


def test_background_rates_repeat_and_zero_keeps_the_sizes_own():
    assert _overrides([1000.0, 2000.0], None) == {"background_rates": (1000.0, 2000.0)}
    assert _overrides([0.0], 2) == {"worker_processes": 2}
    assert _overrides(None, None) == {}
    assert _overrides(None, None, 60.0) == {"soak_seconds": 60.0}
    assert (suite.SIZES["full"].soak_seconds, suite.SIZES["full"].soak_rate) == (600, 1000)
    assert suite.SIZES["full"].background_rates == (1000, 2000, 5000)


@pytest.mark.parametrize(("full", "replaced"), [(True, True), (False, False)])
def test_recording_keeps_the_latest_full_run_beside_the_log(tmp_path, monkeypatch, full, replaced):
    log, latest = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"
    log.write_text(f"# Benchmarks\n\n{RESULTS_MARKER}\n| when |\n|---|\n")
    latest.write_text('{"commit": "older"}\n')
    monkeypatch.setattr(suite, "RESULTS_LOG", log)
    monkeypatch.setattr(suite, "LATEST_FULL_RUN", latest)
    report = copy.deepcopy(full_report())
    suite._record(report, Console(file=None, quiet=True), full=full)
    assert log.read_text().count("abc1234d") == 1
    kept = json.loads(latest.read_text())
    assert (kept["commit"] == "abc1234def") is replaced
    if replaced:
        assert kept["ingest_views_per_s"] == 7_610 and kept["combined_ceiling_views_per_s"] == 17_956


def test_the_combined_ceiling_takes_the_best_of_several_batch_shapes():
    ceilings = {"kafka_decode": {"rate": 100_000}, "cql_write": {"rate": 20_000, "method": "30x10"},
                "redis_write": {"rate": 100_000}}
    others = {"cql_write_100x50": {"rate": 50_000, "method": "100x50"},
              "cql_write_250x100": {"rate": 40_000, "method": "250x100"}}
    found = ceiling_figures({"rate": 10_000}, ceilings, {"rate": 5_000}, others)
    assert found["combined_ceiling"]["cql_shape"] == "cql_write_100x50"
    assert found["combined_ceiling"]["rate"] == 25_000
    assert found["cql_write_shapes"] == others
