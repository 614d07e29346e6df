"""`make reliability`: run every fault scenario against the local stack and print the table;
with --cluster, the node-loss scenarios against the local cluster (`make test-cluster`)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core.settings import CLUSTER_ENV_FILE, ENV_FILE_VARIABLE, Settings
from reliability.scenarios import NODE_LOSS, SCENARIOS, SECURITY, Row, Size

SIZES = {
    "small": Size(users=20, stories=10, views=600, kills=2),
    "full": Size(users=200, stories=100, views=40_000, kills=5),
}
# About 1,000 events/s for 150 s at full size: 60 s before the loss, 30 s down, 60 s after.
CLUSTER_SIZES = {
    "small": Size(users=100, stories=30, views=3_000, kills=1, seconds=30),
    "full": Size(users=2_000, stories=500, views=140_000, kills=1, seconds=150),
}
GATEWAY_COLUMNS = ("gateway reads", "gateway errors", "longest gap s")


def _table(rows: list[Row]) -> Table:
    probed = any(r.gateway_reads is not None for r in rows)
    table = Table("scenario", "load", "faults injected", "events in", "reflected", "lost",
                  "duplicated", "leaks", "≠ replay", *(GATEWAY_COLUMNS if probed else ()),
                  title="reliability")
    for r in rows:
        table.add_row(*_cells(r, probed), style=None if r.clean else "red")
    return table


def _cells(r: Row, probed: bool) -> list[str]:
    cells = [r.scenario, r.load, r.faults, str(r.events_in), str(r.reflected), str(r.lost),
             str(r.duplicated), str(r.leaks), str(r.replay_diff)]
    if probed:
        gap = "-" if r.longest_gap_s is None else f"{r.longest_gap_s:.1f}"
        cells += [str(r.gateway_reads if r.gateway_reads is not None else "-"),
                  str(r.gateway_errors if r.gateway_errors is not None else "-"), gap]
    return cells


def _record(rows: list[Row], command: str) -> None:
    """Append this run to docs/reliability.md's results log."""
    path = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    probed = any(r.gateway_reads is not None for r in rows)
    header = ["scenario", "load", "faults injected", "events in", "reflected", "lost",
              "duplicated", "leaks", "≠ replay", *(GATEWAY_COLUMNS if probed else ())]
    lines = [f"\n### {stamp} — `{command}`\n\n", "| " + " | ".join(header) + " |\n",
             "|" + "---|" * len(header) + "\n"]
    lines += ["| " + " | ".join(_cells(r, probed)) + " |\n" for r in rows]
    with path.open("a") as out:
        out.writelines(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--only", action="append",
                        choices=sorted({**SCENARIOS, **SECURITY, **NODE_LOSS}))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="append to docs/reliability.md")
    parser.add_argument("--cluster", action="store_true",
                        help="the node-loss scenarios, on the local cluster (stories up --cluster)")
    args = parser.parse_args()
    console = Console(width=200)
    if args.cluster:
        os.environ.setdefault(ENV_FILE_VARIABLE, str(CLUSTER_ENV_FILE))
    settings = Settings()
    rows = []
    every = NODE_LOSS if args.cluster else {**SCENARIOS, **SECURITY}
    size = (CLUSTER_SIZES if args.cluster else SIZES)[args.size]
    for name in args.only or list(every):
        began = time.monotonic()
        with console.status(f"{name}…"), tempfile.TemporaryDirectory() as work:
            rows.append({**every, **NODE_LOSS}[name](settings, size, Path(work), args.seed))
        console.print(f"{name}: done in {time.monotonic() - began:.0f} s")
    console.print(_table(rows))
    if args.record:
        _record(rows, "python -m reliability " + " ".join(sys.argv[1:]))
    return 0 if all(r.clean for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
