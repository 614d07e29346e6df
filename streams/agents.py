"""Batching faust agents for the worker: one loop, one back-off for a store fault.

An agent takes up to `batch_size` messages of its topic (or what arrived within `within`
seconds), hands them to its handler, and asks for the next batch only once the handler has
returned: faust commits a batch's offsets only then, so a batch is acknowledged once handled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import faust
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from core.errors import is_store_fault

__all__ = [
    "BatchHandler",
    "RetryHook",
    "STORE_BACKOFF",
    "agent_name",
    "add_batch_agent",
    "add_paced_task",
    "add_timer",
    "with_store_backoff",
]

T = TypeVar("T")

BatchHandler = Callable[[list[Any]], Awaitable[None]]  # receives the batch's faust messages
RetryHook = Callable[[int, BaseException | None], None]  # attempt number, the store error

# 0.2 s, 0.4 s, 0.8 s ... capped at 10 s, and no attempt limit: a store comes back eventually.
STORE_BACKOFF = wait_exponential(multiplier=0.2, max=10)


def agent_name(role: str, topic_suffix: str) -> str:
    """'project_story_lifecycle': faust knows an agent by this name, so it must never change."""
    return f"{role}_{topic_suffix.replace('-', '_')}"


def add_batch_agent(
    app: faust.App,
    topic_name: str,
    name: str,
    handle_batch: BatchHandler,
    batch_size: int,
    within: float,
) -> None:
    """Register an agent handing each batch of the topic's raw messages to handle_batch."""
    channel = app.topic(topic_name, value_serializer="raw", key_serializer="raw")

    async def agent(stream: faust.StreamT[Any]) -> None:
        # faust hands an agent a Stream; the StreamT protocol leaves take_events out.
        batches = cast(faust.Stream[Any], stream).take_events(batch_size, within=within)
        async for batch in batches:
            await handle_batch([event.message for event in batch])

    # faust labels an agent in its logs by the function's module and name: the owner's.
    agent.__qualname__ = agent.__name__ = name
    agent.__module__ = getattr(handle_batch, "__module__", None) or __name__
    app.agent(channel, name=name, concurrency=1)(agent)


def add_timer(app: faust.App, name: str, interval: float, tick: Callable[[], Awaitable[None]]
              ) -> None:
    """Register a timer calling `tick` every `interval` seconds on every worker."""

    async def timer() -> None:
        await tick()

    timer.__qualname__ = timer.__name__ = name.replace("-", "_")
    app.timer(interval=interval, name=name)(timer)


def add_paced_task(app: faust.App, name: str, tick: Callable[[], Awaitable[float]]) -> None:
    """Register a task on every worker that calls `tick` again after the seconds it returns,
    until the worker stops: a timer that decides its own next run."""

    async def paced() -> None:
        while not app.should_stop:
            await app.sleep(await tick())

    paced.__qualname__ = paced.__name__ = name.replace("-", "_")
    app.task(paced)


async def with_store_backoff(work: Callable[[], T], on_retry: RetryHook) -> T:
    """Run blocking store work in a thread; a store fault is waited out, never skipped.

    A store fault (core.errors.is_store_fault: a store that is away, or one that refuses the
    writes) is retried with back-off and no attempt limit; any other error is raised.
    """
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_store_fault),
        wait=STORE_BACKOFF,
        before_sleep=lambda state: _report_retry(state, on_retry),
        reraise=True,
    ):
        with attempt:
            return await asyncio.to_thread(work)
    raise AssertionError("unreachable")


def _report_retry(state: RetryCallState, on_retry: RetryHook) -> None:
    """Tell the caller which attempt failed and why, before the back-off sleep."""
    on_retry(state.attempt_number, state.outcome.exception() if state.outcome else None)
