"""`make reliability`: run every fault scenario against the local stack and print the table."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core.settings import Settings
from reliability.scenarios import SCENARIOS, SECURITY, Row, Size

SIZES = {
    "small": Size(users=20, stories=10, views=600, kills=2),
    "full": Size(users=200, stories=100, views=40_000, kills=5),
}


def _table(rows: list[Row]) -> Table:
    table = Table("scenario", "load", "faults injected", "events in", "reflected", "lost",
                  "duplicated", "leaks", "≠ replay", title="reliability")
    for r in rows:
        table.add_row(r.scenario, r.load, r.faults, str(r.events_in), str(r.reflected),
                      str(r.lost), str(r.duplicated), str(r.leaks), str(r.replay_diff),
                      style=None if r.clean else "red")
    return table


def _record(rows: list[Row], command: str) -> None:
    """Append this run to docs/reliability.md's results log."""
    path = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n### {stamp} — `{command}`\n\n",
             "| scenario | load | faults injected | events in | reflected | lost | duplicated "
             "| leaks | ≠ replay |\n|---|---|---|---|---|---|---|---|---|\n"]
    lines += [f"| {r.scenario} | {r.load} | {r.faults} | {r.events_in} | {r.reflected} | "
              f"{r.lost} | {r.duplicated} | {r.leaks} | {r.replay_diff} |\n" for r in rows]
    with path.open("a") as out:
        out.writelines(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--only", action="append", choices=sorted({**SCENARIOS, **SECURITY}))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="append to docs/reliability.md")
    args = parser.parse_args()
    console = Console(width=200)
    settings = Settings()
    rows = []
    every = {**SCENARIOS, **SECURITY}
    for name in args.only or list(every):
        began = time.monotonic()
        with console.status(f"{name}…"), tempfile.TemporaryDirectory() as work:
            rows.append(every[name](settings, SIZES[args.size], Path(work), args.seed))
        console.print(f"{name}: done in {time.monotonic() - began:.0f} s")
    console.print(_table(rows))
    if args.record:
        _record(rows, "python -m reliability " + " ".join(sys.argv[1:]))
    return 0 if all(r.clean for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
