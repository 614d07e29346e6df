"""The media worker inside `stories worker`: two agents, a job timer and a reconciliation timer.

The agents only record and forget (fast, blocking calls in a thread): a post becomes a
scheduled job, an expiry or deletion destroys the story's key and objects, a highlight edit
schedules a release check. Jobs run in a small pool of their own threads, each waiting on a
child process (`media.isolation`), so transcoding never holds up the event loop, the other
agents, or the commits of the story-lifecycle topic. Undecodable messages are left to the
projection agents, which dead-letter them once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import faust

import schemas
from media.clients import MediaClients, media_clients
from media.isolation import IsolatedProcessor
from media.pipeline import Event, MediaPipeline
from media.reconcile import reconcile_media
from projections.runtime import Runtime
from streams.agents import add_batch_agent, agent_name, with_store_backoff
from streams.topics import TOPICS, topic_name

__all__ = ["add_media_agents", "JobRunner"]

log = logging.getLogger(__name__)

BATCH = 500


class JobRunner:
    """Starts due jobs in its own threads, at most `concurrency` at a time per worker."""

    def __init__(self, pipeline: MediaPipeline, concurrency: int):
        self.pipeline = pipeline
        self.concurrency = max(1, concurrency)
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="media-job")
        self.running: dict[str, asyncio.Future[None]] = {}
        self.stopped = False

    def stop(self) -> None:
        """Start nothing more; running jobs end when their children are killed."""
        self.stopped = True
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def tick(self) -> None:
        """Start as many due jobs as there are free slots."""
        free = self.concurrency - len(self.running)
        if free <= 0 or self.stopped:
            return
        due = await asyncio.to_thread(self.pipeline.due_jobs, free + len(self.running))
        loop = asyncio.get_running_loop()
        for story_id in due:
            if story_id in self.running or len(self.running) >= self.concurrency or self.stopped:
                continue
            job = loop.run_in_executor(self.pool, self.pipeline.run_job, story_id)
            self.running[story_id] = job
            job.add_done_callback(partial(self._finished, story_id))

    def _finished(self, story_id: str, job: asyncio.Future[None]) -> None:
        self.running.pop(story_id, None)
        if not job.cancelled() and job.exception() is not None:
            log.error("media job of story %s crashed", story_id, exc_info=job.exception())
        asyncio.ensure_future(self._tick_quietly())  # a free slot: the next job need not wait

    async def _tick_quietly(self) -> None:
        try:
            await self.tick()
        except Exception:  # the timer tries again
            log.exception("media jobs not started")


def _decoded(messages: Sequence[Any], allowed: frozenset[str]) -> list[Event]:
    """The events of a batch this agent cares about; the projection dead-letters the rest."""
    events = []
    for message in messages:
        try:
            name, record = schemas.decode(message.value)
        except schemas.EventError:
            continue
        if name in allowed:
            events.append((name, record))
    return events


async def _apply_with_backoff(apply: Callable[[list[Event]], None], events: list[Event]) -> None:
    """Handlers are idempotent: a store that is away means the whole batch again, later."""
    await with_store_backoff(partial(apply, events), _note_store_away)


def _note_store_away(attempt: int, error: BaseException | None) -> None:
    log.warning("media agent: store away (%s); backing off", error)


def _add_agent(app: faust.App, runtime: Runtime, suffix: str,
               apply: Callable[[list[Event]], None], runner: JobRunner) -> None:
    topic = next(t for t in TOPICS if t.suffix == suffix)
    allowed = frozenset(topic.events)

    async def follow(messages: list[Any]) -> None:
        await _apply_with_backoff(apply, _decoded(messages, allowed))
        await runner.tick()

    add_batch_agent(app, topic_name(topic, runtime.settings.topic_prefix),
                    agent_name("media", suffix), follow, BATCH, within=0.1)


def _add_job_timer(app: faust.App, runtime: Runtime, pipeline: MediaPipeline,
                   runner: JobRunner) -> None:
    @app.timer(interval=runtime.settings.media_poll_interval, name="media-jobs")
    async def media_jobs() -> None:
        try:
            await runner.tick()
            await asyncio.to_thread(pipeline.run_release_checks)
        except Exception:  # the next tick tries again
            log.exception("media job timer run failed")


def _add_reconcile_timer(app: faust.App, clients: MediaClients) -> None:
    interval = clients.settings.media_reconcile_interval
    if interval <= 0:
        return

    @app.timer(interval=interval, name="media-reconcile")
    async def media_reconcile() -> None:
        if not await asyncio.to_thread(clients.schedule.take_turn, "reconcile",
                                       int(interval * 900)):
            return  # another worker reconciles this period
        try:
            report = await asyncio.to_thread(reconcile_media, clients)
        except Exception:  # the next period tries again
            log.exception("media reconciliation failed")
            return
        log.info("media reconciliation: %s", report.summary())


def _stop_on_shutdown(app: faust.App, processor: IsolatedProcessor, runner: JobRunner) -> None:
    """Kill running children so shutdown does not wait out a transcode; the jobs come back."""

    # mode's SignalHandlerT accepts no function at all, not even one of its exact shape.
    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def stop_media_jobs(app: faust.App, **kwargs: Any) -> None:
        runner.stop()
        processor.stop()


def add_media_agents(app: faust.App, runtime: Runtime) -> MediaPipeline:
    """Register the media agents and timers on the worker's app."""
    settings = runtime.settings
    clients = media_clients(runtime)
    processor = IsolatedProcessor(settings.media_process_timeout)
    pipeline = MediaPipeline(clients, processor, runtime.events)
    runner = JobRunner(pipeline, settings.media_concurrency)
    _add_agent(app, runtime, "story-lifecycle", pipeline.apply_lifecycle, runner)
    _add_agent(app, runtime, "highlights", pipeline.apply_highlights, runner)
    _add_job_timer(app, runtime, pipeline, runner)
    _add_reconcile_timer(app, clients)
    _stop_on_shutdown(app, processor, runner)
    return pipeline
