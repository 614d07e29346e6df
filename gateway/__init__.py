"""The HTTP gateway: reads from the read models, commands validated and emitted as events."""

from __future__ import annotations

__all__: list[str] = []
