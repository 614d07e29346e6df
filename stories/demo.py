"""`make demo`: the whole pipeline on a small realistic world, showing what each part did."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

from confluent_kafka import Consumer, Producer
from rich.console import Console
from rich.table import Table

from projections.queries import read_tray, visible_stories
from stories.runtime import Runtime
from stories.settings import get_settings
from streams.sample import build_scenario
from streams.topics import DEAD_LETTER, topic_name

console = Console()


def _start_worker(log_path: str) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen([sys.executable, "-m", "stories.cli", "worker"],
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())


def _emit(runtime: Runtime, world) -> None:
    items = [(i, name, record) for i, (name, record) in enumerate(world.events, start=1)]
    report = runtime.events.emit_many(items)
    counts = Counter(name for name, _ in world.events)
    table = Table("event", "count", title=f"emitted {report.delivered} events, "
                                          f"{report.failed} failed")
    for name, count in counts.most_common():
        table.add_row(name, str(count))
    console.print(table)


def _wait_for(predicate, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    with console.status(f"waiting for {what}"):
        while time.monotonic() < deadline:
            if predicate():
                console.print(f"[green]✓[/green] {what}")
                return
            time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")


def _show_trays(models, now_ms: int) -> None:
    table = Table("viewer", "tray (author: unseen?, latest story)", title="trays")
    for viewer in ("user-2", "user-5", "user-9"):
        items = read_tray(models, viewer, now_ms)
        shown = ", ".join(f"{i.author_id}: {'unseen' if i.has_unseen else 'seen'} "
                          f"{i.latest_story_id[:8]}" for i in items) or "(empty)"
        table.add_row(viewer, shown)
    console.print(table)


def _show_privacy(models, world, now_ms: int) -> None:
    table = Table("viewer", "stories of user-0 they may see", title="audience rules")
    for viewer in ("user-2", "user-5", "stranger"):
        stories = visible_stories(models, viewer, "user-0", now_ms)
        labels = {v: k for k, v in world.story_ids.items()}
        names = (labels.get(s.story_id, f"{s.story_id[:8]} (an earlier run)") for s in stories)
        table.add_row(viewer, ", ".join(names) or "(none)")
    console.print(table)


def _show_counters(runtime: Runtime, models, world) -> None:
    public = world.story_ids["public"]
    tallies = models.tallies(public)
    console.print(f"story 'public': views {tallies.views}, unique viewers "
                  f"{tallies.unique_viewers}, replies {tallies.replies}, "
                  f"reactions {tallies.reactions}")
    poll = models.tallies(world.story_ids["photo"]).stickers
    console.print(f"poll on 'photo': {poll}")
    cql = runtime.cql_models()
    from projections.stores.cql_store import VIEWER_BUCKETS

    viewers = [v for b in range(VIEWER_BUCKETS) for v in cql.viewers_page(public, b, "", 50)]
    table = Table("viewer", "first view", "reaction", title="viewer list of 'public' (CQL)")
    for viewer, at, reaction in sorted(viewers, key=lambda v: v[1]):
        table.add_row(viewer, at.isoformat(timespec="seconds"), reaction or "")
    console.print(table)


def _show_dead_letter(runtime: Runtime) -> None:
    """Send a message that is not an event and find it set aside with its reason."""
    settings = runtime.settings
    garbage = f"not an event {time.time_ns()}".encode()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(f"{settings.topic_prefix}.engagement", value=garbage)
    producer.flush(10)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"demo-{time.time_ns()}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic_name(DEAD_LETTER, settings.topic_prefix)])
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is not None and not message.error() and message.value() == garbage:
                headers = {k: v.decode() for k, v in message.headers() or []}
                console.print(
                    f"[green]✓[/green] a malformed message went to {message.topic()} with reason "
                    f"{headers['dlq-reason']!r} (from {headers['dlq-source-topic']}"
                    f"[{headers['dlq-source-partition']}]@{headers['dlq-source-offset']})"
                )
                return
    finally:
        consumer.close()
    console.print("[red]the malformed message did not reach the dead-letter topic[/red]")


def _folded(models, world) -> bool:
    """Every topic's agent has caught up with the world just emitted."""
    tray = read_tray(models, "user-2", int(time.time() * 1000))
    latest = {item.author_id: item.latest_story_id for item in tray}
    return (
        models.tallies(world.story_ids["public"]).unique_viewers == 7
        and latest.get("user-0") == world.story_ids["friends"]
        and latest.get("user-1") == world.story_ids["photo"]
    )


def main() -> None:
    settings = get_settings()
    runtime = Runtime(settings)
    log_path = str(settings.state_dir / "demo-worker.log")
    console.rule("stories demo")
    worker = _start_worker(log_path)
    console.print(f"worker started (pid {worker.pid}, log {log_path})")
    try:
        world = build_scenario()
        _emit(runtime, world)
        models = runtime.redis_models()
        _wait_for(lambda: _folded(models, world), "the worker to fold the events into the read models")
        now_ms = int(time.time() * 1000)
        _show_trays(models, now_ms)
        _show_privacy(models, world, now_ms)
        _show_counters(runtime, models, world)
        _show_dead_letter(runtime)
    finally:
        worker.terminate()
        worker.wait(30)
        runtime.close()
    console.rule("done")


if __name__ == "__main__":
    main()
