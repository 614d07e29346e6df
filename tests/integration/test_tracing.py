"""One request followed end to end: its X-Request-ID and traceparent go from the real gateway
into its event's Kafka headers, and from an event the worker sets aside into the dead letter,
the worker's log line and `stories dlq`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from typer.testing import CliRunner

import schemas
from core.clients import kafka_config
from core.settings import get_settings
from core.tracing import TraceParent, parse_traceparent
from gateway.auth import issue_token
from stories.cli import app
from streams.topics import topic_for, topic_name
from streams.tracing import trace_headers
from tests.integration.gateway_helpers import GatewayProcess, unique, wait_until
from tests.integration.test_worker import dead_letters
from tests.integration.worker_helpers import PrivateDeployment

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLERS_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def world(local_stack, tmp_path_factory) -> Iterator[tuple[PrivateDeployment, GatewayProcess]]:
    """A deployment with a worker and the gateway as real processes, both logging JSON."""
    deployment = PrivateDeployment(local_stack, tmp_path_factory.mktemp("tracing"))
    try:
        deployment.start_worker(STORIES_LOG_FORMAT="json")
        yield deployment, GatewayProcess(deployment, log_format="json")
    finally:
        deployment.close()


def _bearer(deployment: PrivateDeployment, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(deployment.settings, user_id, 600)}"}


def _messages(deployment: PrivateDeployment, event_name: str) -> list[Message]:
    """Every message of the event's topic in the deployment, read with a real consumer."""
    topic = topic_for(event_name)
    name = topic_name(topic, deployment.settings.topic_prefix)
    consumer = Consumer({**kafka_config(deployment.settings), "enable.auto.commit": False,
                         "group.id": f"read-{uuid.uuid4().hex[:8]}"})
    found: list[Message] = []
    try:
        for partition in range(topic.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), 10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(name, partition, low)])
            for _ in range(high - low):
                message = consumer.poll(10)
                assert message is not None and message.error() is None, f"{name}[{partition}]"
                found.append(message)
        return found
    finally:
        consumer.close()


def _json_lines(path: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_a_requests_id_and_trace_travel_in_the_headers_of_its_event(world):
    deployment, gateway = world
    fan, star = unique("fan"), unique("star")
    response = httpx.put(f"{gateway.url}/api/v1/users/{star}/follow", headers={
        **_bearer(deployment, fan), "X-Request-ID": "it-follow-1",
        "traceparent": f"00-{TRACE_ID}-{CALLERS_SPAN}-01"})

    assert response.status_code == 202, response.text
    gateways = parse_traceparent(response.headers["traceparent"])
    assert response.headers["x-request-id"] == "it-follow-1"
    assert gateways is not None and gateways.trace_id == TRACE_ID
    [event] = [m for m in _messages(deployment, "UserFollowed") if m.key() == fan.encode()]
    headers = dict(event.headers() or [])
    sent = parse_traceparent(headers["traceparent"])
    assert headers["x-request-id"] == b"it-follow-1"
    assert headers["event-type"] == b"UserFollowed"
    assert sent is not None and sent.trace_id == TRACE_ID
    assert sent.parent_id not in (CALLERS_SPAN, gateways.parent_id)  # a span of its own
    access = [line for line in _json_lines(gateway.log_path)
              if line.get("request_id") == "it-follow-1" and line["logger"] == "gateway.access"]
    assert [line["trace_id"] for line in access] == [TRACE_ID]


def _invoke(prefix: str, *args: str) -> str:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env={"STORIES_TOPIC_PREFIX": prefix})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def _rejected_deletion(deployment: PrivateDeployment, gateway: GatewayProcess,
                       span: TraceParent) -> None:
    """A story posted through the gateway, then a service's StoryDeleted by someone else."""
    author = unique("author")
    posted = httpx.post(f"{gateway.url}/api/v1/stories", json={"text": "mine"},
                        headers=_bearer(deployment, author))
    story_id = posted.json()["story_id"]
    models = deployment.runtime.redis_models()
    wait_until(lambda: models.story(story_id) is not None, "the story to be projected")
    deletion = schemas.new_event("StoryDeleted", unique("mallory"), story_id=story_id)
    deployment.runtime.events.emit("StoryDeleted", deletion,
                                   headers=trace_headers("it-delete-1", span))


def test_a_dead_letter_keeps_the_request_and_the_worker_and_dlq_name_it(world):
    deployment, gateway = world
    settings, prefix = deployment.settings, deployment.settings.topic_prefix
    poison = schemas.new_event("StoryReacted", actor_id="v", story_id=str(uuid.uuid4()),
                               author_id="a", emoji="hello")
    sent = {"it-poison-1": TraceParent.start(), "it-delete-1": TraceParent.start()}
    raw = Producer(kafka_config(settings))
    raw.produce(topic_name(topic_for("StoryReacted"), prefix),
                value=schemas.CATALOGUE.encode_version("StoryReacted", 1, poison),
                headers=trace_headers("it-poison-1", sent["it-poison-1"]))
    raw.flush(10)
    _rejected_deletion(deployment, gateway, sent["it-delete-1"])

    letters = dead_letters(settings, 2)
    assert len(letters) == 2, deployment.logs()
    worker_log = deployment.workdir / "worker-0.log"
    for letter in letters:
        headers = dict(letter.headers())
        request_id = headers["x-request-id"].decode()
        trace = parse_traceparent(headers["traceparent"])
        assert trace is not None and trace.trace_id == sent[request_id].trace_id
        assert headers["dlq-reason"]
        letter_id = f"{letter.partition()}:{letter.offset()}"
        shown = _invoke(prefix, "dlq", "show", letter_id)
        assert f"request_id:  {request_id}\n" in shown
        assert f"trace_id:    {trace.trace_id}\n" in shown
        assert f"  traceparent: {headers['traceparent'].decode()}\n" in shown
        [line] = [entry for entry in _invoke(prefix, "dlq", "list").splitlines()
                  if entry.startswith(f"{letter_id} ")]
        assert line.endswith(f"  request={request_id}  trace={trace.trace_id}")

        def logged(request_id: str = request_id) -> list[dict[str, Any]]:
            return [line for line in _json_lines(worker_log)
                    if line["message"].startswith("dead-lettered")
                    and line.get("request_id") == request_id]

        wait_until(lambda: logged() != [], f"the worker's line about {request_id}")
        assert [line["trace_id"] for line in logged()] == [trace.trace_id]
