"""Walks an Avro schema once and builds the checker of each node from scalars and containers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.structure.containers import (
    array_checker,
    map_checker,
    optional_checker,
    record_checker,
)
from schemas.structure.problems import Checker
from schemas.structure.scalars import (
    PRIMITIVES,
    enum_checker,
    fixed_checker,
    timestamp_checker,
    uuid_checker,
)

__all__ = ["UnsupportedSchemaError", "compile_checker"]


class UnsupportedSchemaError(ValueError):
    """The schema uses an Avro feature the checker cannot enforce; fail at load, not at runtime."""


def compile_checker(schema: Mapping[str, Any]) -> Checker:
    """Compile a top-level record schema; the checker raises FieldProblem on the first problem."""
    return _Compiler().compile(schema, namespace="", field_name="", or_null=False)


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
            return _logical(kind, logical, or_null)
        if kind == "record":
            return self._record(schema, namespace, or_null)
        if kind == "enum":
            return self._enum(schema, namespace, or_null)
        if kind == "array":
            return self._array(schema, namespace, field_name, or_null)
        if kind == "map":
            return self._map(schema, namespace, or_null)
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
        primitive = PRIMITIVES.get(name)
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
        return optional_checker(self.compile(branches[1], namespace, field_name, or_null=True))

    def _record(self, schema: Mapping[str, Any], namespace: str, or_null: bool) -> Checker:
        """Exact key set, then each field in schema order."""
        full_name, child_space = self._full_name(schema, namespace)
        fields: list[tuple[str, Checker]] = []
        keys: set[str] = set()
        check = record_checker(schema["name"].rpartition(".")[2], fields, keys, or_null)
        self.named[full_name] = check  # registered first so the record may refer to itself
        for field in schema["fields"]:
            name = field["name"]
            fields.append((name, self.compile(field["type"], child_space, name, or_null=False)))
            keys.add(name)
        return check

    def _enum(self, schema: Mapping[str, Any], namespace: str, or_null: bool) -> Checker:
        """A symbol of the enum, registered under its name for later references."""
        full_name, _ = self._full_name(schema, namespace)
        check = enum_checker(schema["symbols"], or_null)
        self.named[full_name] = check
        return check

    def _array(
        self, schema: Mapping[str, Any], namespace: str, field_name: str, or_null: bool
    ) -> Checker:
        """A list or tuple; ``*_ids`` arrays of strings hold unique ids."""
        items = schema["items"]
        # Items of "user_ids" are checked as if named "user_id", i.e. as ids.
        item_field = field_name[:-1] if field_name.endswith("_ids") else ""
        check_item = self.compile(items, namespace, item_field, or_null=False)
        unique = field_name.endswith("_ids") and _is_string_schema(items)
        return array_checker(check_item, unique, or_null)

    def _map(self, schema: Mapping[str, Any], namespace: str, or_null: bool) -> Checker:
        """A dict with string keys."""
        check_value = self.compile(schema["values"], namespace, "", or_null=False)
        return map_checker(check_value, or_null)

    def _fixed(self, schema: Mapping[str, Any], namespace: str, or_null: bool) -> Checker:
        """Bytes of exactly the declared size, registered under its name for later references."""
        full_name, _ = self._full_name(schema, namespace)
        check = fixed_checker(schema["size"], or_null)
        self.named[full_name] = check
        return check


def _logical(kind: str, logical: str, or_null: bool) -> Checker:
    """uuid strings and timestamp-millis longs; other logical types would decode differently."""
    if kind == "string" and logical == "uuid":
        return uuid_checker(or_null)
    if kind == "long" and logical == "timestamp-millis":
        return timestamp_checker(or_null)
    raise UnsupportedSchemaError(f"unsupported logical type {logical!r} on {kind!r}")


def _is_string_schema(schema: Any) -> bool:
    """True for "string" and for string-based logical types such as uuid."""
    return schema == "string" or (isinstance(schema, Mapping) and schema.get("type") == "string")
