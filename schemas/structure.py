"""Compiles an Avro record schema once into a fast checker that names the offending field path.

fastavro's own validation reports "record is invalid" without a path a client can act on, and
re-walks the schema on every call; this compiler builds one closure per schema node instead.

Besides Avro types it enforces two conventions that hold across the catalogue:
- a string with logicalType "uuid" must be a lowercase hyphenated uuid;
- a string field named ``*_id`` is an id (1 to 128 characters, no whitespace or control
  characters), and an array of strings named ``*_ids`` holds unique ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "Checker",
    "FieldProblem",
    "ID_PATTERN",
    "MAX_ID_CHARS",
    "UUID_PATTERN",
    "UnsupportedSchemaError",
    "compile_checker",
]

Checker = Callable[[Any], None]

MAX_ID_CHARS = 128
ID_PATTERN = re.compile(rf"[^\s\x00-\x1f\x7f]{{1,{MAX_ID_CHARS}}}")
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_SHOWN_CHARS = 40


class UnsupportedSchemaError(ValueError):
    """The schema uses an Avro feature the checker cannot enforce; fail at load, not at runtime."""


class FieldProblem(Exception):
    """Raised inside compiled checkers; containers add their path part while it propagates."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.parts: list[str | int] = []

    @property
    def path(self) -> str:
        """The dotted path with [index] parts, e.g. ``stickers[0].options``."""
        text = ""
        for part in reversed(self.parts):
            if isinstance(part, int):
                text += f"[{part}]"
            else:
                text += f".{part}" if text else part
        return text


def compile_checker(schema: Mapping[str, Any]) -> Checker:
    """Compile a top-level record schema; the checker raises FieldProblem on the first problem."""
    return _Compiler().compile(schema, namespace="", field_name="", or_null=False)


def _shown(value: object) -> str:
    """A short, safe rendering of a bad value for an error message."""
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return text if isinstance(value, str) else f"{type(value).__name__} {text}"


def _expected(description: str, or_null: bool) -> str:
    """Phrase the expected type, mentioning null when the field is optional."""
    return f"null or {description}" if or_null else description


def _type_problem(expected: str, value: object) -> FieldProblem:
    """The problem raised when a value has the wrong type."""
    return FieldProblem(f"must be {expected}, got {_shown(value)}")


def _is_integer(value: object) -> bool:
    """bool is an int subclass in Python but never an Avro int."""
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


class _Compiler:
    """Holds the named types seen so far while one schema file is compiled."""

    def __init__(self) -> None:
        self.named: dict[str, Checker] = {}

    def compile(self, schema: Any, namespace: str, field_name: str, or_null: bool) -> Checker:
        """Dispatch on the shape of a schema node."""
        if isinstance(schema, list):
            return self._union(schema, namespace, field_name)
        if isinstance(schema, str):
            return self._named_or_primitive(schema, namespace, field_name, or_null)
        kind = schema["type"]
        logical = schema.get("logicalType")
        if logical is not None:
            return self._logical(kind, logical, or_null)
        if kind == "record":
            return self._record(schema, namespace, or_null)
        if kind == "enum":
            return self._enum(schema, namespace, or_null)
        if kind == "array":
            return self._array(schema, namespace, field_name, or_null)
        if kind == "map":
            return self._map(schema, namespace, field_name, or_null)
        if kind == "fixed":
            return self._fixed(schema, namespace, or_null)
        return self._named_or_primitive(kind, namespace, field_name, or_null)

    def _full_name(self, schema: Mapping[str, Any], namespace: str) -> tuple[str, str]:
        """The full name of a named type and the namespace its children inherit."""
        name = schema["name"]
        space = schema.get("namespace", namespace)
        if "." in name:
            return name, name.rpartition(".")[0]
        return (f"{space}.{name}" if space else name), space

    def _named_or_primitive(
        self, name: str, namespace: str, field_name: str, or_null: bool
    ) -> Checker:
        """A primitive type name, or a reference to a named type defined earlier."""
        primitive = _PRIMITIVES.get(name)
        if primitive is not None:
            return primitive(field_name, or_null)
        full_name = next((c for c in (f"{namespace}.{name}", name) if c in self.named), None)
        if full_name is None:
            raise UnsupportedSchemaError(f"unknown type {name!r}")
        named = self.named
        return lambda value: named[full_name](value)

    def _union(self, branches: list[Any], namespace: str, field_name: str) -> Checker:
        """Only ["null", T] unions are used: optional values with a null default."""
        if len(branches) != 2 or branches[0] != "null" or branches[1] == "null":
            raise UnsupportedSchemaError(f'only ["null", T] unions are supported, got {branches}')
        check = self.compile(branches[1], namespace, field_name, or_null=True)

        def check_optional(value: Any) -> None:
            if value is not None:
                check(value)

        return check_optional

    def _logical(self, kind: str, logical: str, or_null: bool) -> Checker:
        """uuid strings and timestamp-millis longs; other logical types would decode differently."""
        if kind == "string" and logical == "uuid":
            return _uuid_checker(or_null)
        if kind == "long" and logical == "timestamp-millis":
            return _timestamp_checker(or_null)
        raise UnsupportedSchemaError(f"unsupported logical type {logical!r} on {kind!r}")

    def _record(self, schema: Mapping[str, Any], namespace: str, or_null: bool) -> Checker:
        """Exact key set, then each field in schema order."""
        full_name, child_space = self._full_name(schema, namespace)
        fields: list[tuple[str, Checker]] = []
        keys: set[str] = set()
        check = _record_checker(schema["name"].rpartition(".")[2], fields, keys, or_null)
        self.named[full_name] = check  # registered first so the record may refer to itself
        for field in schema["fields"]:
            name = field["name"]
            fields.append((name, self.compile(field["type"], child_space, name, or_null=False)))
            keys.add(name)
        return check

    def _enum(self, schema: Mapping[str, Any], namespace: str, or_null: bool) -> Checker:
        """A symbol of the enum, named in the message so clients can fix it."""
        full_name, _ = self._full_name(schema, namespace)
        symbols = frozenset(schema["symbols"])
        listing = ", ".join(schema["symbols"])
        expected = _expected(f"one of {listing}", or_null)

        def check_enum(value: Any) -> None:
            if not isinstance(value, str) or value not in symbols:
                raise _type_problem(expected, value)

        self.named[full_name] = check_enum
        return check_enum

    def _array(
        self, schema: Mapping[str, Any], namespace: str, field_name: str, or_null: bool
    ) -> Checker:
        """A list or tuple; ``*_ids`` arrays of strings hold unique ids."""
        items = schema["items"]
        # Items of "user_ids" are checked as if named "user_id", i.e. as ids.
        item_field = field_name[:-1] if field_name.endswith("_ids") else ""
        check_item = self.compile(items, namespace, item_field, or_null=False)
        unique = field_name.endswith("_ids") and _is_string_schema(items)
        return _array_checker(check_item, unique, or_null)

    def _map(
        self, schema: Mapping[str, Any], namespace: str, field_name: str, or_null: bool
    ) -> Checker:
        """A dict with string keys."""
        check_value = self.compile(schema["values"], namespace, "", or_null=False)
        expected = _expected("a mapping with string keys", or_null)

        def check_map(value: Any) -> None:
            if not isinstance(value, Mapping):
                raise _type_problem(expected, value)
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _type_problem(expected, value)
                try:
                    check_value(item)
                except FieldProblem as problem:
                    problem.parts.append(key)
                    raise

        return check_map

    def _fixed(self, schema: Mapping[str, Any], namespace: str, or_null: bool) -> Checker:
        """Bytes of exactly the declared size."""
        full_name, _ = self._full_name(schema, namespace)
        size = schema["size"]
        expected = _expected(f"{size} bytes", or_null)

        def check_fixed(value: Any) -> None:
            if not isinstance(value, bytes | bytearray) or len(value) != size:
                raise _type_problem(expected, value)

        self.named[full_name] = check_fixed
        return check_fixed


def _is_string_schema(schema: Any) -> bool:
    """True for "string" and for string-based logical types such as uuid."""
    return schema == "string" or (isinstance(schema, Mapping) and schema.get("type") == "string")


def _record_checker(
    short_name: str, fields: list[tuple[str, Checker]], keys: set[str], or_null: bool
) -> Checker:
    """Fields and keys are filled in after creation so a record may refer to itself."""
    expected = _expected(f"a mapping ({short_name} record)", or_null)

    def check_record(value: Any) -> None:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise _type_problem(expected, value)
        if value.keys() != keys:
            raise _key_problem(value, fields, short_name)
        for name, check in fields:
            try:
                check(value[name])
            except FieldProblem as problem:
                problem.parts.append(name)
                raise

    return check_record


def _key_problem(
    value: Mapping[Any, Any], fields: list[tuple[str, Checker]], short_name: str
) -> FieldProblem:
    """Name the first missing field in schema order, else the first unknown one."""
    for name, _ in fields:
        if name not in value:
            problem = FieldProblem("is required")
            problem.parts.append(name)
            return problem
    known = {name for name, _ in fields}
    unknown = next(key for key in value if key not in known)
    problem = FieldProblem(f"is not a field of {short_name}")
    problem.parts.append(str(unknown))
    return problem


def _array_checker(check_item: Checker, unique: bool, or_null: bool) -> Checker:
    """Check every item, naming its index; optionally refuse repeated values."""
    expected = _expected("a list", or_null)

    def check_array(value: Any) -> None:
        if not isinstance(value, list | tuple):
            raise _type_problem(expected, value)
        for index, item in enumerate(value):
            try:
                check_item(item)
            except FieldProblem as problem:
                problem.parts.append(index)
                raise
        if unique and len(set(value)) != len(value):
            raise _repeat_problem(value)

    return check_array


def _repeat_problem(values: list[Any] | tuple[Any, ...]) -> FieldProblem:
    """Point at the first value that appeared before."""
    first_seen: dict[Any, int] = {}
    for index, item in enumerate(values):
        if item in first_seen:
            problem = FieldProblem(f"repeats entry [{first_seen[item]}] ({_shown(item)})")
            problem.parts.append(index)
            return problem
        first_seen[item] = index
    raise AssertionError("no repeated value found")  # pragma: no cover


def _uuid_checker(or_null: bool) -> Checker:
    """A lowercase hyphenated uuid, so one id never has two spellings."""
    expected = _expected("a lowercase hyphenated uuid", or_null)
    match = UUID_PATTERN.fullmatch

    def check_uuid(value: Any) -> None:
        if not isinstance(value, str) or match(value) is None:
            raise _type_problem(expected, value)

    return check_uuid


def _timestamp_checker(or_null: bool) -> Checker:
    """An aware datetime; a naive one would silently be read as local time."""
    expected = _expected("a timezone-aware datetime", or_null)

    def check_timestamp(value: Any) -> None:
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise _type_problem(expected, value)

    return check_timestamp


def _string_checker(field_name: str, or_null: bool) -> Checker:
    """Any str, or an id when the field is named ``*_id`` (or is an item of ``*_ids``)."""
    if field_name.endswith("_id"):
        return _id_checker(or_null)
    expected = _expected("a string", or_null)

    def check_string(value: Any) -> None:
        if not isinstance(value, str):
            raise _type_problem(expected, value)

    return check_string


def _id_checker(or_null: bool) -> Checker:
    """Ids end up in keys and topics: non-empty, bounded, without whitespace or control chars."""
    expected = _expected(
        f"an id of 1 to {MAX_ID_CHARS} characters without spaces or control characters", or_null
    )
    match = ID_PATTERN.fullmatch

    def check_id(value: Any) -> None:
        if not isinstance(value, str) or match(value) is None:
            raise _type_problem(expected, value)

    return check_id


def _integer_checker(bits: int, bounds: tuple[int, int]) -> Callable[[str, bool], Checker]:
    """Avro int and long: Python ints (not bools) within their signed range."""
    low, high = bounds

    def build(field_name: str, or_null: bool) -> Checker:
        expected = _expected(f"a {bits}-bit integer", or_null)

        def check_integer(value: Any) -> None:
            if not _is_integer(value) or not low <= value <= high:
                raise _type_problem(expected, value)

        return check_integer

    return build


def _number_checker(field_name: str, or_null: bool) -> Checker:
    """Avro float and double accept ints too; they come back as floats."""
    expected = _expected("a number", or_null)

    def check_number(value: Any) -> None:
        if type(value) is not float and (
            not isinstance(value, int | float) or isinstance(value, bool)
        ):
            raise _type_problem(expected, value)

    return check_number


def _simple_checker(description: str, accepted: type | tuple[type, ...]) -> Callable[..., Checker]:
    """Types checked by isinstance alone."""

    def build(field_name: str, or_null: bool) -> Checker:
        expected = _expected(description, or_null)

        def check_simple(value: Any) -> None:
            if not isinstance(value, accepted):
                raise _type_problem(expected, value)

        return check_simple

    return build


def _null_checker(field_name: str, or_null: bool) -> Checker:
    """Only None."""

    def check_null(value: Any) -> None:
        if value is not None:
            raise _type_problem("null", value)

    return check_null


_PRIMITIVES: dict[str, Callable[[str, bool], Checker]] = {
    "null": _null_checker,
    "boolean": _simple_checker("true or false", bool),
    "int": _integer_checker(32, _INT_RANGE),
    "long": _integer_checker(64, _LONG_RANGE),
    "float": _number_checker,
    "double": _number_checker,
    "bytes": _simple_checker("bytes", (bytes, bytearray)),
    "string": _string_checker,
}
