"""Events emitted with the CLI and the Python API arrive in Kafka and decode to the same values."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

import schemas
from core.clients import kafka_config
from core.tracing import parse_traceparent
from streams.producer import DeliveryError, EventProducer
from streams.topics import topic_for, topic_name
from tests.integration.kafka_helpers import end_offsets, read_at


def run_cli(prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORIES_TOPIC_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "stories.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_emit_arrives_and_decodes_to_the_same_values(settings, topic_prefix):
    story_id = str(uuid.uuid4())
    fields = {"actor_id": "viewer-1", "story_id": story_id, "author_id": "author-1"}
    result = run_cli(topic_prefix, "emit", "StoryViewed", "--json", orjson.dumps(fields).decode())
    assert result.returncode == 0, result.stderr
    delivery = orjson.loads(result.stdout)
    assert delivery["topic"] == f"{topic_prefix}.engagement"

    message = read_at(
        kafka_config(settings), delivery["topic"], delivery["partition"], delivery["offset"]
    )
    event_name, record = schemas.decode(message.value())
    assert event_name == "StoryViewed"
    assert {k: record[k] for k in fields} == fields
    assert record["event_id"] == delivery["event_id"]
    assert message.key() == story_id.encode()
    assert abs(record["occurred_at"] - datetime.now(UTC)) < timedelta(minutes=1)
    assert [name for name, _ in message.headers()] == ["event-type", "content-type"]


def test_cli_emit_sends_the_request_id_and_a_span_of_the_trace_it_is_given(settings,
                                                                           topic_prefix):
    given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    fields = {"actor_id": "fan-1", "followee_id": "star-1"}
    result = run_cli(topic_prefix, "emit", "UserFollowed", "--json", orjson.dumps(fields).decode(),
                     "--request-id", "ops-42", "--traceparent", given)
    assert result.returncode == 0, result.stderr
    delivery = orjson.loads(result.stdout)
    message = read_at(
        kafka_config(settings), delivery["topic"], delivery["partition"], delivery["offset"])
    headers = dict(message.headers())
    assert headers["x-request-id"] == b"ops-42"
    sent = parse_traceparent(headers["traceparent"])
    assert sent is not None and sent.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert sent.parent_id != "00f067aa0ba902b7"
    refused = run_cli(topic_prefix, "emit", "UserFollowed", "--json", orjson.dumps(fields).decode(),
                      "--traceparent", "00-nope")
    assert refused.returncode == 2 and "--traceparent" in refused.stderr


def test_cli_rejects_an_invalid_event_naming_the_field_and_sends_nothing(settings, topic_prefix):
    topic = f"{topic_prefix}.story-lifecycle"
    before = end_offsets(kafka_config(settings), topic, 6)
    bad = {"actor_id": "a", "story_id": str(uuid.uuid4()), "kind": "TEXT", "text": "hi",
           "lifetime_seconds": 10}
    result = run_cli(topic_prefix, "emit", "StoryPosted", "--json", orjson.dumps(bad).decode())
    assert result.returncode == 2
    assert "lifetime_seconds" in result.stderr
    assert end_offsets(kafka_config(settings), topic, 6) == before


def test_cli_emit_file_reports_delivered_and_each_bad_line(settings, topic_prefix, tmp_path: Path):
    story_id = str(uuid.uuid4())
    lines = [
        {"event": "StoryViewed", "data": {"actor_id": f"v{i}", "story_id": story_id,
                                          "author_id": "author-1"}}
        for i in range(5)
    ]
    events = tmp_path / "events.jsonl"
    text = [orjson.dumps(line).decode() for line in lines]
    text.insert(2, "{not json")
    text.insert(4, orjson.dumps({"event": "StoryReacted", "data": {
        "actor_id": "v9", "story_id": story_id, "author_id": "author-1", "emoji": "hello"}}).decode())
    events.write_text("\n".join(text) + "\n")

    result = run_cli(topic_prefix, "emit", "--file", str(events))
    assert result.returncode == 1
    assert "delivered 5, failed 2" in result.stderr
    assert f"{events}:3:" in result.stderr and f"{events}:5:" in result.stderr
    assert "emoji" in result.stderr
    assert sum(end_offsets(kafka_config(settings), f"{topic_prefix}.engagement", 12)) == 5


async def test_api_emit_is_acknowledged_with_its_offset(settings, topic_prefix):
    record = schemas.new_event("UserFollowed", actor_id="fan-1", followee_id="star-1")
    with EventProducer(kafka_config(settings), topic_prefix) as producer:
        delivery = await producer.emit_async("UserFollowed", record)
    assert delivery.topic == topic_name(topic_for("UserFollowed"), topic_prefix)
    message = read_at(kafka_config(settings), delivery.topic, delivery.partition, delivery.offset)
    assert schemas.decode(message.value()) == ("UserFollowed", record)


def test_delivery_failure_is_reported_not_dropped():
    record = schemas.new_event("UserFollowed", actor_id="fan-1", followee_id="star-1")
    # Nothing listens on this port: the event cannot be acknowledged.
    producer = EventProducer({"bootstrap.servers": "127.0.0.1:1"}, "nowhere",
                             **{"message.timeout.ms": 1500})
    try:
        with pytest.raises(DeliveryError) as failure:
            producer.emit("UserFollowed", record, timeout=10)
        assert failure.value.event_id == record["event_id"]
    finally:
        producer.close(timeout=1)
