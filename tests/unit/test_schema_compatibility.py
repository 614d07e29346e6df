"""Old events stay readable: every version in the repo is readable by the latest one.

The parametrized tests cover the real catalogue; the synthetic v2s below prove the checks
would fail on a breaking change and pass on a safe one.
"""

from __future__ import annotations

import json
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas import CATALOGUE, EVENT_NAMES, DecodeError
from schemas.catalogue import Catalogue, load_package_schemas
from schemas.golden import GoldenFile, load_golden_bytes, load_sample


def incompatibilities(catalogue: Catalogue) -> list[str]:
    """Every (event, older version) the latest schema of that event cannot read."""
    found = []
    for name in catalogue.event_names:
        versions = catalogue.versions_of(name)
        reader = avro.schema.parse(json.dumps(catalogue.schema_of(name)))
        for version in versions:
            writer = avro.schema.parse(json.dumps(catalogue.schema_of(name, version)))
            result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
            if result.compatibility is not SchemaCompatibilityType.compatible:
                found.append(f"{name} v{versions[-1]} cannot read v{version}: {result.messages}")
    return found


def all_versions() -> list[tuple[str, int]]:
    return [(name, version) for name in EVENT_NAMES for version in CATALOGUE.versions_of(name)]


def test_the_latest_version_of_every_event_reads_every_older_one():
    assert incompatibilities(CATALOGUE) == []


@pytest.mark.parametrize(("event_name", "version"), all_versions())
def test_golden_bytes_of_every_version_decode_with_the_latest(event_name, version):
    decoded_name, record = CATALOGUE.decode(load_golden_bytes(GoldenFile(event_name, version)))
    assert decoded_name == event_name
    assert set(record) == {f["name"] for f in CATALOGUE.schema_of(event_name)["fields"]}


def with_story_viewed_v2(change: Any) -> Catalogue:
    """The real catalogue plus a StoryViewed v2 made by applying change to a copy of v1."""
    source = load_package_schemas()
    v2 = json.loads(json.dumps(source["StoryViewed"][1]))
    change(v2)
    source["StoryViewed"][2] = v2
    return Catalogue(source)


def add_optional_source(schema: dict[str, Any]) -> None:
    schema["fields"].append(
        {"name": "source", "type": ["null", "string"], "default": None, "doc": "Where."}
    )


def add_required_source(schema: dict[str, Any]) -> None:
    schema["fields"].append({"name": "source", "type": "string", "doc": "Where."})


def retype_author(schema: dict[str, Any]) -> None:
    schema["fields"][4]["type"] = "long"


def test_adding_a_field_with_a_default_is_compatible_and_old_events_decode_with_it():
    catalogue = with_story_viewed_v2(add_optional_source)
    assert incompatibilities(catalogue) == []
    golden = GoldenFile("StoryViewed", 1)
    name, record = catalogue.decode(load_golden_bytes(golden))
    assert (name, record) == ("StoryViewed", {**load_sample(golden, CATALOGUE), "source": None})
    fresh = catalogue.encode("StoryViewed", record)
    assert fresh[2:10] == catalogue.fingerprint_of("StoryViewed", 2)
    assert catalogue.decode(fresh) == ("StoryViewed", record)


@pytest.mark.parametrize("breaking_change", [add_required_source, retype_author])
def test_a_breaking_change_is_reported_and_old_events_fail_to_decode(breaking_change):
    catalogue = with_story_viewed_v2(breaking_change)
    found = incompatibilities(catalogue)
    assert len(found) == 1 and found[0].startswith("StoryViewed v2 cannot read v1")
    with pytest.raises(DecodeError, match="StoryViewed v1 body"):
        catalogue.decode(load_golden_bytes(GoldenFile("StoryViewed", 1)))


def test_removing_an_enum_symbol_is_reported():
    source = load_package_schemas()
    v2 = json.loads(json.dumps(source["StoryPosted"][1]))
    v2["fields"][4]["type"]["symbols"] = ["TEXT", "IMAGE"]
    source["StoryPosted"][2] = v2
    found = incompatibilities(Catalogue(source))
    assert len(found) == 1 and found[0].startswith("StoryPosted v2 cannot read v1")
