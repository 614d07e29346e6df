"""Checkers of single values: Avro primitives, enums, fixed bytes, uuids, timestamps and ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.structure.problems import Checker, expected, type_problem

__all__ = [
    "ID_PATTERN",
    "MAX_ID_CHARS",
    "NOT_IN_IDS",
    "PRIMITIVES",
    "UUID_PATTERN",
    "enum_checker",
    "fixed_checker",
    "timestamp_checker",
    "uuid_checker",
]

MAX_ID_CHARS = 128
# What an id never holds: control characters and every kind of space, spelled out rather than
# `\s`, whose Python and JSON Schema (ECMAScript) meanings differ (U+0085, U+FEFF): clients
# check ids with the gateway's OpenAPI patterns, built from this class.
NOT_IN_IDS = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
ID_PATTERN = re.compile(rf"[^{NOT_IN_IDS}]{{1,{MAX_ID_CHARS}}}")
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


def _is_integer(value: object) -> bool:
    """bool is an int subclass in Python but never an Avro int."""
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def enum_checker(symbols: list[str], or_null: bool) -> Checker:
    """A symbol of the enum, named in the message so clients can fix it."""
    allowed = frozenset(symbols)
    wanted = expected(f"one of {', '.join(symbols)}", or_null)

    def check_enum(value: Any) -> None:
        if not isinstance(value, str) or value not in allowed:
            raise type_problem(wanted, value)

    return check_enum


def fixed_checker(size: int, or_null: bool) -> Checker:
    """Bytes of exactly the declared size."""
    wanted = expected(f"{size} bytes", or_null)

    def check_fixed(value: Any) -> None:
        if not isinstance(value, bytes | bytearray) or len(value) != size:
            raise type_problem(wanted, value)

    return check_fixed


def uuid_checker(or_null: bool) -> Checker:
    """A lowercase hyphenated uuid, so one id never has two spellings."""
    wanted = expected("a lowercase hyphenated uuid", or_null)
    match = UUID_PATTERN.fullmatch

    def check_uuid(value: Any) -> None:
        if not isinstance(value, str) or match(value) is None:
            raise type_problem(wanted, value)

    return check_uuid


def timestamp_checker(or_null: bool) -> Checker:
    """An aware datetime; a naive one would silently be read as local time."""
    wanted = expected("a timezone-aware datetime", or_null)

    def check_timestamp(value: Any) -> None:
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise type_problem(wanted, value)

    return check_timestamp


def _string_checker(field_name: str, or_null: bool) -> Checker:
    """Any str, or an id when the field is named ``*_id`` (or is an item of ``*_ids``)."""
    if field_name.endswith("_id"):
        return _id_checker(or_null)
    wanted = expected("a string", or_null)

    def check_string(value: Any) -> None:
        if not isinstance(value, str):
            raise type_problem(wanted, value)

    return check_string


def _id_checker(or_null: bool) -> Checker:
    """Ids end up in keys and topics: non-empty, bounded, without whitespace or control chars."""
    wanted = expected(
        f"an id of 1 to {MAX_ID_CHARS} characters without spaces or control characters", or_null
    )
    match = ID_PATTERN.fullmatch

    def check_id(value: Any) -> None:
        if not isinstance(value, str) or match(value) is None:
            raise type_problem(wanted, value)

    return check_id


def _integer_checker(bits: int, bounds: tuple[int, int]) -> Callable[[str, bool], Checker]:
    """Avro int and long: Python ints (not bools) within their signed range."""
    low, high = bounds

    def build(field_name: str, or_null: bool) -> Checker:
        wanted = expected(f"a {bits}-bit integer", or_null)

        def check_integer(value: Any) -> None:
            if not _is_integer(value) or not low <= value <= high:
                raise type_problem(wanted, value)

        return check_integer

    return build


def _number_checker(field_name: str, or_null: bool) -> Checker:
    """Avro float and double accept ints too; they come back as floats."""
    wanted = expected("a number", or_null)

    def check_number(value: Any) -> None:
        if type(value) is not float and (
            not isinstance(value, int | float) or isinstance(value, bool)
        ):
            raise type_problem(wanted, value)

    return check_number


def _simple_checker(description: str, accepted: type | tuple[type, ...]) -> Callable[..., Checker]:
    """Types checked by isinstance alone."""

    def build(field_name: str, or_null: bool) -> Checker:
        wanted = expected(description, or_null)

        def check_simple(value: Any) -> None:
            if not isinstance(value, accepted):
                raise type_problem(wanted, value)

        return check_simple

    return build


def _null_checker(field_name: str, or_null: bool) -> Checker:
    """Only None."""

    def check_null(value: Any) -> None:
        if value is not None:
            raise type_problem("null", value)

    return check_null


PRIMITIVES: dict[str, Callable[[str, bool], Checker]] = {
    "null": _null_checker,
    "boolean": _simple_checker("true or false", bool),
    "int": _integer_checker(32, _INT_RANGE),
    "long": _integer_checker(64, _LONG_RANGE),
    "float": _number_checker,
    "double": _number_checker,
    "bytes": _simple_checker("bytes", (bytes, bytearray)),
    "string": _string_checker,
}
"""The builder of each primitive type's checker, given the field's name and optionality."""
