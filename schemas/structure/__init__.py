"""Compiles an Avro record schema once into a fast checker that names the offending field path.

fastavro's own validation reports "record is invalid" without a path a client can act on, and
re-walks the schema on every call; this compiler builds one closure per schema node instead.

Besides Avro types it enforces two conventions that hold across the catalogue:
- a string with logicalType "uuid" must be a lowercase hyphenated uuid;
- a string field named ``*_id`` is an id (1 to 128 characters, no whitespace or control
  characters), and an array of strings named ``*_ids`` holds unique ids.

The compiler walks the schema; scalars and containers hold the checkers it assembles.
"""

from __future__ import annotations

from schemas.structure.compiler import UnsupportedSchemaError, compile_checker
from schemas.structure.problems import Checker, FieldProblem
from schemas.structure.scalars import ID_PATTERN, MAX_ID_CHARS, NOT_IN_IDS, UUID_PATTERN

__all__ = [
    "Checker",
    "FieldProblem",
    "ID_PATTERN",
    "MAX_ID_CHARS",
    "NOT_IN_IDS",
    "UUID_PATTERN",
    "UnsupportedSchemaError",
    "compile_checker",
]
