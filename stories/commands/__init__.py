"""What each `stories` subcommand does; stories/cli.py declares their arguments and help.

cli.py imports a command's module only when that command runs, so `stories --help` and the
light commands stay fast however heavy the others' dependencies are.
"""

from __future__ import annotations

__all__: list[str] = []
