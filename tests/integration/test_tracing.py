"""One request followed end to end: its X-Request-ID and traceparent go from the real gateway
into its event's Kafka headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from core.clients import kafka_config
from core.tracing import parse_traceparent
from gateway.auth import issue_token
from streams.topics import topic_for, topic_name
from tests.integration.gateway_helpers import GatewayProcess, unique
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
