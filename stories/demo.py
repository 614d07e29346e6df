"""`make demo`: the whole pipeline on a small realistic world, showing what each part did."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from confluent_kafka import Consumer, Producer
from rich.console import Console
from rich.table import Table

from core.clients import kafka_config
from core.clock import now_ms
from core.settings import Settings, get_settings
from projections.queries import read_tray, visible_stories
from projections.runtime import Runtime
from projections.stores.cql_reads import FROM_START, viewers_page
from projections.stores.redis_store import RedisReadModels
from simulation.sample import Scenario, build_scenario
from streams.topics import DEAD_LETTER, topic_name

if TYPE_CHECKING:
    import httpx

console = Console()


def _start_worker(log_path: str) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen([sys.executable, "-m", "stories.cli", "worker"],
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())


def _emit(runtime: Runtime, world: Scenario) -> None:
    items = [(i, name, record) for i, (name, record) in enumerate(world.events, start=1)]
    report = runtime.events.emit_many(items)
    counts = Counter(name for name, _ in world.events)
    table = Table("event", "count", title=f"emitted {report.delivered} events, "
                                          f"{report.failed} failed")
    for name, count in counts.most_common():
        table.add_row(name, str(count))
    console.print(table)


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    with console.status(f"waiting for {what}"):
        while time.monotonic() < deadline:
            if predicate():
                console.print(f"[green]✓[/green] {what}")
                return
            time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")


def _show_trays(models: RedisReadModels, now_ms: int) -> None:
    table = Table("viewer", "tray (author: unseen?, latest story)", title="trays")
    for viewer in ("user-2", "user-5", "user-9"):
        items = read_tray(models, viewer, now_ms)
        shown = ", ".join(f"{i.author_id}: {'unseen' if i.has_unseen else 'seen'} "
                          f"{i.latest_story_id[:8]}" for i in items) or "(empty)"
        table.add_row(viewer, shown)
    console.print(table)


def _show_privacy(models: RedisReadModels, world: Scenario, now_ms: int) -> None:
    table = Table("viewer", "stories of user-0 they may see", title="audience rules")
    for viewer in ("user-2", "user-5", "stranger"):
        stories = visible_stories(models, viewer, "user-0", now_ms)
        labels = {v: k for k, v in world.story_ids.items()}
        names = (labels.get(s.story_id, f"{s.story_id[:8]} (an earlier run)") for s in stories)
        table.add_row(viewer, ", ".join(names) or "(none)")
    console.print(table)


def _show_counters(runtime: Runtime, models: RedisReadModels, world: Scenario) -> None:
    public = world.story_ids["public"]
    counters = models.counters(public)
    console.print(f"story 'public': views {counters.views}, unique viewers "
                  f"{counters.unique_viewers}, replies {counters.replies}, "
                  f"reactions {counters.reactions}")
    poll = models.counters(world.story_ids["photo"]).stickers
    console.print(f"poll on 'photo': {poll}")
    viewers, _ = viewers_page(runtime.cql_models(), public, FROM_START, 400)
    table = Table("viewer", "first view", "reaction", title="viewer list of 'public' (CQL)")
    for row in sorted(viewers, key=lambda v: v.viewed_at):
        table.add_row(row.user_id, row.viewed_at.isoformat(timespec="seconds"), row.reaction or "")
    console.print(table)


def _show_dead_letter(runtime: Runtime) -> None:
    """Send a message that is not an event and find it set aside with its reason."""
    settings = runtime.settings
    garbage = f"not an event {time.time_ns()}".encode()
    producer = Producer(kafka_config(settings))
    producer.produce(f"{settings.topic_prefix}.engagement", value=garbage)
    producer.flush(10)
    consumer = Consumer({**kafka_config(settings),
                         "group.id": f"demo-{time.time_ns()}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic_name(DEAD_LETTER, settings.topic_prefix)])
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is not None and not message.error() and message.value() == garbage:
                # A consumed message's headers are (name, bytes) pairs; the stub's union also
                # covers the dict a producer accepts.
                pairs = cast(list[tuple[str, bytes]], message.headers() or [])
                headers = {k: v.decode() for k, v in pairs}
                console.print(
                    f"[green]✓[/green] a malformed message went to {message.topic()} with reason "
                    f"{headers['dlq-reason']!r} (from {headers['dlq-source-topic']}"
                    f"[{headers['dlq-source-partition']}]@{headers['dlq-source-offset']})"
                )
                return
    finally:
        consumer.close()
    console.print("[red]the malformed message did not reach the dead-letter topic[/red]")


def _start_gateway(log_path: str) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen([sys.executable, "-m", "stories.cli", "gateway"],
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())


def _gateway_answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _token(user_id: str) -> str:
    """What `stories token USER_ID` prints."""
    command = [sys.executable, "-m", "stories.cli", "token", user_id, "--ttl", "600"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _call(url: str, user_id: str, method: str, path: str) -> httpx.Response:
    """One API call as `user_id`, printed with its answer."""
    import httpx

    headers = {"Authorization": f"Bearer {_token(user_id)}"}
    response = httpx.request(method, f"{url}{path}", headers=headers, timeout=10)
    console.print(f"[bold]{method} {path}[/bold] as {user_id} → {response.status_code}")
    return response


def _show_gateway(settings: Settings, world: Scenario) -> None:
    """The HTTP API in front of the same read models: a few real calls and their answers."""
    url = f"http://{settings.gateway_host}:{settings.gateway_port}"
    log_path = str(settings.state_dir / "demo-gateway.log")
    gateway = _start_gateway(log_path)
    try:
        _wait_for(lambda: _gateway_answers(url), f"the gateway at {url} (log {log_path})", 60)
        console.print(f"$ stories token user-2 → {_token('user-2')[:32]}…")
        tray = _call(url, "user-2", "GET", "/api/v1/stories/tray?limit=5").json()
        for item in tray["items"]:
            console.print(f"  {item['author_id']}: {'unseen' if item['has_unseen'] else 'seen'}, "
                          f"latest {item['latest_at']}, thumbnail "
                          f"{'yes' if item['thumbnail_url'] else 'none'}")
        stories = _call(url, "user-5", "GET", "/api/v1/users/user-0/stories").json()["items"]
        console.print(f"  user-5 sees {[s['text'] for s in stories]} (not the close-friends story)")
        public, friends = world.story_ids["public"], world.story_ids["friends"]
        viewers = _call(url, "user-0", "GET", f"/api/v1/stories/{public}/viewers").json()
        console.print(f"  {len(viewers['viewers'])} viewers: "
                      f"{', '.join(v['user_id'] for v in viewers['viewers'])}")
        denied = _call(url, "user-5", "POST", f"/api/v1/stories/{friends}/views")
        absent = _call(url, "user-5", "POST", "/api/v1/stories/00000000-0000-4000-8000-000000000000/views")
        same = "identical" if denied.content == absent.content else "DIFFERENT"
        console.print(f"  a story outside user-5's audience and one that never existed: {same} "
                      f"answers, {denied.text}")
    finally:
        gateway.terminate()
        gateway.wait(30)


def _folded(models: RedisReadModels, world: Scenario) -> bool:
    """Every topic's agent has caught up with the world just emitted."""
    tray = read_tray(models, "user-2", now_ms())
    latest = {item.author_id: item.latest_story_id for item in tray}
    return (
        models.counters(world.story_ids["public"]).unique_viewers == 7
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
        at_ms = now_ms()
        _show_trays(models, at_ms)
        _show_privacy(models, world, at_ms)
        _show_counters(runtime, models, world)
        _show_dead_letter(runtime)
        _show_gateway(settings, world)
    finally:
        worker.terminate()
        worker.wait(30)
        runtime.close()
    console.rule("done")


if __name__ == "__main__":
    main()
