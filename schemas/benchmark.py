"""``python -m schemas.benchmark``: encode and decode rates on one core, to spot regressions."""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from schemas import CATALOGUE

__all__ = ["main", "rates"]

_STORY_ID = "0b6f4c1e-2d7a-4e8b-9c3f-5a1d2e3f4a5b"
_SAMPLES: dict[str, dict[str, Any]] = {
    "StoryViewed": {"story_id": _STORY_ID, "author_id": "user-ada"},
    "StoryPosted": {
        "story_id": _STORY_ID,
        "kind": "IMAGE",
        "media_id": "upload-1",
        "caption": "Sunrise over the bay",
        "stickers": [
            {
                "sticker_id": "poll-1",
                "kind": "POLL",
                "prompt": "Coffee or tea?",
                "options": ["Coffee", "Tea"],
                "correct_option": None,
                "emoji": None,
            }
        ],
    },
}


def _per_second(call: Callable[[], object], number: int) -> float:
    """Best of three runs, so a busy neighbour does not decide the figure."""
    return number / min(timeit.repeat(call, number=number, repeat=3))


def rates(event_name: str, number: int = 100_000) -> dict[str, float]:
    """Events per second for encode (validation included) and decode (rules included)."""
    record = CATALOGUE.new_event(
        event_name, "user-grace", occurred_at=datetime.now(UTC), **_SAMPLES[event_name]
    )
    data = CATALOGUE.encode(event_name, record)
    return {
        "encode": _per_second(lambda: CATALOGUE.encode(event_name, record), number),
        "decode": _per_second(lambda: CATALOGUE.decode(data), number),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the rates of each sample event."""
    parser = argparse.ArgumentParser(prog="python -m schemas.benchmark", description=__doc__)
    parser.add_argument("--number", type=int, default=100_000, help="calls per timing run")
    arguments = parser.parse_args(argv)
    for event_name in _SAMPLES:
        for operation, rate in rates(event_name, arguments.number).items():
            sys.stdout.write(f"{event_name:<12} {operation}: {rate:>10,.0f} events/s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
