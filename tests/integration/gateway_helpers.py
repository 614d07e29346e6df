"""A gateway in front of a private deployment (own topics, keyspace, worker), and API helpers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

import schemas
from core.settings import Settings
from gateway.app import create_app
from gateway.auth import issue_token
from streams.topics import topic_for, topic_name
from tests.integration.worker_helpers import PrivateDeployment, wait_until

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketDenialResponse

__all__ = [
    "GatewayWorld",
    "GatewayProcess",
    "WebSocketDenialResponse",
    "User",
    "gateway_client",
    "events_in_log",
    "unique",
    "wait_until",
    "text_story",
    "posted_event",
    "NO_SUCH_STORY",
]

NO_SUCH_STORY = "00000000-0000-4000-8000-000000000000"


def unique(name: str) -> str:
    """A user id no other test uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


@contextmanager
def gateway_client(settings: Settings) -> Iterator[TestClient]:
    """The real app, in process, with its lifespan (connections, version follower) running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(create_app(settings), raise_server_exceptions=False)
    with client:
        yield client


class User:
    """Calls the API as one user (the token's subject)."""

    def __init__(self, client: TestClient, settings: Settings, user_id: str):
        self.client = client
        self.id = user_id
        self.headers = {"Authorization": f"Bearer {issue_token(settings, user_id, 3600)}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, json: Any = None, headers: dict | None = None) -> httpx.Response:
        return self.client.post(path, json=json, headers={**self.headers, **(headers or {})})

    def put(self, path: str, json: Any = None) -> httpx.Response:
        return self.client.put(path, json=json, headers=self.headers)

    def patch(self, path: str, json: Any = None) -> httpx.Response:
        return self.client.patch(path, json=json, headers=self.headers)

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(path, headers=self.headers)

    # -- conveniences, each waiting until the worker has projected the change ---------------
    def post_story(self, **body: Any) -> str:
        """Post and wait until the author sees it."""
        body.setdefault("text", "hello")
        response = self.post("/api/v1/stories", json=body)
        assert response.status_code == 202, response.text
        story_id = response.json()["story_id"]
        wait_until(lambda: story_id in self.story_ids_of(self), "the story to be projected")
        return story_id

    def story_ids_of(self, author: User) -> list[str]:
        response = self.get(f"/api/v1/users/{author.id}/stories")
        assert response.status_code == 200, response.text
        return [s["story_id"] for s in response.json()["stories"]]

    def tray_authors(self) -> list[str]:
        response = self.get("/api/v1/stories/tray", params={"limit": 100})
        assert response.status_code == 200, response.text
        return [item["author_id"] for item in response.json()["items"]]


class GatewayWorld:
    """A private deployment with a running worker and the gateway in front of it."""

    def __init__(self, local_stack: Settings, tmp_path: Path, **overrides: Any):
        self.deployment = PrivateDeployment(local_stack, tmp_path)
        self.settings = self.deployment.settings.model_copy(update=overrides)
        self.deployment.start_worker()

    @contextmanager
    def serving(self) -> Iterator[GatewayWorld]:
        with gateway_client(self.settings) as client:
            self.client = client
            yield self

    def user(self, name: str) -> User:
        return User(self.client, self.settings, unique(name))

    def follow(self, follower: User, *followees: User) -> None:
        """Follow through the API and wait until the graph read model has it."""
        for followee in followees:
            response = follower.put(f"/api/v1/users/{followee.id}/follow")
            assert response.status_code == 202, response.text
        wanted = {f.id for f in followees}
        wait_until(lambda: wanted <= self.redis_models.following(follower.id),
                   f"{follower.id}'s follows to be projected")

    @property
    def redis_models(self):
        return self.deployment.runtime.redis_models()

    def emit(self, event_name: str, record: dict[str, Any]) -> None:
        self.deployment.runtime.events.emit(event_name, record)

    def close(self) -> None:
        client = self.deployment.runtime.redis
        for key in client.scan_iter(match=f"{self.settings.cql_keyspace}:gw:*", count=1000):
            client.delete(key)
        self.deployment.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GatewayProcess:
    """`stories gateway` as a real process, configured like a deployment (plus overrides)."""

    def __init__(self, deployment: PrivateDeployment, log_path: Path, **settings: Any):
        self.port = free_port()
        env = deployment.env()
        env.update({f"STORIES_{k.upper()}": str(v) for k, v in settings.items()})
        env["STORIES_GATEWAY_PORT"] = str(self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "stories.cli", "gateway"],
                                            env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, f"the gateway on port {self.port}", timeout=60)

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the gateway exited: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def text_story(author_id: str, occurred_at: datetime | None = None, lifetime: int = 86_400,
               **fields: Any) -> dict[str, Any]:
    """A StoryPosted record, for stories the test emits directly (e.g. back-dated)."""
    fields.setdefault("text", "posted directly")
    return schemas.new_event("StoryPosted", author_id, occurred_at=occurred_at,
                             story_id=str(uuid.uuid4()), kind="TEXT",
                             lifetime_seconds=lifetime, **fields)


def posted_event(author_id: str, seconds_left: float) -> dict[str, Any]:
    """A one-hour story posted so long ago that it expires in `seconds_left`."""
    occurred = datetime.now(UTC) - timedelta(seconds=3600 - seconds_left)
    return text_story(author_id, occurred_at=occurred, lifetime=3600)


def events_in_log(settings: Settings, event_name: str,
                  matches: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Every event of this kind in the deployment's topic that `matches`, read from the start."""
    topic = topic_name(topic_for(event_name), settings.topic_prefix)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"probe-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        found, deadline = [], time.monotonic() + 30
        done = {p for p, end in ends.items() if end == 0}
        while len(done) < len(ends) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            if message.offset() + 1 >= ends[message.partition()]:
                done.add(message.partition())
            name, record = schemas.decode(message.value())
            if name == event_name and matches(record):
                found.append(record)
        return found
    finally:
        consumer.close()
