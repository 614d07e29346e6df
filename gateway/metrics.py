"""Prometheus metrics of the gateway: requests by route template and status, dependency errors."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["REQUESTS", "REQUEST_SECONDS", "DEPENDENCY_ERRORS", "EVENTS_EMITTED", "observe_request"]

REQUESTS = Counter(
    "stories_gateway_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "stories_gateway_request_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEPENDENCY_ERRORS = Counter(
    "stories_gateway_dependency_errors_total",
    "Requests that failed because a service behind the gateway was away",
    ["dependency"],
)
EVENTS_EMITTED = Counter(
    "stories_gateway_events_emitted_total", "Events acknowledged by the log", ["event"]
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered HTTP request (gateway.access calls it for each)."""
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)
