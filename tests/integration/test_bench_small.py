"""`stories bench` at tiny size: every section runs and reports sane values (no timing targets)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from bench.gateway_load import RUNS
from bench.http_load import wrk_path
from bench.report import FLAT_KEYS, TARGETS, flatten
from bench.suite import SECTIONS, run_suite
from streams.topics import topic_for


@pytest.fixture(scope="module")
def report(local_stack, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    found, path = run_suite(local_stack, "small", Console(stderr=True, width=120), reports=folder)
    assert path.exists()
    assert json.loads(path.read_text())["sections"].keys() == found["sections"].keys()
    return found


def test_every_section_is_measured(report):
    assert set(report["sections"]) == set(SECTIONS)
    failed = {n: s.get("error") for n, s in report["sections"].items() if s["status"] == "failed"}
    assert failed == {}
    assert report["setup"]["graph_events"] > 0
    assert report["machine"]["cpus"] >= 1 and report["commit"]


def test_ingest_end_to_end_and_ceilings(report):
    ingest = report["sections"]["ingest"]
    assert ingest["end_to_end"]["events"] == ingest["views"] == 3000
    for ceiling in ("kafka_decode", "cql_write", "redis_write"):
        assert ingest["ceilings"][ceiling]["rate"] > 0
        assert ingest["ceilings"][ceiling]["events"] == 3000
    assert ingest["slowest_ceiling"] in ingest["ceilings"]
    assert ingest["ratio_to_slowest"] > 0
    combined = ingest["combined_ceiling"]
    assert 0 < combined["rate"] < min(combined["of"].values())
    shapes = [ingest["ceilings"]["cql_write"], ingest["cql_write_row_by_row"],
              *ingest["cql_write_shapes"].values()]
    assert len(shapes) >= 4  # the configured shape, row by row and at least two others
    assert combined["of"]["cql_write"] == max(shape["rate"] for shape in shapes)
    assert ingest["ratio_to_combined"] > 0
    assert ingest["views_before"] == 0  # ingest runs first
    assert ingest["cpu_us_per_view"]["worker"] > 0


def test_freshness_probes_saw_their_events(report):
    freshness = report["sections"]["freshness"]
    for path in ("post_to_tray", "view_to_viewer_list"):
        latencies = freshness[path]
        assert latencies["count"] >= 1
        assert 0 < latencies["p50_ms"] <= latencies["p95_ms"] <= latencies["p99_ms"] < 30_000
    assert freshness["background_rate"] > 0
    assert freshness["simulate_exit_code"] == 0
    assert [load["background_target_rate"] for load in freshness["loads"]] == [300]


def test_expiry_probes_saw_every_feed_end_and_every_clean_up(report):
    expiry = report["sections"]["expiry"]
    assert expiry["status"] == "measured", expiry
    assert expiry["background_target_rate"] == 300 and expiry["background_rate"] > 0
    for path in ("ended_after_expiry", "ended_after_delete", "ended_after_api_delete",
                 "expiry_cleanup"):
        latencies = expiry[path]
        assert latencies["count"] >= 1, path
        assert 0 <= latencies["p50_ms"] <= latencies["p95_ms"] <= latencies["p99_ms"] < 30_000
    assert expiry["probes_timed_out"] == 0


def test_gateway_and_bare_endpoint_served_reads(report):
    gateway = report["sections"]["gateway"]
    if wrk_path() is None:
        assert gateway["status"] == "waiting" and "wrk" in gateway["reason"]
        pytest.skip("wrk is not installed")
    assert gateway["status"] == "measured", gateway
    readers = {"tray": gateway["tray_readers"]["images"], "tray_text": gateway["tray_readers"]["text"],
               "story_list": gateway["readers"]}
    assert readers["tray"] + readers["tray_text"] >= readers["story_list"] > 0
    for server in ("gateway", "bare"):
        assert set(gateway[server]) - {"rss_bytes"} == {run for run in RUNS if readers[run]}
        for path in gateway[server].keys() - {"rss_bytes"}:
            run = gateway[server][path]
            assert run["requests"] > 0 and run["errors"] == 0, (server, path, run)
            assert 0 < run["p50_ms"] <= run["p99_ms"]
    for run in RUNS:
        assert (gateway[f"{run}_ratio_to_bare"] is None) is (readers[run] == 0)
    assert gateway["gateway_rss_bytes"] > 10 * 2**20
    # The trays again while the simulator loads the worker: every read answered, the load sent.
    under_load = gateway["under_load"]
    assert under_load["reached_per_s"] > 0
    assert set(under_load) & {"tray", "tray_text"} == {
        run for run in ("tray", "tray_text") if readers[run]}
    for run in ("tray", "tray_text"):
        if run in under_load:
            assert under_load[run]["requests"] > 0 and under_load[run]["errors"] == 0, run


def test_soak_sampled_the_worker_and_a_gateway_under_load(report):
    soak = report["sections"]["soak"]
    if wrk_path() is None:
        assert soak["status"] == "waiting" and "wrk" in soak["reason"]
        pytest.skip("wrk is not installed")
    assert soak["status"] == "measured", soak
    assert soak["background_events"] > 0 and soak["simulate_exit_code"] == 0
    assert soak["consumed_rate"] >= 0 and soak["lag_at_end"] >= 0
    assert soak["reads"]["requests"] > 0 and soak["reads"]["errors"] == 0, soak["reads"]
    phases = [sample["phase"] for sample in soak["samples"]]
    assert phases[0] == "warm-up" and phases[-1] == "soak" and phases.count("soak") >= 2
    assert 3 <= soak["seconds"] < 30
    for process, floor_mib in (("worker", 50), ("gateway", 10)):
        memory = soak[process]
        assert floor_mib * 2**20 < memory["start_rss_bytes"] <= memory["peak_rss_bytes"] < 4 * 2**30
        assert memory["end_rss_bytes"] > floor_mib * 2**20
        assert -50 < memory["growth_pct"] < 100  # a sane figure; the target is never asserted
        assert all(sample[f"{process}_rss_bytes"] > 0 for sample in soak["samples"])


def test_replay_rebuilt_every_topic(report):
    replay = report["sections"]["replay"]
    assert replay["events"] > 3000 and replay["rate"] > 0
    assert {"social-graph", "story-lifecycle", "engagement"} <= set(replay["folds"])


def test_fanout_counts_push_and_pull(report):
    if report["sections"]["fanout"]["status"] == "skipped":
        pytest.skip(report["sections"]["fanout"]["reason"])
    posts = report["sections"]["fanout"]["posts"]
    big, celebrity = posts["big_pushed"], posts["celebrity_pulled"]
    assert big["trays_with_entry"] == big["followers"]  # a tray entry per follower
    assert big["redis_round_trips"] < 20  # tray writes go out batched, not one per follower
    assert celebrity["trays_with_entry"] == 0 and celebrity["redis_writes"] < 20  # pulled
    assert all(p["cql_requests"] >= 1 for p in posts.values())


def test_footprint_figures_are_plausible(report):
    footprint = report["sections"]["footprint"]
    assert 50 * 2**20 < footprint["worker_rss_bytes"] < 4 * 2**30
    redis = footprint["redis"]
    assert redis["active_stories"] > 0 and 100 < redis["bytes_per_active_story"] < 20_000
    assert redis["tray_entries"] > 0 and 20 < redis["bytes_per_tray_entry"] < 5_000
    cql = footprint["cql"]
    assert cql["rows"] == 3000 and 5 < cql["bytes_per_viewer_row"] < 2_000
    for kind in ("seen", "follow", "expiry"):
        assert redis[f"{kind}_entries"] > 0 and 10 < redis[f"bytes_per_{kind}_entry"] < 5_000
    topics = footprint["kafka"]["topics"]
    assert topics["engagement"]["events"] >= 3000
    for topic in ("engagement", "story-lifecycle", "social-graph"):
        assert 20 < topics[topic]["bytes_per_event"] < 5_000
    ingest = report["sections"]["ingest"]
    assert ingest["partitions"] == topic_for("StoryViewed").partitions and ingest["event_bytes"] > 20


def test_media_rates_and_targets_listed(report):
    media = report["sections"]["media"]
    assert media["images_per_second"] > 0 and media["video_seconds_per_second"] > 0
    assert [t["name"] for t in report["targets"]] == [t.name for t in TARGETS]
    assert all(t["met"] in (True, False, None) for t in report["targets"])


def test_the_flat_figures_hold_what_the_small_run_measured(report):
    flat = flatten(report)
    assert list(flat) == [key for key, _ in FLAT_KEYS]
    for key in ("ingest_views_per_s", "combined_ceiling_views_per_s", "ingest_ratio",
                "ceiling_decode_per_s", "ceiling_cql_per_s", "ceiling_redis_per_s",
                "post_to_tray_p99_ms", "view_to_list_p99_ms", "worker_rss_mib", "replay_events_per_s",
                "ended_after_expiry_p99_ms", "ended_after_delete_p99_ms",
                "ended_after_api_delete_p99_ms", "expiry_cleanup_p99_ms",
                "soak_seconds", "soak_background_per_s", "worker_rss_soak_start_mib",
                "worker_rss_soak_end_mib", "gateway_rss_soak_start_mib", "gateway_rss_soak_end_mib"):
        assert flat[key] > 0, key
    assert None not in (flat["worker_rss_growth_pct"], flat["gateway_rss_growth_pct"])
    assert flat["post_to_tray_p99_ms_at_1k"] is None  # the small size loads 300 events/s only
    assert flat["size"] == "small" and flat["commit"] == report["commit"]
