"""The worker's faust app: its event loop."""

from __future__ import annotations

import subprocess
import sys

LOOP_CHECK = """
import asyncio, faust, uvloop
from stories.worker import use_uvloop
use_uvloop()
app = faust.App("unit-loop", broker="kafka://127.0.0.1:1", web_enabled=False)
assert isinstance(app.loop, uvloop.Loop), type(app.loop)
assert isinstance(asyncio.new_event_loop(), uvloop.Loop)  # the consumer thread's loop
"""


def test_the_worker_runs_on_uvloop() -> None:
    """In an interpreter of its own: the loop policy is the whole process's."""
    subprocess.run([sys.executable, "-c", LOOP_CHECK], check=True, timeout=60)

