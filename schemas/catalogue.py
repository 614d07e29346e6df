"""The event catalogue: every version of every schema, with the codec and validation built on it.

Schemas are parsed and checkers compiled once, when the catalogue is built; encode and decode
then do only dictionary lookups, one fastavro call and the cheap rule checks.
"""

from __future__ import annotations

import copy
import json
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from io import BytesIO
from typing import Any, cast
from uuid import uuid4

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.types import Schema as AvroSchema

from schemas import framing
from schemas.errors import DecodeError, EventValidationError
from schemas.rules import RULES, Rule, check_common
from schemas.structure import Checker, FieldProblem, compile_checker

__all__ = [
    "NAMESPACE",
    "Catalogue",
    "CatalogueError",
    "SchemaVersion",
    "load_package_schemas",
]

NAMESPACE = "stories.events"
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")
_MAX_REASON_DETAIL = 160

SchemaSource = Mapping[str, Mapping[int, Mapping[str, Any]]]
Validator = Callable[[Mapping[str, Any]], None]


class CatalogueError(Exception):
    """The schema files themselves are inconsistent; raised when the catalogue is built."""


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One version of one event schema, ready for the codec."""

    event_name: str
    version: int
    schema: Mapping[str, Any]
    fingerprint: bytes
    header: bytes
    codec_schema: AvroSchema
    check_structure: Checker


@dataclass(frozen=True, slots=True)
class _Reading:
    """What decode needs for one fingerprint, precomputed."""

    writer: SchemaVersion
    reader_schema: AvroSchema | None
    validate: Validator


def load_package_schemas() -> dict[str, dict[int, dict[str, Any]]]:
    """Read schemas/events/<EventName>/v<N>.avsc from the installed package."""
    root = files("schemas") / "events"
    return {
        event_dir.name: dict(_version_files(event_dir))
        for event_dir in sorted(root.iterdir(), key=lambda entry: entry.name)
        if event_dir.is_dir() and not event_dir.name.startswith(("_", "."))
    }


def _version_files(event_dir: Traversable) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each v<N>.avsc of one event, parsed as JSON."""
    for entry in event_dir.iterdir():
        match = _VERSION_FILE.fullmatch(entry.name)
        if match is not None:
            yield int(match.group(1)), json.loads(entry.read_text(encoding="utf-8"))


def _without_uuid_logical_type(schema: Any) -> Any:
    """Copy of a schema without logicalType "uuid", so fastavro hands uuids back as str.

    The canonical form drops logical types, so the fingerprint and the bytes are unchanged.
    """
    if isinstance(schema, list):
        return [_without_uuid_logical_type(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    copied = {key: _without_uuid_logical_type(value) for key, value in schema.items()}
    if copied.get("logicalType") == "uuid":
        del copied["logicalType"]
    return copied


def _build_version(event_name: str, version: int, schema: Mapping[str, Any]) -> SchemaVersion:
    """Parse, fingerprint and compile one schema file."""
    _check_identity(event_name, version, schema)
    schema_fingerprint = framing.fingerprint(schema)
    return SchemaVersion(
        event_name=event_name,
        version=version,
        schema=schema,
        fingerprint=schema_fingerprint,
        header=framing.header(schema_fingerprint),
        codec_schema=parse_schema(_without_uuid_logical_type(dict(schema))),
        check_structure=compile_checker(schema),
    )


def _check_identity(event_name: str, version: int, schema: Mapping[str, Any]) -> None:
    """A schema file must describe the event its directory names."""
    where = f"{event_name} v{version}"
    if schema.get("type") != "record":
        raise CatalogueError(f"{where}: an event schema must be a record")
    if schema.get("name") != event_name or schema.get("namespace") != NAMESPACE:
        raise CatalogueError(f"{where}: must be named {event_name} in namespace {NAMESPACE}")


def _check_versions_contiguous(event_name: str, versions: Mapping[int, Any]) -> None:
    """Versions are never deleted, so they run 1..N without gaps."""
    if sorted(versions) != list(range(1, len(versions) + 1)):
        raise CatalogueError(
            f"{event_name}: versions must be v1..vN without gaps, got {sorted(versions)}"
        )


def _truncated(text: str) -> str:
    """Keep dead-letter reasons short."""
    return text if len(text) <= _MAX_REASON_DETAIL else text[: _MAX_REASON_DETAIL - 3] + "..."


class Catalogue:
    """All event schemas with encode, decode and validate bound to them."""

    def __init__(self, schemas: SchemaSource, rules: Mapping[str, Rule] = RULES) -> None:
        self._versions: dict[str, dict[int, SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for event_name in sorted(schemas):
            self._add_event(event_name, schemas[event_name])
        self.event_names: tuple[str, ...] = tuple(self._versions)
        self._latest = {name: versions[max(versions)] for name, versions in self._versions.items()}
        self._validators = {
            name: _validator(latest, rules.get(name)) for name, latest in self._latest.items()
        }
        self._readings = {
            fingerprint: self._reading_for(writer)
            for fingerprint, writer in self._by_fingerprint.items()
        }

    @classmethod
    def from_package(cls) -> Catalogue:
        """The catalogue shipped in schemas/events."""
        return cls(load_package_schemas())

    def _add_event(self, event_name: str, versions: Mapping[int, Mapping[str, Any]]) -> None:
        """Build every version of one event, refusing two versions with one fingerprint."""
        if not versions:
            raise CatalogueError(f"{event_name}: no schema versions")
        _check_versions_contiguous(event_name, versions)
        built = {}
        for version in sorted(versions):
            schema_version = _build_version(event_name, version, versions[version])
            clash = self._by_fingerprint.get(schema_version.fingerprint)
            if clash is not None:
                raise CatalogueError(
                    f"{event_name} v{version} has the same canonical form as "
                    f"{clash.event_name} v{clash.version}; a change that only touches docs "
                    "or defaults needs no new version"
                )
            self._by_fingerprint[schema_version.fingerprint] = schema_version
            built[version] = schema_version
        self._versions[event_name] = built

    def learn(self, schema: Mapping[str, Any]) -> SchemaVersion:
        """A version of a known event that a newer release writes (published on the schema
        topic): events written with it are read with this build's latest schema, Avro's
        resolution dropping the fields this build does not know."""
        event_name = schema.get("name")
        latest = self._latest.get(event_name) if isinstance(event_name, str) else None
        if latest is None:
            raise CatalogueError(f"not an event this build knows: {event_name!r}")
        learned = _build_version(latest.event_name, latest.version + 1, schema)
        known = self._by_fingerprint.get(learned.fingerprint)
        if known is not None:
            return known
        self._by_fingerprint[learned.fingerprint] = learned
        self._readings[learned.fingerprint] = self._reading_for(learned)
        return learned

    def knows(self, schema_fingerprint: bytes) -> bool:
        return schema_fingerprint in self._readings

    def _reading_for(self, writer: SchemaVersion) -> _Reading:
        """Read with the latest schema of the event; skip resolution when the writer is latest."""
        latest = self._latest[writer.event_name]
        reader_schema = None if latest is writer else latest.codec_schema
        return _Reading(writer, reader_schema, self._validators[writer.event_name])

    # Lookups -----------------------------------------------------------------------------------

    def version_of(self, event_name: str, version: int | None = None) -> SchemaVersion:
        """One version of an event (the latest by default)."""
        versions = self._versions.get(event_name)
        if versions is None:
            raise _unknown_event(event_name, self.event_names)
        if version is None:
            return self._latest[event_name]
        found = versions.get(version)
        if found is None:
            raise EventValidationError(
                "version",
                f"{event_name} has no version {version!r}; known: {sorted(versions)}",
                event_name,
            )
        return found

    def versions_of(self, event_name: str) -> tuple[int, ...]:
        """Every version number of an event, oldest first."""
        self.version_of(event_name)
        return tuple(sorted(self._versions[event_name]))

    def schema_of(self, event_name: str, version: int | None = None) -> dict[str, Any]:
        """The schema as written in its .avsc file (a copy, safe to modify)."""
        return copy.deepcopy(dict(self.version_of(event_name, version).schema))

    def fingerprint_of(self, event_name: str, version: int | None = None) -> bytes:
        """The 8-byte CRC-64-AVRO fingerprint that frames events written with that version."""
        return self.version_of(event_name, version).fingerprint

    # Validation and codec ----------------------------------------------------------------------

    def validate(self, event_name: str, record: Mapping[str, Any]) -> None:
        """Check a record against the latest schema and the product rules of its event."""
        validator = self._validators.get(event_name)
        if validator is None:
            raise _unknown_event(event_name, self.event_names)
        validator(record)

    def encode(self, event_name: str, record: Mapping[str, Any]) -> bytes:
        """Validate, then frame the record with the latest schema of its event."""
        validator = self._validators.get(event_name)
        if validator is None:
            raise _unknown_event(event_name, self.event_names)
        validator(record)
        return _write(self._latest[event_name], record)

    def encode_version(self, event_name: str, version: int, record: Mapping[str, Any]) -> bytes:
        """Frame a record with an older version (for golden files); checks structure only."""
        schema_version = self.version_of(event_name, version)
        _check_structure(schema_version, record)
        return _write(schema_version, record)

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Read an event with the latest schema of its kind, then apply the product rules."""
        reading = self._reading_of(data)
        writer = reading.writer
        record = _read_body(data, writer, reading.reader_schema)
        reading.validate(record)
        return writer.event_name, record

    def decode_as_written(self, data: bytes) -> tuple[SchemaVersion, dict[str, Any]]:
        """Read an event in the shape of the schema it was written with, without rules."""
        writer = self._reading_of(data).writer
        return writer, _read_body(data, writer, None)

    def _reading_of(self, data: bytes) -> _Reading:
        """Check the framing and find the writer schema by fingerprint."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"expected bytes, got {type(data).__name__}")
        if len(data) < framing.HEADER_SIZE:
            raise DecodeError(
                f"too short for an event: {len(data)} bytes, "
                f"the header alone is {framing.HEADER_SIZE}"
            )
        if data[:2] != framing.MAGIC:
            raise DecodeError(
                f"bad magic {bytes(data[:2]).hex(' ')}: not an Avro single-object encoded event "
                "(expected c3 01)"
            )
        schema_fingerprint = bytes(data[2 : framing.HEADER_SIZE])
        reading = self._readings.get(schema_fingerprint)
        if reading is None:
            raise DecodeError(
                f"unknown schema fingerprint {schema_fingerprint.hex()}: written with a schema "
                "this build does not know (deploy readers before writers)"
            )
        return reading

    # Construction ------------------------------------------------------------------------------

    def new_event(
        self,
        event_name: str,
        actor_id: str,
        occurred_at: datetime | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A record with a fresh event_id, occurred_at = now and the schema's defaults filled in."""
        latest = self.version_of(event_name)
        moment = _to_millisecond(occurred_at if occurred_at is not None else datetime.now(UTC))
        record: dict[str, Any] = {
            "event_id": fields.pop("event_id") if "event_id" in fields else str(uuid4()),
            "occurred_at": moment,
            "actor_id": actor_id,
        }
        for field in latest.schema["fields"]:
            name = field["name"]
            if name in record:
                continue
            if name in fields:
                record[name] = fields.pop(name)
            elif "default" in field:
                record[name] = copy.deepcopy(field["default"])
        record.update(fields)  # unknown names stay, so validation names them
        _fill_derived(event_name, record)
        return record


def _unknown_event(event_name: str, known: tuple[str, ...]) -> EventValidationError:
    """The error for an event name outside the catalogue."""
    return EventValidationError(
        "event_name", f"unknown event {event_name!r}; known: {', '.join(known)}"
    )


def _check_structure(schema_version: SchemaVersion, record: Mapping[str, Any]) -> None:
    """Run the compiled structural checker, turning its problem into a validation error."""
    try:
        schema_version.check_structure(record)
    except FieldProblem as problem:
        raise EventValidationError(
            problem.path or "record", problem.message, schema_version.event_name
        ) from None


def _validator(latest: SchemaVersion, rule: Rule | None) -> Validator:
    """Structure of the latest schema, then the rules common to all events, then the event's own."""
    event_name = latest.event_name

    def validate(record: Mapping[str, Any]) -> None:
        _check_structure(latest, record)
        try:
            check_common(record)
            if rule is not None:
                rule(record)
        except EventValidationError as error:
            error.event_name = event_name
            raise

    return validate


def _write(schema_version: SchemaVersion, record: Mapping[str, Any]) -> bytes:
    """Header then Avro binary body."""
    buffer = BytesIO()
    buffer.write(schema_version.header)
    try:
        schemaless_writer(buffer, schema_version.codec_schema, record)
    except UnicodeEncodeError as error:
        raise EventValidationError(
            "record",
            f"contains text that is not valid Unicode ({error.reason})",
            schema_version.event_name,
        ) from None
    return buffer.getvalue()


def _read_body(
    data: bytes, writer: SchemaVersion, reader_schema: AvroSchema | None
) -> dict[str, Any]:
    """The Avro body after the header, which must be consumed exactly."""
    stream = BytesIO(data)
    stream.seek(framing.HEADER_SIZE)
    where = f"{writer.event_name} v{writer.version}"
    try:
        record = schemaless_reader(stream, writer.codec_schema, reader_schema)
    except (EOFError, struct.error):
        raise DecodeError(f"truncated {where} body: the data ends early") from None
    except SchemaResolutionError as error:
        detail = _truncated(str(error))
        raise DecodeError(
            f"{where} body cannot be read with the latest schema ({detail})"
        ) from None
    except Exception as error:  # noqa: BLE001 - any failure to read is a corrupt message, never a crash
        detail = _truncated(f"{type(error).__name__}: {error}")
        raise DecodeError(f"corrupt {where} body ({detail})") from None
    trailing = len(data) - stream.tell()
    if trailing:
        raise DecodeError(f"corrupt {where} body: {trailing} unexpected bytes after it")
    return cast(dict[str, Any], record)  # every event schema is a record


def _to_millisecond(moment: datetime) -> datetime:
    """Events store milliseconds; trim so the record equals what a reader will see."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise EventValidationError("occurred_at", "must be a timezone-aware datetime")
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def _fill_derived(event_name: str, record: dict[str, Any]) -> None:
    """StoryPosted announces its expiry: occurred_at + lifetime_seconds, unless given."""
    if event_name != "StoryPosted" or "expires_at" in record:
        return
    lifetime = record.get("lifetime_seconds")
    if type(lifetime) is int:
        record["expires_at"] = record["occurred_at"] + timedelta(seconds=lifetime)
