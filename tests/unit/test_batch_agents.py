"""The worker's batching agents: their names, one batch handled before the next, store back-off."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import faust
import pytest
import redis
from cassandra.cluster import NoHostAvailable
from tenacity import wait_none

import streams.agents as agents
from core.metrics import STORE_RETRIES
from media import agent as media_agent
from stories import worker
from stories.health import StoreFaults
from streams.agents import STORE_BACKOFF, add_batch_agent, agent_name, with_store_backoff
from streams.topics import TOPICS


def _app() -> faust.App:
    return faust.App("unit-batch-agents", broker="kafka://127.0.0.1:1", web_enabled=False)


def _runtime() -> Any:
    settings = SimpleNamespace(topic_prefix="unit", worker_batch_size=50)
    return SimpleNamespace(settings=settings, raw_producer=object())


class _Stream:
    """Stands in for faust's stream: records when each batch is handed out and taken back."""

    def __init__(self, batches: list[list[bytes]], log: list[str]):
        self.batches = batches
        self.log = log

    async def take_events(self, max_: int, within: float) -> AsyncIterator[list[Any]]:
        self.log.append(f"take_events({max_}, within={within})")
        for number, values in enumerate(self.batches, 1):
            self.log.append(f"batch {number} handed out")
            yield [SimpleNamespace(message=SimpleNamespace(value=value)) for value in values]
            self.log.append(f"batch {number} done: offsets may commit")


def _labelled_as(agent: Any) -> str:
    """What faust's logs call the agent: its function's module and qualified name."""
    return f"{agent.fun.__module__}.{agent.fun.__qualname__}"


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents, "STORE_BACKOFF", wait_none())


def test_agent_names_are_role_and_topic_with_underscores() -> None:
    assert agent_name("project", "story-lifecycle") == "project_story_lifecycle"
    assert agent_name("project", "social-graph") == "project_social_graph"
    assert agent_name("media", "highlights") == "media_highlights"


def test_projection_agents_keep_their_names() -> None:
    app = _app()
    for topic in TOPICS:
        worker._make_agent(app, _runtime(), topic, lambda events: [], StoreFaults())

    assert sorted(app.agents) == [
        "project_engagement",
        "project_highlights",
        "project_social_graph",
        "project_story_lifecycle",
    ]
    lifecycle = app.agents["project_story_lifecycle"]
    assert lifecycle.channel.get_topic_name() == "unit.story-lifecycle"
    assert _labelled_as(lifecycle) == "stories.worker.project_story_lifecycle"


def test_media_agents_keep_their_names() -> None:
    app = _app()
    for suffix in ("story-lifecycle", "highlights"):
        media_agent._add_agent(app, _runtime(), suffix, lambda events: None, runner=None)  # type: ignore[arg-type]

    assert sorted(app.agents) == ["media_highlights", "media_story_lifecycle"]
    assert app.agents["media_highlights"].channel.get_topic_name() == "unit.highlights"
    assert _labelled_as(app.agents["media_highlights"]) == "media.agent.media_highlights"


def test_agent_reads_raw_bytes_one_at_a_time() -> None:
    app = _app()

    async def handle(messages: list[Any]) -> None:
        return None

    add_batch_agent(app, "unit.engagement", "project_engagement", handle, 50, within=0.05)

    registered = app.agents["project_engagement"]
    assert registered.concurrency == 1
    assert registered.channel.value_serializer == "raw"
    assert registered.channel.key_serializer == "raw"


async def test_each_batch_is_handled_before_the_next_is_taken() -> None:
    app, log = _app(), []

    async def handle(messages: list[Any]) -> None:
        log.append(f"handled {[message.value for message in messages]}")

    add_batch_agent(app, "unit.engagement", "project_engagement", handle, 50, within=0.05)
    await app.agents["project_engagement"].fun(_Stream([[b"a", b"b"], [b"c"]], log))

    assert log == [
        "take_events(50, within=0.05)",
        "batch 1 handed out",
        "handled [b'a', b'b']",
        "batch 1 done: offsets may commit",
        "batch 2 handed out",
        "handled [b'c']",
        "batch 2 done: offsets may commit",
    ]


def test_store_backoff_doubles_from_a_fifth_of_a_second_up_to_ten() -> None:
    waits = [STORE_BACKOFF(SimpleNamespace(attempt_number=n)) for n in range(1, 9)]  # type: ignore[arg-type]

    assert waits == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10, 10])


@pytest.mark.usefixtures("no_backoff")
async def test_store_errors_are_retried_until_the_store_is_back() -> None:
    failures = [redis.ConnectionError("away")] * 30 + [NoHostAvailable("away", {})]
    retries: list[tuple[int, str]] = []

    def work() -> str:
        if failures:
            raise failures.pop(0)
        return "written"

    result = await with_store_backoff(
        work, lambda attempt, error: retries.append((attempt, type(error).__name__))
    )

    assert result == "written"
    assert len(retries) == 31
    assert retries[0] == (1, "ConnectionError")
    assert retries[-1] == (31, "NoHostAvailable")


@pytest.mark.usefixtures("no_backoff")
async def test_other_errors_are_raised_at_once() -> None:
    retries: list[int] = []

    def work() -> None:
        raise ValueError("a bug, not a store")

    with pytest.raises(ValueError, match="a bug"):
        await with_store_backoff(work, lambda attempt, error: retries.append(attempt))
    assert retries == []


async def test_the_work_runs_off_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()

    result = await with_store_backoff(threading.get_ident, lambda attempt, error: None)

    assert result != loop_thread


@pytest.mark.usefixtures("no_backoff")
async def test_projection_retries_are_counted_per_topic() -> None:
    failures = [redis.TimeoutError("slow")] * 2

    def apply(events: list[Any], partitions: list[int]) -> list[tuple[int, str]]:
        if failures:
            raise failures.pop()
        return []

    before = STORE_RETRIES.labels("unit-topic")._value.get()
    rejected = await worker._project(apply, [], [], "unit-topic", StoreFaults())

    assert rejected == []
    assert STORE_RETRIES.labels("unit-topic")._value.get() - before == 2


def _message(partition: int, offset: int) -> Any:
    return SimpleNamespace(topic="unit.story-lifecycle", partition=partition, offset=offset)


def test_a_batch_is_placed_by_topic_partition_and_first_and_last_offset() -> None:
    batch = [_message(3, 7), _message(0, 120), _message(3, 9), _message(0, 164)]

    place = worker.BatchPlace.of(batch)

    assert str(place) == "unit.story-lifecycle[0]@120..164, unit.story-lifecycle[3]@7..9"
    assert place.fields() == {"topic": "unit.story-lifecycle",
                              "offsets": {0: [120, 164], 3: [7, 9]}}


async def test_a_failing_batch_is_logged_with_its_place(caplog: pytest.LogCaptureFixture) -> None:
    def apply(events: list[Any], partitions: list[int]) -> list[tuple[int, str]]:
        if len(events) > 1:
            raise ValueError("a bug in the fold")
        return []

    batch = [_message(1, 40), _message(1, 41)]
    await worker._project(apply, [("A", {}), ("B", {})], [1, 1], "story-lifecycle",
                          StoreFaults(), batch)

    [line] = [r for r in caplog.records if "failed" in r.getMessage()]
    assert line.getMessage() == ("batch of 2 events failed at unit.story-lifecycle[1]@40..41; "
                                 "retrying one by one")
    assert (line.topic, line.offsets) == ("unit.story-lifecycle", {1: [40, 41]})  # type: ignore[attr-defined]


@pytest.mark.usefixtures("no_backoff")
async def test_a_store_fault_is_logged_with_the_batch_place(caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    failures = [redis.TimeoutError("slow")]

    def apply(events: list[Any], partitions: list[int]) -> list[tuple[int, str]]:
        if failures:
            raise failures.pop()
        return []

    await worker._project(apply, [("A", {})], [2], "story-lifecycle", StoreFaults(),
                          [_message(2, 5)])

    [line] = [r for r in caplog.records if "store fault" in r.getMessage()]
    assert "unit.story-lifecycle[2]@5..5 (attempt 1)" in line.getMessage()
