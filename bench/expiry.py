"""Expiry on time: how soon an author's live feed says `ended`, and how soon the read models
forget an expired story.

While `stories simulate` loads the worker at the lightest freshness rate (in its own process,
as in freshness), probes start one after another, each as a fresh author with a follower of
their own: an expiry probe posts a story that expires `LEAD_SECONDS` later (back-dated, as a
late or replayed post is), opens the author's live feed on a `stories gateway` (a WebSocket,
as a client does) and times `ended` from the expiry instant; meanwhile it times the clean-up,
from the expiry instant until no read finds the story stored any more: neither the author's
story list nor the follower's tray, both read as of a moment before the expiry, so that the
read-time filter does not hide what the stores still hold. A deletion probe posts a story,
opens its feed, and deletes it: every other one hands a StoryDeleted to the producer, as a
service does, and times `ended` from then; the others call DELETE on the gateway, as the
author's app does, and time `ended` from the call.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

import schemas
from bench.freshness import (
    PROBE_TIMEOUT,
    FreshnessPlan,
    percentiles,
    simulate_in_background,
)
from bench.gateway_load import bearer, start_gateway
from harness.deployment import Deployment
from harness.waiting import wait_until
from projections.queries import read_tray, visible_stories
from projections.runtime import Runtime
from projections.stores.redis_store import RedisReadModels

__all__ = ["ExpiryPlan", "measure_expiry", "LEAD_SECONDS", "SPACING_SECONDS"]

LEAD_SECONDS = 3.0  # from a probe's post to its expiry or deletion: its feed opens meanwhile
SPACING_SECONDS = 0.25  # between two probes of a kind (the other kind starts halfway)
POSTED_LIFETIME = 3600  # the back-dated post's lifetime, as a one-hour story posted long ago
WARMUP_SECONDS = 1.0  # from the simulator's first event to the first probe
# A probe reads the stores every 20 ms, the resolution of the clean-up figure (`ended` is taken
# as it arrives). At the freshness probes' 3 ms, the twenty or so probes running at a time
# took half a core of the two the measured stack runs on.
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ExpiryPlan:
    """How many probes of each kind, the simulated load they run under (rate 0: idle), and
    each probe's time from its post to its story's expiry or deletion."""

    probes: int
    background: FreshnessPlan
    lead_seconds: float = LEAD_SECONDS


@dataclass
class _Samples:
    """Latencies in seconds of each kind, and the probes that measured nothing."""

    after_expiry: list[float] = field(default_factory=list)
    after_delete: list[float] = field(default_factory=list)
    after_api_delete: list[float] = field(default_factory=list)
    cleanup: list[float] = field(default_factory=list)
    not_opened: int = 0  # not projected before its expiry or deletion, or the feed refused
    timed_out: int = 0  # no `ended` (or no clean-up) within the probe timeout

    def keep(self, samples: list[float], latency: float | None) -> None:
        if latency is None:
            self.timed_out += 1
        else:
            samples.append(latency)


class _Probes:
    """One probe of either kind, run in a thread of its own."""

    def __init__(self, deployment: Deployment, port: int, lead_seconds: float, samples: _Samples):
        self.deployment = deployment
        self.runtime: Runtime = deployment.runtime
        self.port = port
        self.lead = lead_seconds
        self.samples = samples

    def expiry(self) -> None:
        author = _probe_author("expiring")
        self.runtime.events.emit("UserFollowed", schemas.new_event(
            "UserFollowed", _fan_of(author), followee_id=author))
        expires_at = time.time() + self.lead
        story_id = self._post(author, expires_at)
        feed = self._open(author, story_id, until=expires_at, fan=_fan_of(author))
        if feed is None:
            self.samples.not_opened += 1
            return
        with feed:
            ended, cleaned = _until_ended_and_gone(feed, self.runtime.redis_models(), author,
                                                   story_id, expires_at)
        self.samples.keep(self.samples.after_expiry, ended)
        self.samples.keep(self.samples.cleanup, cleaned)

    def deletion(self) -> None:
        """A service deletes: the StoryDeleted goes to the producer, the worker's fold ends the
        feed."""
        self._delete(self.samples.after_delete, lambda author, story_id: self.runtime.events.emit(
            "StoryDeleted", schemas.new_event("StoryDeleted", author, story_id=story_id)))

    def api_deletion(self) -> None:
        """The author deletes through the API, as a client does."""
        self._delete(self.samples.after_api_delete, self._delete_through_api)

    def _delete(self, samples: list[float], delete: Callable[[str, str], Any]) -> None:
        author = _probe_author("deleting")
        story_id = self._post(author, time.time() + POSTED_LIFETIME)
        feed = self._open(author, story_id, until=time.time() + self.lead)
        if feed is None:
            self.samples.not_opened += 1
            return
        with feed:
            began = time.perf_counter()
            delete(author, story_id)
            ended = time.perf_counter() - began if _wait_ended(feed, PROBE_TIMEOUT) else None
        self.samples.keep(samples, ended)

    def _delete_through_api(self, author: str, story_id: str) -> None:
        response = httpx.delete(f"http://127.0.0.1:{self.port}/api/v1/stories/{story_id}",
                                headers=bearer(self.deployment, author), timeout=PROBE_TIMEOUT)
        response.raise_for_status()

    def _post(self, author: str, expires_at: float) -> str:
        """A text story that expires at `expires_at`: a one-hour story posted an hour before."""
        story_id = str(uuid.uuid4())
        posted = datetime.fromtimestamp(expires_at, UTC) - timedelta(seconds=POSTED_LIFETIME)
        self.runtime.events.emit("StoryPosted", schemas.new_event(
            "StoryPosted", author, occurred_at=posted, story_id=story_id, kind="TEXT",
            text="probe", lifetime_seconds=POSTED_LIFETIME))
        return story_id

    def _open(self, author: str, story_id: str, until: float, fan: str | None = None
              ) -> ClientConnection | None:
        """The author's live feed, past its first tallies, once every read finds the story;
        None when that is not so before `until` or the gateway refuses the feed."""
        models = self.runtime.redis_models()
        while not all(_found(models, author, story_id, _ms(time.time()), fan)):
            if time.time() >= until:
                return None
            time.sleep(POLL_SECONDS)
        url = f"ws://127.0.0.1:{self.port}/api/v1/stories/{story_id}/live"
        try:
            feed = connect(url, additional_headers=bearer(self.deployment, author),
                           open_timeout=PROBE_TIMEOUT)
            feed.recv(timeout=PROBE_TIMEOUT)  # the tallies come first
        except (OSError, TimeoutError, WebSocketException):
            return None
        return feed


def _until_ended_and_gone(feed: ClientConnection, models: RedisReadModels, author: str,
                          story_id: str, expires_at: float) -> tuple[float | None, float | None]:
    """Seconds from the expiry instant to `ended` on the feed, and until no read finds the
    story stored; each None past the probe timeout."""
    ended = cleaned = None
    before = _ms(expires_at) - 1  # as of a moment before: what the stores still hold
    while time.time() < expires_at + PROBE_TIMEOUT and (ended is None or cleaned is None):
        if ended is None and _wait_ended(feed, POLL_SECONDS):
            ended = time.time() - expires_at
        if cleaned is None and time.time() >= expires_at and not any(
                _found(models, author, story_id, before, _fan_of(author))):
            cleaned = time.time() - expires_at
        if ended is not None and cleaned is None:
            time.sleep(POLL_SECONDS)
    return ended, cleaned


def _probe_author(kind: str) -> str:
    return f"probe-{kind}-{uuid.uuid4().hex[:12]}"


def _fan_of(author: str) -> str:
    """An expiring story's author's one follower, whose tray must lose the story."""
    return f"{author}-fan"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _found(models: RedisReadModels, author: str, story_id: str, as_of_ms: int,
           fan: str | None) -> list[bool]:
    """Whether each read lists the story as of `as_of_ms`: the author's story list, and the
    fan's tray when there is one."""
    found = [any(s.story_id == story_id for s in visible_stories(models, author, author, as_of_ms))]
    if fan is not None:
        found.append(any(item.latest_story_id == story_id
                         for item in read_tray(models, fan, as_of_ms)))
    return found


def _wait_ended(feed: ClientConnection, seconds: float) -> bool:
    """Whether `ended` comes within `seconds` (other messages are read past)."""
    deadline = time.perf_counter() + seconds
    while True:
        try:
            message = feed.recv(timeout=max(deadline - time.perf_counter(), 0))
        except (TimeoutError, WebSocketException):  # nothing yet, or closed without `ended`
            return False
        if orjson.loads(message).get("type") == "ended":
            return True


def _run_probes(probes: _Probes, count: int) -> None:
    """`count` probes of each kind, one every SPACING_SECONDS, the kinds interleaved; the
    deletions alternate between a service's (the producer) and the author's (the API)."""
    deletions = (probes.deletion, probes.api_deletion)
    starts: list[tuple[float, Callable[[], None]]] = sorted(
        [(i * SPACING_SECONDS, probes.expiry) for i in range(count)]
        + [((i + 0.5) * SPACING_SECONDS, deletions[i % 2]) for i in range(count)],
        key=lambda start: start[0])
    began = time.perf_counter()
    with ThreadPoolExecutor(min(64, 2 * count), thread_name_prefix="expiry-probe") as pool:
        running: list[Future[None]] = []
        for at, probe in starts:
            time.sleep(max(0.0, began + at - time.perf_counter()))
            running.append(pool.submit(probe))
    for done in running:
        done.result()


def measure_expiry(deployment: Deployment, plan: ExpiryPlan) -> dict[str, Any]:
    """Both kinds of probe on a gateway of their own, under the plan's background load."""
    samples = _Samples()
    # The simulator starts up while the gateway does, and runs until the probes are done.
    background = _background(deployment, plan) if plan.background.rate else None
    try:
        gateway, port = start_gateway(deployment, 1, "gateway-live")
        try:
            if background is not None:
                _warm_up(deployment)
            produced, began, lag_before = deployment.produced(), time.perf_counter(), deployment.lag()
            _run_probes(_Probes(deployment, port, plan.lead_seconds, samples), plan.probes)
            sent = deployment.produced() - produced  # the probes' own few events included
            seconds, lag_at_end = time.perf_counter() - began, deployment.lag()
        finally:
            deployment.stop(gateway)
    finally:
        if background is not None:
            deployment.stop(background)
    deployment.wait_idle(1800)
    return {
        "background_target_rate": plan.background.rate,
        "background_rate": round(sent / seconds) if background is not None else 0,
        "probes": plan.probes,
        "lead_seconds": plan.lead_seconds,
        "lag_before": lag_before,
        "lag_at_end": lag_at_end,
        "ended_after_expiry": percentiles(samples.after_expiry),
        "ended_after_delete": percentiles(samples.after_delete),
        "ended_after_api_delete": percentiles(samples.after_api_delete),
        "expiry_cleanup": percentiles(samples.cleanup),
        "feeds_not_opened": samples.not_opened,
        "probes_timed_out": samples.timed_out,
    }


def _background(deployment: Deployment, plan: ExpiryPlan) -> subprocess.Popen:
    """`stories simulate` at the plan's rate, stopped once the probes are done (its duration
    only bounds a run that is never stopped)."""
    window = plan.probes * SPACING_SECONDS + plan.lead_seconds + PROBE_TIMEOUT
    load = replace(plan.background, seconds=10 * window + 600, probes=0)
    return simulate_in_background(deployment, load, "expiry-background")


def _warm_up(deployment: Deployment) -> None:
    """Until the simulator sends, then a moment more for it to reach its rate."""
    before = deployment.produced()
    wait_until(lambda: deployment.produced() > before, "the simulated load to start", 120,
               interval=0.1)
    time.sleep(WARMUP_SECONDS)
