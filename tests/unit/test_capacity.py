"""The capacity plan: its formulas on a hand-made report, its errors, and the committed doc."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from bench.capacity import (
    BEGIN,
    DOC,
    DOC_REPORT,
    END,
    Assumptions,
    MissingFigure,
    capacity_plan,
    limits,
    measured,
    regenerate,
    render,
    rewrite_block,
)
from stories.cli import app

REPORT = {
    "started_at": "2026-12-01T10:00:00+00:00", "size": "full", "commit": "abc123",
    "command": "stories bench --size full", "machine": {"cpus": 2, "load_before": 1.0},
    "sections": {
        "ingest": {"cpu_us_per_view": {"worker": 100.0, "redis": 10.0, "cassandra": 40.0,
                                       "kafka": 5.0},
                   "partitions": 12, "event_bytes": 100.0},
        "gateway": {"gateway": {"tray": {"redis_cpu_us_per_read": 50.0}}},
        "footprint": {
            "redis": {"bytes_per_active_story": 1000.0, "bytes_per_expiry_entry": 50.0,
                      "bytes_per_tray_entry": 200.0, "counter_bytes_per_view": 100.0,
                      "bytes_per_seen_entry": 80.0, "bytes_per_follow_entry": 100.0},
            "cql": {"bytes_per_viewer_row": 20.0},
            "kafka": {"topics": {"engagement": {"bytes_per_event": 100.0},
                                 "story-lifecycle": {"bytes_per_event": 200.0},
                                 "social-graph": {"bytes_per_event": 50.0}}},
        },
    },
}


def plan(report=REPORT, **assumed):
    return capacity_plan(measured(report), replace(Assumptions(), **assumed))


def test_worker_processes_follow_the_peak_and_the_cpu_per_view():
    # 1.7M views/s x 100 us x headroom 2 = 340 cores, one process each.
    assert plan()["worker_processes"] == 340
    assert plan(peak_view_writes_per_s=3.4e6)["worker_processes"] == 680
    slower = copy.deepcopy(REPORT)
    slower["sections"]["ingest"]["cpu_us_per_view"]["worker"] = 200.0
    assert plan(slower)["worker_processes"] == 680


def test_partitions_leave_room_for_the_workers_to_double():
    sheet = plan()
    assert sheet["engagement_partitions"] >= 2 * sheet["worker_processes"]
    assert sheet["engagement_partitions"] == 1024  # 680 up to a power of two


def test_redis_memory_is_items_held_times_measured_bytes():
    sheet = plan()
    views_per_day = 1.7e6 / 2 * 86_400
    assert sheet["redis_counters"] == pytest.approx(views_per_day * 31 * 100.0)
    assert sheet["redis_memory"] == pytest.approx(2 * sheet["redis_data"])
    assert plan(insights_days=0)["redis_counters"] == pytest.approx(views_per_day * 100.0)


def test_scylla_nodes_scale_with_replication_and_cpu():
    sheet = plan()
    # 1.7M x 40 us x RF 3 x headroom 2 = 408 cores on 32-core nodes.
    assert sheet["cql_cores"] == pytest.approx(408)
    assert sheet["scylla_nodes"] == 13
    assert plan(cql_replication=1)["scylla_nodes"] == 5


def test_forever_topics_grow_every_year_without_a_policy_and_stay_bounded_with_it():
    sheet = plan(horizon_years=3)
    assert sheet["forever_after_2y"] == pytest.approx(2 * sheet["forever_after_1y"])
    assert sheet["forever_with_policy"] < sheet["forever_after_3y"]


def test_limits_put_the_most_loaded_bound_first():
    found = limits(plan())
    assert [b.ratio for b in found] == sorted((b.ratio for b in found), reverse=True)
    partitions = next(b for b in found if "catalogue" in b.name)
    assert partitions.limit == pytest.approx(12 * 1e6 / 100.0)


def test_a_missing_figure_names_its_json_key():
    lacking = copy.deepcopy(REPORT)
    del lacking["sections"]["ingest"]["cpu_us_per_view"]["redis"]
    with pytest.raises(MissingFigure, match=r"sections\.ingest\.cpu_us_per_view\.redis"):
        measured(lacking)


def test_a_failed_section_is_a_missing_figure_too():
    failed = copy.deepcopy(REPORT)
    failed["sections"]["footprint"] = {"status": "failed", "error": "boom"}
    with pytest.raises(MissingFigure) as raised:
        measured(failed)
    assert "sections.footprint.redis.bytes_per_active_story" in str(raised.value)
    assert "sections.footprint.cql.bytes_per_viewer_row" in str(raised.value)
    assert "sections.ingest" not in str(raised.value)


def test_the_block_names_the_report_and_shows_each_formula():
    block = render(REPORT)
    assert block.startswith(BEGIN) and block.endswith(END)
    assert "`bench-20261201T100000Z.json`" in block and "commit abc123" in block
    assert "| `worker_processes` | 340 | ⌈`worker_cores` ÷ `worker_cores_per_process`⌉ |" in block


def test_rewrite_replaces_only_the_block():
    text = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    assert rewrite_block(text, f"{BEGIN}\nnew\n{END}") == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"
    with pytest.raises(ValueError, match="no generated block"):
        rewrite_block("no markers", "x")


def test_write_keeps_the_report_beside_the_doc(tmp_path):
    report, doc, kept = tmp_path / "bench-x.json", tmp_path / "scaling.md", tmp_path / "kept.json"
    report.write_text(json.dumps(REPORT))
    doc.write_text(f"intro\n{BEGIN}\n{END}\n")
    regenerate(report, write=True, doc=doc, kept=kept)
    assert json.loads(kept.read_text()) == REPORT
    assert "| `worker_processes` | 340 |" in doc.read_text()


def test_the_committed_doc_is_what_its_committed_report_renders():
    block = render(json.loads(DOC_REPORT.read_text()))
    assert block in DOC.read_text(), "regenerate with `stories bench capacity --write`"


def test_the_command_reports_a_missing_figure_and_fails(tmp_path):
    lacking = copy.deepcopy(REPORT)
    del lacking["sections"]["footprint"]["cql"]
    path = tmp_path / "bench-x.json"
    path.write_text(json.dumps(lacking))
    result = CliRunner().invoke(app, ["bench", "capacity", "--report", str(path)])
    assert result.exit_code == 1
    assert "sections.footprint.cql.bytes_per_viewer_row" in result.output
