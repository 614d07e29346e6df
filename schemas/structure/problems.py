"""The problem a compiled checker raises, and how it words a bad value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Checker", "FieldProblem", "expected", "shown", "type_problem"]

Checker = Callable[[Any], None]

_SHOWN_CHARS = 40


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


def shown(value: object) -> str:
    """A short, safe rendering of a bad value for an error message."""
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return text if isinstance(value, str) else f"{type(value).__name__} {text}"


def expected(description: str, or_null: bool) -> str:
    """Phrase the expected type, mentioning null when the field is optional."""
    return f"null or {description}" if or_null else description


def type_problem(wanted: str, value: object) -> FieldProblem:
    """The problem raised when a value has the wrong type."""
    return FieldProblem(f"must be {wanted}, got {shown(value)}")
