"""The schema files themselves: naming, docs, common fields, versions; and the lookup API."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

import schemas
from schemas import (
    CATALOGUE,
    EVENT_NAMES,
    DecodeError,
    EventError,
    EventValidationError,
    fingerprint_of,
    new_event,
    schema_of,
)
from schemas.catalogue import Catalogue, CatalogueError, load_package_schemas
from schemas.rules import DEFAULT_LIFETIME_SECONDS

EXPECTED_EVENTS = {
    "StoryPosted", "MediaProcessed", "MediaRejected", "StoryViewed", "StoryReacted",
    "StickerAnswered", "StoryReplied", "StoryDeleted", "StoryExpired", "HighlightCreated",
    "HighlightUpdated", "HighlightStoryAdded", "HighlightStoryRemoved", "HighlightDeleted",
    "UserFollowed", "UserUnfollowed", "CloseFriendsChanged", "UserErased",
}  # fmt: skip

STORY_ID = "0b6f4c1e-2d7a-4e8b-9c3f-5a1d2e3f4a5b"


def all_versions() -> list[tuple[str, int]]:
    return [(name, version) for name in EVENT_NAMES for version in CATALOGUE.versions_of(name)]


def named_nodes(schema: Any) -> list[dict[str, Any]]:
    """Every record and enum defined anywhere in a schema."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, list):
        for branch in schema:
            found += named_nodes(branch)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum"):
            found.append(schema)
        for field in schema.get("fields", []):
            found += named_nodes(field["type"])
        for key in ("items", "values"):
            if key in schema:
                found += named_nodes(schema[key])
    return found


def test_the_catalogue_holds_exactly_the_product_events():
    assert set(EVENT_NAMES) == EXPECTED_EVENTS
    assert list(EVENT_NAMES) == sorted(EVENT_NAMES)


def test_schema_files_ship_as_package_data_under_events_name_version():
    for name, version in all_versions():
        assert (files("schemas") / "events" / name / f"v{version}.avsc").is_file()


def test_versions_run_from_one_without_gaps():
    for name in EVENT_NAMES:
        versions = CATALOGUE.versions_of(name)
        assert versions == tuple(range(1, len(versions) + 1))


@pytest.mark.parametrize(("event_name", "version"), all_versions())
def test_every_record_enum_and_field_has_a_doc(event_name, version):
    schema = schema_of(event_name, version)
    for node in named_nodes(schema):
        assert node.get("doc", "").strip(), f"{node['name']} has no doc"
        for field in node.get("fields", []):
            assert field.get("doc", "").strip(), f"{node['name']}.{field['name']} has no doc"


@pytest.mark.parametrize(("event_name", "version"), all_versions())
def test_every_event_is_a_record_in_the_namespace_starting_with_the_common_fields(
    event_name, version
):
    schema = schema_of(event_name, version)
    assert schema["type"] == "record"
    assert schema["name"] == event_name
    assert schema["namespace"] == "stories.events"
    first_three = [(f["name"], f["type"]) for f in schema["fields"][:3]]
    assert first_three == [
        ("event_id", {"type": "string", "logicalType": "uuid"}),
        ("occurred_at", {"type": "long", "logicalType": "timestamp-millis"}),
        ("actor_id", "string"),
    ]


def test_shared_types_are_named_once_inside_story_posted():
    names = {node["name"] for node in named_nodes(schema_of("StoryPosted"))}
    assert {"StoryKind", "Audience", "AudienceMode", "Sticker", "StickerKind"} <= names


def test_schema_of_returns_a_copy_that_callers_may_change():
    schema = schema_of("StoryViewed")
    schema["fields"].clear()
    assert schema_of("StoryViewed")["fields"]


def test_fingerprint_of_is_eight_bytes_and_distinct_per_schema():
    prints = {fingerprint_of(name, version) for name, version in all_versions()}
    assert len(prints) == len(all_versions())
    assert all(len(p) == 8 for p in prints)
    assert fingerprint_of("StoryViewed") == fingerprint_of("StoryViewed", 1)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: schema_of("StoryViewd"), "event_name"),
        (lambda: fingerprint_of("StoryViewed", 9), "version"),
        (lambda: schemas.validate("Nope", {}), "event_name"),
        (lambda: schemas.encode("Nope", {}), "event_name"),
        (lambda: new_event("Nope", "user-1"), "event_name"),
    ],
)
def test_unknown_events_and_versions_are_named(call, field):
    with pytest.raises(EventValidationError) as caught:
        call()
    assert caught.value.field == field


def test_errors_share_a_base_and_read_well():
    error = EventValidationError("audience.mode", "must be one of FOLLOWERS", "StoryPosted")
    assert isinstance(error, EventError) and issubclass(DecodeError, EventError)
    assert str(error) == "audience.mode: must be one of FOLLOWERS"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.message, copy.event_name) == (
        "audience.mode",
        "must be one of FOLLOWERS",
        "StoryPosted",
    )
    assert str(DecodeError("bad magic")) == "bad magic"
    assert DecodeError("bad magic").reason == "bad magic"


def test_new_event_fills_id_time_and_story_defaults():
    before = datetime.now(UTC)
    record = new_event("StoryPosted", "user-ada", story_id=STORY_ID, kind="TEXT", text="hi")
    assert before - timedelta(milliseconds=1) <= record["occurred_at"] <= datetime.now(UTC)
    assert record["occurred_at"].microsecond % 1000 == 0
    assert record["lifetime_seconds"] == 86400
    assert record["expires_at"] == record["occurred_at"] + timedelta(seconds=86400)
    assert record["audience"] == {"mode": "FOLLOWERS", "user_ids": []}
    assert record["stickers"] == [] and record["media_id"] is None and record["caption"] is None
    assert list(record) == [f["name"] for f in schema_of("StoryPosted")["fields"]]
    schemas.validate("StoryPosted", record)


def test_new_event_uses_the_given_time_lifetime_and_event_id():
    moment = datetime(2025, 3, 14, 9, 26, 53, 589999, tzinfo=timezone(timedelta(hours=2)))
    record = new_event(
        "StoryPosted", "user-ada", occurred_at=moment, event_id=STORY_ID,
        story_id=STORY_ID, kind="IMAGE", media_id="m-1", lifetime_seconds=3600,
    )  # fmt: skip
    assert record["event_id"] == STORY_ID
    assert record["occurred_at"] == moment.replace(microsecond=589000)
    assert record["expires_at"] == record["occurred_at"] + timedelta(hours=1)


def test_the_schema_default_lifetime_is_the_rule_default():
    lifetime = next(
        f for f in schema_of("StoryPosted")["fields"] if f["name"] == "lifetime_seconds"
    )
    assert lifetime["default"] == DEFAULT_LIFETIME_SECONDS


def test_new_event_defaults_are_fresh_objects():
    first = new_event("StoryPosted", "a", story_id=STORY_ID, kind="TEXT", text="x")
    first["audience"]["user_ids"].append("b")
    second = new_event("StoryPosted", "a", story_id=STORY_ID, kind="TEXT", text="x")
    assert second["audience"]["user_ids"] == []


def test_new_event_fills_optional_fields_with_null_and_keeps_unknown_ones_for_validation():
    record = new_event("StickerAnswered", "v", story_id=STORY_ID, author_id="a",
                       sticker_id="s", option_index=1, colour="red")  # fmt: skip
    assert record["slider_value"] is None and record["text"] is None
    with pytest.raises(EventValidationError, match="^colour: is not a field of StickerAnswered"):
        schemas.validate("StickerAnswered", record)


def test_new_event_refuses_a_naive_time():
    with pytest.raises(EventValidationError, match="^occurred_at: must be a timezone-aware"):
        new_event("StoryViewed", "v", occurred_at=datetime(2025, 1, 1))  # noqa: DTZ001


def test_catalogue_refuses_gaps_in_versions():
    source = load_package_schemas()
    source["StoryViewed"] = {1: source["StoryViewed"][1], 3: source["StoryViewed"][1]}
    with pytest.raises(CatalogueError, match="without gaps"):
        Catalogue(source)


def test_catalogue_refuses_a_version_that_only_changes_docs():
    source = load_package_schemas()
    v2 = schema_of("StoryViewed")
    v2["doc"] = "Reworded."
    source["StoryViewed"] = {1: source["StoryViewed"][1], 2: v2}
    with pytest.raises(CatalogueError, match="same canonical form"):
        Catalogue(source)


def test_catalogue_refuses_a_schema_named_after_another_event():
    source = load_package_schemas()
    source["StoryViewed"] = {1: source["StoryDeleted"][1]}
    with pytest.raises(CatalogueError, match="must be named StoryViewed"):
        Catalogue(source)


def doc_sections() -> dict[str, str]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text("utf-8")
    return {chunk.split("\n", 1)[0].strip(): chunk for chunk in text.split("\n### ")[1:]}


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_docs_describe_every_event_and_each_of_its_fields(event_name):
    section = doc_sections().get(event_name, "")
    assert section, f"docs/events.md has no section for {event_name}"
    for node in named_nodes(schema_of(event_name)):
        for field in node.get("fields", [])[3 if node["name"] == event_name else 0 :]:
            assert f"`{field['name']}`" in section, f"{event_name}.{field['name']} is undocumented"
