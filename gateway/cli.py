"""What `stories gateway` and `stories token` run."""

from __future__ import annotations

import os
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from core.logs import logging_config
from core.settings import Settings
from gateway.auth import issue_token as _issue_token
from gateway.metrics import (
    MULTIPROCESS_DIR_VARIABLE,
    REGISTRY,
    multiprocess_registry,
    serving_metrics,
)

__all__ = ["serve", "issue_token"]


def serve(settings: Settings) -> None:
    """Serve the API on the configured address until interrupted, and /metrics on the metrics
    port when one is set (gateway.metrics.MetricsPortTaken if it cannot be bound).

    uvicorn applies the process's logging configuration in each worker it spawns; its own
    access log stays off: the gateway writes one with route templates (gateway.access).
    """
    logs: dict[str, Any] = {"log_config": logging_config(settings), "log_level": None,
                            "access_log": False}
    if settings.gateway_workers > 1:
        _serve_workers(settings, logs)
        return
    from gateway.app import create_app

    app = create_app(settings)
    with _metrics_port(settings, REGISTRY):
        uvicorn.run(app, host=settings.gateway_host, port=settings.gateway_port, **logs)


def _serve_workers(settings: Settings, logs: dict[str, Any]) -> None:
    """Worker processes that build their app from the same environment and write their metrics
    into a new, empty directory of this run, from which every scrape adds them up; the
    directory goes when the gateway stops."""
    with tempfile.TemporaryDirectory(prefix="stories-gateway-metrics-") as directory:
        # This process imported prometheus_client already; the workers it spawns read this.
        os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
        with _metrics_port(settings, multiprocess_registry(Path(directory))):
            uvicorn.run("gateway.app:app_from_environment", factory=True,
                        host=settings.gateway_host, port=settings.gateway_port,
                        workers=settings.gateway_workers, **logs)


def _metrics_port(settings: Settings, registry: CollectorRegistry
                  ) -> AbstractContextManager[None]:
    return serving_metrics(settings.gateway_metrics_host, settings.gateway_metrics_port, registry)


def issue_token(settings: Settings, user_id: str, ttl: int) -> str:
    """A bearer token for `user_id`, valid for `ttl` seconds, signed with the configured secret."""
    return _issue_token(settings, user_id, ttl)
