"""`stories dlq` against the real broker: dead letters listed and shown without their content,
the valid one redriven to its topic with its key exactly once, the others left where they are."""

from __future__ import annotations

import os
import uuid

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from typer.testing import CliRunner

import schemas
from core.clients import KafkaConfig, kafka_config
from core.settings import get_settings
from stories.cli import app
from streams.dead_letters import redrive
from streams.producer import dead_letter_headers
from streams.topics import DEAD_LETTER, DEAD_LETTER_REDRIVEN, topic_for, topic_name
from tests.integration.kafka_helpers import end_offsets

SECRET = "a story text nobody else may read"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CAME_WITH = [("x-request-id", b"req-dlq-1"), ("traceparent", TRACEPARENT.encode())]


def _invoke(prefix: str, *args: str):
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env={"STORIES_TOPIC_PREFIX": prefix})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _all_messages(kafka: KafkaConfig, topic: str, partitions: int) -> list:
    """Every message of the topic (read_committed: what consumers of record see)."""
    consumer = Consumer({**kafka, "group.id": f"t-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    ends = end_offsets(kafka, topic, partitions)
    found = []
    try:
        for partition, end in enumerate(ends):
            if not end:
                continue
            consumer.assign([TopicPartition(topic, partition, 0)])
            while True:
                message = consumer.poll(5)
                if message is None or message.error() is not None:
                    break
                found.append(message)
                if message.offset() >= end - 1:
                    break
        return found
    finally:
        consumer.close()


@pytest.fixture
def letters(settings, topic_prefix):
    """Three dead letters: valid now, breaking a rule, random bytes; by role, their ids."""
    story = str(uuid.uuid4())
    valid = schemas.new_event("StoryPosted", actor_id="ada", story_id=story, kind="TEXT",
                              text=SECRET)
    invalid = schemas.new_event("StoryPosted", actor_id="ada", story_id=str(uuid.uuid4()),
                                kind="TEXT", text=SECRET, lifetime_seconds=-5)
    source = topic_name(topic_for("StoryPosted"), topic_prefix)
    rows = {
        "valid": (schemas.encode("StoryPosted", valid), story.encode(),
                  "projection failed: RuntimeError('store was away')", 11),
        "invalid": (schemas.CATALOGUE.encode_version("StoryPosted", 1, invalid), b"bad-key",
                    "lifetime_seconds: must be positive", 12),
        "noise": (os.urandom(64), None, "bad magic 5e 11: not an Avro single-object encoded "
                                        "event (expected c3 01)", 13),
    }
    producer = Producer(kafka_config(settings))
    dead = topic_name(DEAD_LETTER, topic_prefix)
    ids: dict[str, str] = {}

    def remember(role):
        def on_delivery(error, message):
            assert error is None, error
            ids[role] = f"{message.partition()}:{message.offset()}"
        return on_delivery

    for role, (value, key, reason, offset) in rows.items():
        carried = CAME_WITH if role == "valid" else ()
        producer.produce(dead, value=value, key=key, partition=0,
                         headers=dead_letter_headers(reason, source, 1, offset, carried),
                         on_delivery=remember(role))
    assert producer.flush(20) == 0
    return {"ids": ids, "valid": valid, "story": story, "source": source}


def test_list_and_show_name_each_dead_letter_and_never_print_content(topic_prefix, letters):
    ids = letters["ids"]
    listed = _invoke(topic_prefix, "dlq", "list").stdout.splitlines()
    assert len(listed) == 3
    assert SECRET not in "\n".join(listed)
    by_id = {line.split()[0]: line for line in listed}
    assert set(by_id) == set(ids.values())
    assert f"{letters['source']}[1]@11" in by_id[ids["valid"]]
    assert "StoryPosted" in by_id[ids["valid"]] and "[projection]" in by_id[ids["valid"]]
    assert "[invalid] lifetime_seconds" in by_id[ids["invalid"]]
    assert "  -  [decode]" in by_id[ids["noise"]]
    assert by_id[ids["valid"]].endswith(
        "  request=req-dlq-1  trace=4bf92f3577b34da6a3ce929d0e0e4736")
    assert "request=" not in by_id[ids["noise"]]

    as_json = [orjson.loads(line) for line in
               _invoke(topic_prefix, "dlq", "list", "--json", "--reason", "decode").stdout
               .splitlines()]
    assert [entry["id"] for entry in as_json] == [ids["noise"]]
    assert _invoke(topic_prefix, "dlq", "list", "--reason", "lifetime").stdout.split()[0] == \
        ids["invalid"]
    assert _invoke(topic_prefix, "dlq", "list", "--since", "1h").stdout.count("\n") == 3
    assert _invoke(topic_prefix, "dlq", "list", "--since", "2999-01-01").stdout == ""

    shown = _invoke(topic_prefix, "dlq", "show", ids["valid"]).stdout
    assert SECRET not in shown
    assert '"text": "<redacted>"' in shown and letters["story"] in shown
    assert "dlq-reason: projection failed" in shown
    assert "request_id:  req-dlq-1\ntrace_id:    4bf92f3577b34da6a3ce929d0e0e4736\n" in shown
    details = orjson.loads(_invoke(topic_prefix, "dlq", "show", "--json", ids["noise"]).stdout)
    assert details["size"] == 64 and len(bytes.fromhex(details["hex_prefix"])) == 16
    assert details["valid_now"] is False and "record" not in details

    missing = CliRunner().invoke(app, ["dlq", "show", "2:999999"],
                                 env={"STORIES_TOPIC_PREFIX": topic_prefix})
    get_settings.cache_clear()
    assert missing.exit_code == 1


def test_redrive_sends_the_valid_one_back_exactly_once(settings, topic_prefix, letters):
    ids, source = letters["ids"], letters["source"]
    partitions = topic_for("StoryPosted").partitions
    before = end_offsets(kafka_config(settings), source, partitions)

    dry = _invoke(topic_prefix, "dlq", "redrive", "--dry-run").stdout
    assert f"would send {ids['valid']}" in dry and "dry run, nothing was sent" in dry
    assert end_offsets(kafka_config(settings), source, partitions) == before

    first = _invoke(topic_prefix, "dlq", "redrive").stdout
    assert f"sent {ids['valid']}\n" in first
    assert f"skipped {ids['invalid']}: still invalid: lifetime_seconds" in first
    assert f"skipped {ids['noise']}: still invalid: bad magic" in first
    assert "sent 1, skipped 2 (already redriven 0, still invalid 2)" in first

    second = orjson.loads(_invoke(topic_prefix, "dlq", "redrive", "--json").stdout)
    assert second["sent"] == []
    assert {(s["id"], s["already_redriven"]) for s in second["skipped"]} == {
        (ids["valid"], True), (ids["invalid"], False), (ids["noise"], False)}
    assert redrive(kafka_config(settings), topic_prefix, dry_run=True).sent == []

    arrived = _all_messages(kafka_config(settings), source, partitions)
    assert len(arrived) == 1
    assert arrived[0].key() == letters["story"].encode()
    assert schemas.decode(arrived[0].value()) == ("StoryPosted", letters["valid"])
    assert dict(arrived[0].headers())["dlq-redriven-from"] == ids["valid"].encode()
    assert [h for h in arrived[0].headers() if h[0] in ("x-request-id", "traceparent")] == \
        CAME_WITH  # the request it was first sent for

    marks = _all_messages(kafka_config(settings),
                          topic_name(DEAD_LETTER_REDRIVEN, topic_prefix), 1)
    assert [m.key() for m in marks] == [ids["valid"].encode()]
    assert orjson.loads(marks[0].value())["event_id"] == letters["valid"]["event_id"]

    listed = _invoke(topic_prefix, "dlq", "list").stdout
    assert [line.split()[0] for line in listed.splitlines() if "(redriven)" in line] == \
        [ids["valid"]]
    dead = topic_name(DEAD_LETTER, topic_prefix)
    assert sum(end_offsets(kafka_config(settings), dead, DEAD_LETTER.partitions)) == 3


def test_a_deployment_without_the_topics_has_no_dead_letters(local_stack):
    prefix = f"test-none-{uuid.uuid4().hex[:8]}"
    result = _invoke(prefix, "dlq", "list")
    assert result.stdout == ""
    assert "0 of 0 dead letters" in result.stderr
    assert _invoke(prefix, "dlq", "redrive", "--dry-run").stdout.startswith("would send 0")
    assert CliRunner().invoke(app, ["dlq", "show", "0:0"],
                              env={"STORIES_TOPIC_PREFIX": prefix}).exit_code == 1
    get_settings.cache_clear()
