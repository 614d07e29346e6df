"""Golden bytes: each sample encodes to exactly its published bytes, and they decode back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas import CATALOGUE, DecodeError, decode, encode
from schemas.catalogue import Catalogue, load_package_schemas
from schemas.golden import (
    GOLDEN_DIR,
    GoldenFile,
    golden_files,
    load_golden_bytes,
    load_sample,
    problems,
    write_missing,
)
from schemas.golden.__main__ import main

GOLDEN = golden_files(CATALOGUE)
LATEST = [g for g in GOLDEN if g.version == CATALOGUE.versions_of(g.event_name)[-1]]


def ids(golden: GoldenFile) -> str:
    return golden.stem


@pytest.mark.parametrize("golden", LATEST, ids=ids)
def test_the_sample_encodes_to_the_golden_bytes(golden):
    sample = load_sample(golden, CATALOGUE)
    assert encode(golden.event_name, sample) == load_golden_bytes(golden)


@pytest.mark.parametrize("golden", LATEST, ids=ids)
def test_the_golden_bytes_decode_to_the_sample(golden):
    sample = load_sample(golden, CATALOGUE)
    assert decode(load_golden_bytes(golden)) == (golden.event_name, sample)


@pytest.mark.parametrize("golden", GOLDEN, ids=ids)
def test_every_version_still_writes_its_published_bytes(golden):
    sample = load_sample(golden, CATALOGUE)
    published = load_golden_bytes(golden)
    assert CATALOGUE.encode_version(golden.event_name, golden.version, sample) == published
    assert published[2:10] == CATALOGUE.fingerprint_of(golden.event_name, golden.version)
    writer, as_written = CATALOGUE.decode_as_written(published)
    assert (writer.event_name, writer.version, as_written) == (
        golden.event_name,
        golden.version,
        sample,
    )


def test_the_golden_check_passes_on_the_published_files():
    assert problems(CATALOGUE) == []


def test_the_check_command_exits_zero_and_writes_nothing(capsys):
    before = {path.name: path.read_bytes() for path in GOLDEN_DIR.glob("*.bin")}
    assert main([]) == 0
    assert "golden files OK" in capsys.readouterr().out
    assert {path.name: path.read_bytes() for path in GOLDEN_DIR.glob("*.bin")} == before


def copy_samples(target: Path) -> Path:
    """The .json samples alone, in a scratch directory."""
    for path in GOLDEN_DIR.glob("*.json"):
        shutil.copy(path, target / path.name)
    return target


def test_regenerating_reproduces_the_published_bytes(tmp_path):
    directory = copy_samples(tmp_path)
    written = write_missing(CATALOGUE, directory)
    assert len(written) == len(GOLDEN)
    for golden in GOLDEN:
        assert load_golden_bytes(golden, directory) == load_golden_bytes(golden)


def test_writing_keeps_published_files_unless_told_to_overwrite(tmp_path):
    directory = copy_samples(tmp_path)
    write_missing(CATALOGUE, directory)
    stale = directory / "StoryViewed.v1.bin"
    stale.write_bytes(b"stale")
    assert write_missing(CATALOGUE, directory) == []
    assert stale.read_bytes() == b"stale"
    assert stale in write_missing(CATALOGUE, directory, overwrite=True)
    assert stale.read_bytes() == load_golden_bytes(GoldenFile("StoryViewed", 1))


def test_a_missing_golden_file_is_reported(tmp_path):
    directory = copy_samples(tmp_path)
    write_missing(CATALOGUE, directory)
    (directory / "StoryDeleted.v1.bin").unlink()
    assert problems(CATALOGUE, directory) == [
        "StoryDeleted.v1: missing golden file (StoryDeleted.v1.bin)"
    ]


def edited_in_place() -> Catalogue:
    """The catalogue as it would be if someone added a field to StoryViewed v1 itself."""
    source = load_package_schemas()
    edited = source["StoryViewed"][1]
    edited["fields"].append(
        {"name": "source", "type": ["null", "string"], "default": None, "doc": "Where."}
    )
    return Catalogue(source)


def test_editing_a_published_schema_without_a_new_version_is_caught():
    catalogue = edited_in_place()
    found = problems(catalogue)
    assert len(found) == 1
    assert found[0].startswith("StoryViewed.v1: the published bytes carry fingerprint")
    assert "add the change as a new version" in found[0]


def test_bytes_written_before_an_in_place_edit_no_longer_decode():
    published = load_golden_bytes(GoldenFile("StoryViewed", 1))
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        edited_in_place().decode(published)


def test_rewording_docs_needs_no_new_version():
    source = load_package_schemas()
    source["StoryViewed"][1]["doc"] = "Reworded, same shape."
    source["StoryViewed"][1]["fields"][4]["doc"] = "Reworded too."
    assert problems(Catalogue(source)) == []
