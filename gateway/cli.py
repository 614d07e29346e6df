"""What `stories gateway` and `stories token` run."""

from __future__ import annotations

from typing import Any

import uvicorn

from core.logs import logging_config
from core.settings import Settings
from gateway.auth import issue_token as _issue_token

__all__ = ["serve", "issue_token"]


def serve(settings: Settings) -> None:
    """Serve the API on the configured address until interrupted.

    uvicorn applies the process's logging configuration in each worker it spawns; its own
    access log stays off: the gateway writes one with route templates (gateway.access).
    """
    logs: dict[str, Any] = {"log_config": logging_config(settings), "log_level": None,
                            "access_log": False}
    if settings.gateway_workers > 1:
        # Worker processes build their app from the same environment.
        uvicorn.run("gateway.app:app_from_environment", factory=True,
                    host=settings.gateway_host, port=settings.gateway_port,
                    workers=settings.gateway_workers, **logs)
        return
    from gateway.app import create_app

    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                **logs)


def issue_token(settings: Settings, user_id: str, ttl: int) -> str:
    """A bearer token for `user_id`, valid for `ttl` seconds, signed with the configured secret."""
    return _issue_token(settings, user_id, ttl)
