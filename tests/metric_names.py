"""The metric names that infra/observability's dashboard and alert rules query, and the names a
process's /metrics exposes, so tests can check the one against the other.

Each referenced name is owed by one process: `stories_gateway_*` by the gateway,
`stories_replay_*` by `stories replay` (its own registry), every other `stories_*` by the worker.
The gateway imports the worker's metric definitions too, so a union of both scrapes would hide a
worker metric the worker no longer serves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["OBSERVABILITY", "dashboard", "dashboard_queries", "alert_rules", "referenced",
           "exposed", "owner", "missing"]

OBSERVABILITY = Path(__file__).resolve().parents[1] / "infra" / "observability"
NAME = re.compile(r"\bstories_[a-z0-9_]+")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# The sample names a family of each type exposes (prometheus_client's text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((OBSERVABILITY / "dashboard.json").read_text())
    return loaded


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    return [p for panel in panels for p in [panel, *_panels(panel.get("panels", []))]]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    return [(panel["title"], target["expr"]) for panel in _panels(dashboard()["panels"])
            for target in panel.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def referenced() -> set[str]:
    """The stories_ names that the dashboard's and the alerts' expressions query (label values
    in quotes left out)."""
    exprs = [expr for _, expr in dashboard_queries()] + [r["expr"] for r in alert_rules()]
    return {name for expr in exprs for name in NAME.findall(QUOTED.sub('""', expr))}


def exposed(text: str) -> set[str]:
    """Every sample name the families of an exposition declare, whether or not they have
    samples yet (a labelled counter nobody has incremented shows only HELP and TYPE)."""
    return {family.name + suffix for family in text_string_to_metric_families(text)
            for suffix in SUFFIXES.get(family.type, ("",))}


def owner(name: str) -> str:
    """The process that should expose a referenced name."""
    for prefix, process in (("stories_gateway_", "gateway"), ("stories_replay_", "replay")):
        if name.startswith(prefix):
            return process
    return "worker"


def missing(text: str, process: str) -> list[str]:
    """The names the dashboard or the alerts query for `process` that its exposition lacks."""
    return sorted(n for n in referenced() if owner(n) == process and n not in exposed(text))
