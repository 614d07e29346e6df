"""Logging of every process: one configuration, text or JSON lines, the request id on each line.

`configure_logging` is the only place a process sets logging up (the `stories` command for
itself and every child it starts; uvicorn applies `logging_config` in each gateway worker).
JSON lines come from python-json-logger: `time`, `level`, `logger`, `message`, then whatever
the call passed as `extra` (the gateway's access log: method, route, status, duration_ms,
user; the worker's lines about one event: its request_id and trace_id), the request_id and
trace_id of the request being served, and `exc_info` with a traceback.
"""

from __future__ import annotations

import hashlib
import logging
import logging.config
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from core.settings import Settings
from core.tracing import TRACE

__all__ = ["REQUEST_ID", "RequestIdFilter", "TEXT_FORMAT", "logging_config", "configure_logging",
           "user_hash"]

# Set by the gateway for the time it serves one request (and copied into its threads).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
JSON_FIELDS = ["levelname", "name", "message"]
JSON_NAMES = {"levelname": "level", "name": "logger"}
# Record attributes that are no field of a JSON line: the standard ones, and uvicorn's copy of
# its message with terminal colours.
JSON_SKIPPED = [*RESERVED_ATTRS, "color_message"]


class RequestIdFilter(logging.Filter):
    """Stamps the id and the trace id of the request being served on each record; outside one,
    nothing (a line about one event may bring its own as `extra`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
            trace = TRACE.get()
            if trace is not None:
                record.trace_id = trace.trace_id
        return True


def _formatter(log_format: str) -> dict[str, Any]:
    if log_format == "json":
        return {"()": "pythonjsonlogger.orjson.OrjsonFormatter", "fmt": JSON_FIELDS,
                "rename_fields": JSON_NAMES, "reserved_attrs": JSON_SKIPPED, "timestamp": "time"}
    return {"()": "logging.Formatter", "fmt": TEXT_FORMAT, "defaults": {"request_id": "-"}}


def logging_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a process: stderr, the format and level of the
    settings. Plain data, so uvicorn can hand it to the worker processes it spawns."""
    return {
        "version": 1,
        "disable_existing_loggers": False,  # module loggers made at import time keep working
        "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
        "formatters": {"main": _formatter(settings.log_format)},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "main", "filters": ["request_id"]}},
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
    }


def configure_logging(settings: Settings) -> None:
    """Log as the settings say (STORIES_LOG_FORMAT, STORIES_LOG_LEVEL), replacing any setup."""
    logging.config.dictConfig(logging_config(settings))


def user_hash(secret: bytes, user_id: str) -> str:
    """A keyed hash naming a user in logs: stable across processes, never the id itself, and
    unlike the read models' pseudonyms (another personalisation) so the two cannot be joined."""
    return hashlib.blake2b(user_id.encode(), key=secret, digest_size=8,
                           person=b"stories-log").hexdigest()
