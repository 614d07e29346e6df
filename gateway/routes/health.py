"""Liveness, readiness and metrics: open to the platform, no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from gateway.models import Health, Readiness
from gateway.problems import FieldError, Problem, problem_responses
from gateway.routes.deps import GatewayRoute, Gw

__all__ = ["router", "metrics_router"]

router = APIRouter(tags=["operations"], route_class=GatewayRoute)
# Not on the API port when the metrics have a port of their own (STORIES_GATEWAY_METRICS_PORT).
metrics_router = APIRouter(tags=["operations"], route_class=GatewayRoute)


@router.get("/healthz", operation_id="get_health", response_model=Health)
async def healthz() -> Health:
    """The process is up and serving (says nothing about what is behind it)."""
    return Health()


@router.get("/readyz", operation_id="get_readiness",
            response_model=Readiness, responses=problem_responses(503))
async def readyz(gw: Gw) -> Readiness:
    """Kafka, Redis and the CQL server all answer; a 503 names the ones that do not."""
    checks = await gw.readiness()
    down = sorted(name for name, state in checks.items() if state != "ok")
    if down:
        errors = [FieldError(field=name, message=checks[name]) for name in down]
        raise Problem(503, "not-ready", f"Unreachable: {', '.join(down)}.", errors,
                      headers={"Retry-After": "5"})
    return Readiness(status="ready", checks=checks)


@metrics_router.get(
    "/metrics",
    operation_id="get_metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Request counts and latencies by route template and status, dependency errors: of every
    gateway process (STORIES_GATEWAY_WORKERS) added up."""
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
