"""Errors raised by the event codec; their str() is the dead-letter reason, so it must be clear."""

from __future__ import annotations

__all__ = ["EventError", "EventValidationError", "DecodeError"]


class EventError(Exception):
    """Base of every codec error, so a worker can dead-letter them with one except clause."""


class EventValidationError(EventError):
    """A record breaks its schema or a product rule; str() is "<field path>: <message>"."""

    def __init__(self, field: str, message: str, event_name: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.event_name = event_name

    def __reduce__(self) -> tuple[type, tuple[str, str, str | None]]:
        """Keep the three attributes when the error is pickled (e.g. across processes)."""
        return (type(self), (self.field, self.message, self.event_name))


class DecodeError(EventError):
    """Bytes are not a readable event: bad framing, unknown schema or corrupt body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
