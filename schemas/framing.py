"""Avro single-object encoding: 0xC3 0x01, the writer schema's CRC-64-AVRO fingerprint, the body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastavro.schema import fingerprint as _fingerprint_hex
from fastavro.schema import to_parsing_canonical_form

__all__ = [
    "FINGERPRINT_SIZE",
    "HEADER_SIZE",
    "MAGIC",
    "canonical_form",
    "fingerprint",
    "header",
]

MAGIC = b"\xc3\x01"
FINGERPRINT_SIZE = 8
HEADER_SIZE = len(MAGIC) + FINGERPRINT_SIZE


def canonical_form(schema: Mapping[str, Any]) -> str:
    """Parsing Canonical Form: only what readers must agree on (no docs or logical types)."""
    return to_parsing_canonical_form(dict(schema))


def fingerprint(schema: Mapping[str, Any]) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of the schema's canonical form."""
    return bytes.fromhex(_fingerprint_hex(canonical_form(schema), "CRC-64-AVRO"))


def header(schema_fingerprint: bytes) -> bytes:
    """The 10 bytes that precede every body written with that schema."""
    if len(schema_fingerprint) != FINGERPRINT_SIZE:
        raise ValueError(
            f"a fingerprint has {FINGERPRINT_SIZE} bytes, got {len(schema_fingerprint)}"
        )
    return MAGIC + schema_fingerprint
