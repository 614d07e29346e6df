"""The gateway in front of a deployment: as a real process, or in process with users calling it."""

from __future__ import annotations

import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings
from gateway.app import create_app
from gateway.auth import issue_token
from harness import processes
from harness.deployment import Deployment
from harness.waiting import wait_until
from projections.stores.redis_store import RedisReadModels

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketDenialResponse

__all__ = ["GatewayProcess", "GatewayWorld", "User", "UnexpectedResponse", "gateway_client",
           "unique", "NO_SUCH_STORY", "WebSocketDenialResponse"]

GATEWAY = [sys.executable, "-m", "stories.cli", "gateway"]
NO_SUCH_STORY = "00000000-0000-4000-8000-000000000000"


class UnexpectedResponse(RuntimeError):
    """The gateway answered a convenience call with something other than success."""


def unique(name: str) -> str:
    """A user id nobody else on the stack uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


class GatewayProcess:
    """`stories gateway` as a real process of a deployment, with settings of its own on top."""

    def __init__(self, deployment: Deployment, log_path: Path | None = None,
                 extra_env: Mapping[str, str] | None = None, **settings: Any):
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        label = log_path.stem if log_path else f"gateway-{len(deployment.processes)}"
        self.log_path = log_path or deployment.workdir / f"{label}.log"
        env = {**(extra_env or {}), **{f"STORIES_{k.upper()}": str(v) for k, v in settings.items()}}
        env["STORIES_GATEWAY_PORT"] = str(self.port)
        self.process: subprocess.Popen = deployment.spawn(label, GATEWAY, self.log_path, env)
        processes.wait_healthy(self.process, self.url, self.log_path, timeout=60)

    def stop(self) -> None:
        processes.stop(self.process)


@contextmanager
def gateway_client(settings: Settings) -> Iterator[TestClient]:
    """The real app, in process, with its lifespan (connections, version follower) running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(create_app(settings), raise_server_exceptions=False)
    with client:
        yield client


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise UnexpectedResponse(f"{response.request.method} {response.request.url.path}: "
                                 f"{response.status_code} {response.text[:500]}")
    return response


class User:
    """Calls the API as one user (the token's subject), through any client of the gateway."""

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
        story_id = _expect(self.post("/api/v1/stories", json=body), 202).json()["story_id"]
        wait_until(lambda: story_id in self.story_ids_of(self), "the story to be projected")
        return story_id

    def story_ids_of(self, author: User) -> list[str]:
        response = _expect(self.get(f"/api/v1/users/{author.id}/stories"), 200)
        return [s["story_id"] for s in response.json()["items"]]

    def tray_authors(self) -> list[str]:
        response = _expect(self.get("/api/v1/stories/tray", params={"limit": 100}), 200)
        return [item["author_id"] for item in response.json()["items"]]


class GatewayWorld:
    """A deployment with a running worker and the gateway in front of it, in process."""

    def __init__(self, settings: Settings, workdir: Path, **overrides: Any):
        self.deployment = Deployment(settings, workdir)
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
            _expect(follower.put(f"/api/v1/users/{followee.id}/follow"), 202)
        wanted = {f.id for f in followees}
        wait_until(lambda: wanted <= self.redis_models.following(follower.id),
                   f"{follower.id}'s follows to be projected")

    @property
    def redis_models(self) -> RedisReadModels:
        return self.deployment.runtime.redis_models()

    def emit(self, event_name: str, record: dict[str, Any]) -> None:
        self.deployment.runtime.events.emit(event_name, record)

    def close(self) -> None:
        self.deployment.close()
