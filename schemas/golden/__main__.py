"""``python -m schemas.golden [--write [--overwrite]]``: check or create the golden files."""

from __future__ import annotations

import argparse
import sys

from schemas import CATALOGUE
from schemas.golden import problems, write_missing


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """Checking is the default; writing is always asked for explicitly."""
    parser = argparse.ArgumentParser(prog="python -m schemas.golden", description=__doc__)
    parser.add_argument("--write", action="store_true", help="create missing .bin files")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="with --write, also replace published .bin files (breaks old readers' proof)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every golden file is present and current, 1 otherwise."""
    arguments = _arguments(argv)
    if arguments.overwrite and not arguments.write:
        sys.stderr.write("--overwrite only makes sense with --write\n")
        return 2
    if arguments.write:
        for path in write_missing(CATALOGUE, overwrite=arguments.overwrite):
            sys.stdout.write(f"wrote {path}\n")
    found = problems(CATALOGUE)
    for problem in found:
        sys.stdout.write(f"{problem}\n")
    if not found:
        sys.stdout.write(f"golden files OK for {len(CATALOGUE.event_names)} events\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
