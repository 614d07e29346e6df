"""The Apache avro package reads what this project writes, checked independently of fastavro.

Apache avro 1.12's Python ``canonical_form`` keeps a primitive that carries a logicalType in
object form (``{"type":"string"}``) where the specification's [PRIMITIVES] rule, and the Java
implementation, write ``"string"``. So its ``fingerprint()`` differs for schemas with logical
types. These tests apply the [PRIMITIVES] rule to Apache's canonical form and compute
CRC-64-AVRO with a from-the-spec implementation checked against the spec's published vectors.
"""

from __future__ import annotations

import io
import json
from typing import Any

import avro.io
import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import CATALOGUE, EVENT_NAMES, encode, fingerprint_of, schema_of
from schemas.framing import canonical_form
from schemas.golden import golden_files, load_golden_bytes, load_sample
from tests.unit.schema_strategies import records

EMPTY_64 = 0xC15D213AA4D7A795
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def crc_64_avro(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) as specified: table-driven, reflected, seeded with EMPTY_64."""
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY_64 & -(fp & 1))
        table.append(fp)
    fp = EMPTY_64
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def as_signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


@pytest.mark.parametrize(
    ("canonical", "expected"),
    [  # share/test/data/schema-tests.txt of the Avro project, as signed Java longs
        ('"null"', 7195948357588979594),
        ('"boolean"', -6970731678124411036),
        ('"int"', 8247732601305521295),
        ('"long"', -3434872931120570953),
        ('"string"', -8142146995180207161),
        ('{"name":"foo","type":"fixed","size":15}', 1756455273707447556),
        (
            '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
            7843277075252814651,
        ),
    ],
)
def test_the_reference_crc_matches_the_published_vectors(canonical, expected):
    assert as_signed(crc_64_avro(canonical.encode())) == expected


def apply_primitives_rule(node: Any) -> Any:
    """[PRIMITIVES]: {"type": "int"} becomes "int"."""
    if isinstance(node, list):
        return [apply_primitives_rule(item) for item in node]
    if isinstance(node, dict):
        if set(node) == {"type"} and node["type"] in PRIMITIVES:
            return node["type"]
        return {key: apply_primitives_rule(value) for key, value in node.items()}
    return node


def apache_schema(event_name: str, version: int | None = None) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(schema_of(event_name, version)))


def spec_canonical_form(schema: avro.schema.Schema) -> str:
    return json.dumps(apply_primitives_rule(schema.to_canonical_json()), separators=(",", ":"))


GOLDEN = golden_files(CATALOGUE)


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.stem)
def test_the_header_fingerprint_is_crc_64_avro_of_the_canonical_form(golden):
    schema = apache_schema(golden.event_name, golden.version)
    canonical = spec_canonical_form(schema)
    assert canonical == canonical_form(schema_of(golden.event_name, golden.version))
    expected = crc_64_avro(canonical.encode()).to_bytes(8, "little")
    data = load_golden_bytes(golden)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == expected == fingerprint_of(golden.event_name, golden.version)


def without_logical_types(node: Any) -> Any:
    if isinstance(node, list):
        return [without_logical_types(item) for item in node]
    if isinstance(node, dict):
        return {k: without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    return node


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_apache_fingerprint_agrees_once_logical_types_are_out_of_the_way(event_name):
    plain = without_logical_types(schema_of(event_name))
    assert avro.schema.parse(json.dumps(plain)).fingerprint("CRC-64-AVRO") == fingerprint_of(
        event_name
    )


def apache_read(event_name: str, data: bytes) -> dict[str, Any]:
    """Strip the header, then read the body with Apache's DatumReader."""
    schema = apache_schema(event_name)
    reader = avro.io.DatumReader(schema, schema)
    body = io.BytesIO(data[10:])
    record = reader.read(avro.io.BinaryDecoder(body))
    assert body.read() == b"", "Apache avro left bytes unread"
    return record


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.stem)
def test_apache_reads_the_golden_bytes_as_the_sample(golden):
    record = apache_read(golden.event_name, load_golden_bytes(golden))
    assert record == load_sample(golden, CATALOGUE)


@pytest.mark.parametrize("event_name", EVENT_NAMES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_apache_reads_any_valid_record_as_written(event_name, data):
    record = data.draw(records(event_name), label="record")
    assert apache_read(event_name, encode(event_name, record)) == record


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_apache_accepts_every_schema_and_its_defaults(event_name):
    schema = apache_schema(event_name)
    assert schema.fullname == f"stories.events.{event_name}"
