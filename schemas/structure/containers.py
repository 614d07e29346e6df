"""Checkers of values that hold others: records, arrays, maps and optional values.

Records, arrays and maps add their part of the path (field name, index or key) to a problem
raised inside them, so the final problem names the whole path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.structure.problems import Checker, FieldProblem, expected, shown, type_problem

__all__ = [
    "array_checker",
    "map_checker",
    "optional_checker",
    "record_checker",
]


def optional_checker(check: Checker) -> Checker:
    """A ["null", T] union: None, or a valid T."""

    def check_optional(value: Any) -> None:
        if value is not None:
            check(value)

    return check_optional


def record_checker(
    short_name: str, fields: list[tuple[str, Checker]], keys: set[str], or_null: bool
) -> Checker:
    """Fields and keys are filled in after creation so a record may refer to itself."""
    wanted = expected(f"a mapping ({short_name} record)", or_null)

    def check_record(value: Any) -> None:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise type_problem(wanted, value)
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


def array_checker(check_item: Checker, unique: bool, or_null: bool) -> Checker:
    """Check every item, naming its index; optionally refuse repeated values."""
    wanted = expected("a list", or_null)

    def check_array(value: Any) -> None:
        if not isinstance(value, list | tuple):
            raise type_problem(wanted, value)
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
            problem = FieldProblem(f"repeats entry [{first_seen[item]}] ({shown(item)})")
            problem.parts.append(index)
            return problem
        first_seen[item] = index
    raise AssertionError("no repeated value found")  # pragma: no cover


def map_checker(check_value: Checker, or_null: bool) -> Checker:
    """A dict with string keys, each value checked and named by its key."""
    wanted = expected("a mapping with string keys", or_null)

    def check_map(value: Any) -> None:
        if not isinstance(value, Mapping):
            raise type_problem(wanted, value)
        for key, item in value.items():
            if not isinstance(key, str):
                raise type_problem(wanted, value)
            try:
                check_value(item)
            except FieldProblem as problem:
                problem.parts.append(key)
                raise

    return check_map
