"""Events of a newer release: a version learned from the schema topic is read with this build's
latest schema (fields it does not know dropped); what cannot be resolved stays a bad event."""

from __future__ import annotations

import io
import uuid

import fastavro
import pytest

import schemas
from schemas import framing
from schemas.catalogue import Catalogue, CatalogueError


def written_by(schema: dict, record: dict) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return framing.header(framing.fingerprint(schema)) + body.getvalue()


def newer_view_schema(extra: dict) -> dict:
    schema = schemas.CATALOGUE.schema_of("StoryViewed")
    schema["fields"].append(extra)
    return schema


def test_a_learned_newer_version_is_read_with_the_latest_known():
    catalogue = Catalogue.from_package()
    newer = newer_view_schema({"name": "client", "type": "string", "default": "app"})
    story_id = str(uuid.uuid4())
    record = {**schemas.new_event("StoryViewed", actor_id="v", story_id=story_id, author_id="a"),
              "client": "web"}
    data = written_by(newer, record)
    with pytest.raises(schemas.DecodeError, match="unknown schema fingerprint"):
        catalogue.decode(data)
    learned = catalogue.learn(newer)
    assert catalogue.knows(learned.fingerprint)
    name, read = catalogue.decode(data)
    assert name == "StoryViewed" and "client" not in read
    assert read["story_id"] == story_id and read["actor_id"] == "v"
    assert catalogue.learn(newer) is learned  # learning twice changes nothing


def test_a_version_that_cannot_be_resolved_is_still_a_bad_event():
    catalogue = Catalogue.from_package()
    changed = schemas.CATALOGUE.schema_of("StoryViewed")
    for field in changed["fields"]:
        if field["name"] == "story_id":
            field["type"] = "long"  # a type this build cannot read as its story id
    record = {**schemas.new_event("StoryViewed", actor_id="v", story_id="x", author_id="a"),
              "story_id": 7}
    data = written_by(changed, record)
    catalogue.learn(changed)
    with pytest.raises(schemas.EventError):
        catalogue.decode(data)


def test_only_events_this_build_knows_are_learned():
    catalogue = Catalogue.from_package()
    unknown = {**schemas.CATALOGUE.schema_of("StoryViewed"), "name": "StoryBoosted"}
    with pytest.raises(CatalogueError, match="StoryBoosted"):
        catalogue.learn(unknown)
