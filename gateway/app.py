"""The FastAPI application: routes, problem documents for every error, limits, and the request
layer (request ids, access log, metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis
from anyio import to_thread
from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp

import schemas
from core.settings import Settings, get_settings
from gateway.access import RequestMiddleware, route_template
from gateway.context import Gateway
from gateway.limits import BodyLimitMiddleware
from gateway.links import add_links
from gateway.metrics import (
    DEPENDENCY_ERRORS,
    MULTIPROCESS_DIR_VARIABLE,
    REGISTRY,
    multiprocess_registry,
    process_ended,
)
from gateway.problems import (
    FieldError,
    Problem,
    add_problem_schema,
    bad_request,
    internal_error,
    invalid,
    unavailable,
)
from gateway.ratelimit import declare_quota_headers
from gateway.routes import ROUTERS, health

__all__ = ["create_app", "app_from_environment"]

log = logging.getLogger(__name__)

DESCRIPTION = """Stories that vanish: post, watch, react, answer stickers, keep highlights.

Every endpoint but `/healthz`, `/readyz` and `/metrics` needs `Authorization: Bearer <JWT>`.
Commands are answered once the event log has acknowledged them; reads come from the read
models. Errors are RFC 9457 problem documents (`application/problem+json`).
"""

DEPENDENCY_ERROR_TYPES: dict[type[Exception], str] = {
    redis.ConnectionError: "redis",
    redis.TimeoutError: "redis",
    NoHostAvailable: "cql",
    OperationTimedOut: "cql",
    Unavailable: "cql",
    ReadTimeout: "cql",
    WriteTimeout: "cql",
}
DEPENDENCY_NAMES = {"redis": "The read models (Redis)", "cql": "The read models (CQL)"}
BEARER_SCHEME = "HTTPBearer"
HTTP_KINDS = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}


class GatewayApp(FastAPI):
    """FastAPI with the request layer (id, metrics, access log) outside even Starlette's error
    middleware: a 500 is counted, logged and answered with its request id too."""

    def __init__(self, settings: Settings, **options: Any):
        self.request_secret = settings.pseudonym_secret.get_secret_value().encode()
        self.access_log = settings.access_log
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        return RequestMiddleware(super().build_middleware_stack(), self.request_secret,
                                 self.access_log)


def create_app(settings: Settings, gateway: Gateway | None = None,
               metrics_dir: Path | None = None) -> FastAPI:
    """The app; it connects on startup unless given a connected `gateway` (tests share one).
    With `metrics_dir` it is one of several processes whose metrics are added up there."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gw = gateway if gateway is not None else await to_thread.run_sync(Gateway, settings)
        app.state.gateway = gw
        followers = [asyncio.create_task(gw.follow_live_version()),
                     asyncio.create_task(gw.follow_erasures())]
        try:
            yield
        finally:
            for follower in followers:
                follower.cancel()
            if gateway is None:
                await gw.aclose()
            if metrics_dir is not None:
                process_ended(metrics_dir)

    app = GatewayApp(settings, title="stories", version="1", description=DESCRIPTION,
                     lifespan=lifespan, redoc_url=None)
    for router in ROUTERS:
        app.include_router(router)
    app.state.metrics = REGISTRY if metrics_dir is None else multiprocess_registry(metrics_dir)
    if settings.gateway_metrics_port is None:
        app.include_router(health.metrics_router)
    _install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.gateway_max_body_bytes)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The factory `uvicorn --factory` calls in each worker process; `stories gateway` names
    the directory their metrics share (gateway.cli)."""
    shared = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    return create_app(get_settings(), metrics_dir=Path(shared) if shared else None)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        app.openapi_schema = add_links(
            declare_quota_headers(_declare_bearer(add_problem_schema(schema))))
    return app.openapi_schema


def _declare_bearer(openapi: dict[str, Any]) -> dict[str, Any]:
    """Every `/api/` operation needs the bearer token that `routes.deps` reads by hand."""
    schemes = openapi.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {"type": "http", "scheme": "bearer",
                              "description": "A JWT from `stories token USER_ID`"}
    for path, item in openapi.get("paths", {}).items():
        if path.startswith("/api/"):
            for operation in item.values():
                operation["security"] = [{BEARER_SCHEME: []}]
    return openapi


def _install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(schemas.EventValidationError, _event_invalid)
    app.add_exception_handler(HTTPException, _http_error)
    for error_type in DEPENDENCY_ERROR_TYPES:
        app.add_exception_handler(error_type, _dependency_away)
    app.add_exception_handler(Exception, _unexpected)


async def _problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    return error.response()


async def _request_invalid(request: Request, error: Exception) -> Response:
    """Pydantic's findings, one entry per offending field, never echoing the input; a body
    that is not JSON at all is a 400 saying where it broke."""
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    if errors and errors[0].get("type") == "json_invalid":
        return _not_json(errors[0], error.body).response()
    fields = [FieldError(field=_field_name(e), message=str(e.get("msg", "invalid"))) for e in errors]
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields[:5]) or "invalid request"
    return Problem(422, "validation", detail, fields).response()


def _not_json(error: dict[str, Any], body: Any) -> Problem:
    """The decoder's reason and position (FastAPI keeps both), as line and column too."""
    location = error.get("loc", ())
    position = location[1] if len(location) > 1 else None
    reason = error.get("ctx", {}).get("error", "invalid JSON")
    if not isinstance(position, int):
        return bad_request("body", f"not valid JSON: {reason}")
    where = f"character {position}"
    if isinstance(body, str):
        decoded = json.JSONDecodeError(reason, body, position)
        where = f"line {decoded.lineno}, column {decoded.colno} ({where})"
    return bad_request("body", f"not valid JSON: {reason} at {where}")


def _field_name(error: dict[str, Any]) -> str:
    """`audience.user_ids[0]` for body fields, the parameter's name for the rest."""
    location, *path = error.get("loc", ("body",))
    if not path:
        return str(location)
    if location != "body":
        return str(path[-1])
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


async def _event_invalid(request: Request, error: Exception) -> Response:
    assert isinstance(error, schemas.EventValidationError)
    return invalid(error.field, error.message).response()


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's own errors (unknown path, wrong method, body too large) as problems."""
    assert isinstance(error, HTTPException)
    status = error.status_code
    if status == 400:  # the body could not even be read (e.g. not UTF-8)
        return bad_request("body", "the body could not be read as JSON").response()
    detail = "No such resource." if status == 404 else str(error.detail)
    headers = dict(error.headers or {})
    if status == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return Problem(status, HTTP_KINDS.get(status, "http-error"), detail, headers=headers).response()


def _allowed_methods(request: Request) -> list[str]:
    """Every method of the path's resource. Starlette names only the first route it tried; a
    literal path (`/stories/tray`) is the resource rather than the template it also fits
    (`/stories/{story_id}`)."""
    matching = [route for route in request.app.router.routes
                if isinstance(route, APIRoute)
                and route.matches(request.scope)[0] is not Match.NONE]
    if not matching:
        return []
    resource = min((route.path for route in matching), key=lambda path: path.count("{"))
    methods = {m for route in matching if route.path == resource for m in route.methods or ()}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


async def _dependency_away(request: Request, error: Exception) -> Response:
    dependency = next(name for t, name in DEPENDENCY_ERROR_TYPES.items() if isinstance(error, t))
    DEPENDENCY_ERRORS.labels(dependency).inc()
    log.warning("%s %s: %s unavailable: %s", request.method, route_template(request.scope),
                dependency, error)
    return unavailable(DEPENDENCY_NAMES[dependency]).response()


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unexpected error in %s %s", request.method, route_template(request.scope))
    return internal_error().response()
