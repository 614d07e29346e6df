"""Golden files: one fixed sample per event version and the exact bytes it must encode to.

``<EventName>.v<N>.json`` holds the sample (timestamps as ISO-8601 text) and
``<EventName>.v<N>.bin`` its encoding. Once published, a .bin never changes: it is the proof
that events written with that version stay readable. ``python -m schemas.golden --write``
creates the missing .bin files; replacing an existing one takes ``--overwrite``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.catalogue import Catalogue
from schemas.errors import EventError

__all__ = [
    "GOLDEN_DIR",
    "GoldenFile",
    "golden_files",
    "load_sample",
    "load_golden_bytes",
    "problems",
    "record_from_json",
    "record_to_json",
    "write_missing",
]

GOLDEN_DIR = Path(__file__).resolve().parent
"""The published golden files, shipped as package data next to this module."""


@dataclass(frozen=True, slots=True)
class GoldenFile:
    """The sample and bytes of one event version."""

    event_name: str
    version: int

    @property
    def stem(self) -> str:
        """``StoryPosted.v1``."""
        return f"{self.event_name}.v{self.version}"


def golden_files(catalogue: Catalogue) -> list[GoldenFile]:
    """Every event version in the catalogue, each of which must have golden files."""
    return [
        GoldenFile(name, version)
        for name in catalogue.event_names
        for version in catalogue.versions_of(name)
    ]


def load_sample(
    golden: GoldenFile, catalogue: Catalogue, directory: Path = GOLDEN_DIR
) -> dict[str, Any]:
    """The sample record of one version, with timestamps as datetimes."""
    text = (directory / f"{golden.stem}.json").read_text(encoding="utf-8")
    schema = catalogue.schema_of(golden.event_name, golden.version)
    return record_from_json(schema, json.loads(text))


def load_golden_bytes(golden: GoldenFile, directory: Path = GOLDEN_DIR) -> bytes:
    """The published encoding of the sample."""
    return (directory / f"{golden.stem}.bin").read_bytes()


def record_from_json(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the JSON form of a record into the codec's form (ISO-8601 text to datetimes)."""
    return _convert_record(schema, data, _from_iso)


def record_to_json(schema: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of a record, for writing a new sample file."""
    return _convert_record(schema, record, _to_iso)


def _from_iso(value: str) -> datetime:
    """Golden timestamps must carry their zone, like every datetime in the codec."""
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        raise ValueError(f"golden timestamp without a zone: {value!r}")
    return moment


def _to_iso(value: datetime) -> str:
    """Millisecond ISO-8601, the precision events keep."""
    return value.isoformat(timespec="milliseconds")


def _convert(schema: Any, value: Any, on_timestamp: Callable[[Any], Any]) -> Any:
    """Walk value alongside its schema, converting timestamp-millis values only."""
    if value is None:
        return None
    if isinstance(schema, list):
        branch = next(b for b in schema if b != "null")
        return _convert(branch, value, on_timestamp)
    if not isinstance(schema, Mapping):
        return value
    if schema.get("logicalType") == "timestamp-millis":
        return on_timestamp(value)
    kind = schema.get("type")
    if kind == "record":
        return _convert_record(schema, value, on_timestamp)
    if kind == "array":
        return [_convert(schema["items"], item, on_timestamp) for item in value]
    if isinstance(kind, list | Mapping):
        return _convert(kind, value, on_timestamp)
    return value


def _convert_record(
    schema: Mapping[str, Any], record: Mapping[str, Any], on_timestamp: Callable[[Any], Any]
) -> dict[str, Any]:
    """Convert each field of a record with the type its schema gives it."""
    types = {field["name"]: field["type"] for field in schema["fields"]}
    return {name: _convert(types.get(name), item, on_timestamp) for name, item in record.items()}


def problems(catalogue: Catalogue, directory: Path = GOLDEN_DIR) -> list[str]:
    """What is wrong with the golden files: missing, stale, or no longer decodable."""
    found: list[str] = []
    for golden in golden_files(catalogue):
        found.extend(_problems_of(golden, catalogue, directory))
    return found


def _problems_of(golden: GoldenFile, catalogue: Catalogue, directory: Path) -> list[str]:
    """Check one event version's golden files against the catalogue."""
    try:
        sample = load_sample(golden, catalogue, directory)
        published = load_golden_bytes(golden, directory)
    except FileNotFoundError as error:
        return [f"{golden.stem}: missing golden file ({Path(str(error.filename)).name})"]
    expected_fingerprint = catalogue.fingerprint_of(golden.event_name, golden.version)
    if published[2:10] != expected_fingerprint:
        return [
            f"{golden.stem}: the published bytes carry fingerprint {published[2:10].hex()} but "
            f"v{golden.version}.avsc now has {expected_fingerprint.hex()}; a published schema "
            "was edited in place: restore it and add the change as a new version"
        ]
    try:
        encoded = catalogue.encode_version(golden.event_name, golden.version, sample)
        catalogue.decode(published)
    except EventError as error:
        return [f"{golden.stem}: {error}"]
    if encoded != published:
        return [f"{golden.stem}: the sample no longer encodes to the published bytes"]
    return []


def write_missing(
    catalogue: Catalogue, directory: Path = GOLDEN_DIR, overwrite: bool = False
) -> list[Path]:
    """Encode each sample whose .bin is missing (or every one, with overwrite); return the paths."""
    written = []
    for golden in golden_files(catalogue):
        target = directory / f"{golden.stem}.bin"
        if target.exists() and not overwrite:
            continue
        sample = load_sample(golden, catalogue, directory)
        target.write_bytes(catalogue.encode_version(golden.event_name, golden.version, sample))
        written.append(target)
    return written
