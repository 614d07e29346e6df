"""The worker's faust app: its event loop, its monitor, its consumer."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from faust.types import TP

from core.settings import Settings
from stories.worker import new_app
from streams.consumer import BatchRacingConsumer
from streams.monitor import LeanMonitor

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


def test_the_monitor_keeps_only_when_each_stream_last_took_an_event() -> None:
    monitor, tp = LeanMonitor(), TP("unit.engagement", 3)
    message, stream, event = SimpleNamespace(time_in=None), object(), object()

    monitor.on_message_in(tp, 7, message)  # type: ignore[arg-type]
    state = monitor.on_stream_event_in(tp, 7, stream, event)
    monitor.on_stream_event_out(tp, 7, stream, event, state)
    monitor.on_message_out(tp, 7, message)  # type: ignore[arg-type]
    monitor.track_tp_end_offset(tp, 9)

    assert tp in monitor.stream_inbound_time
    assert (monitor.messages_received_total, monitor.events_total, len(monitor.events_runtime)) \
        == (0, 0, 0)
    assert message.time_in is None
    assert monitor.tp_end_offsets == {}


def test_the_worker_app_has_the_lean_monitor_and_the_batch_racing_consumer() -> None:
    app = new_app(Settings())

    assert isinstance(app.monitor, LeanMonitor)
    assert type(app.consumer) is BatchRacingConsumer
