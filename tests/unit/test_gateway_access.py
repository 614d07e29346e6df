"""The gateway's request layer without services: request ids, the access log, its metrics."""

from __future__ import annotations

import logging
import warnings

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from core.logs import RequestIdFilter, user_hash
from core.settings import Settings
from core.tracing import parse_traceparent
from gateway.access import RequestMiddleware, note_user, request_id, request_trace
from gateway.app import create_app
from gateway.metrics import REQUESTS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SECRET = b"unit-secret"


async def item(request: Request) -> PlainTextResponse:
    note_user(request.scope, "ada")
    logging.getLogger("unit.route").info("reading an item")
    return PlainTextResponse("ok")


async def broken(request: Request) -> PlainTextResponse:
    raise RuntimeError("a bug")


async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


class _App(Starlette):
    """Like gateway.app.GatewayApp: the request layer outside Starlette's error middleware."""

    access = True

    def build_middleware_stack(self) -> ASGIApp:
        return RequestMiddleware(super().build_middleware_stack(), SECRET, self.access)


def _client(access: bool = True) -> TestClient:
    app = _App(routes=[Route("/items/{item_id}", item), Route("/broken", broken),
                       WebSocketRoute("/live/{story_id}", live)])
    app.access = access
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(app, raise_server_exceptions=False)


def _capture(caplog: pytest.LogCaptureFixture) -> None:
    """Records at INFO, with the filter every handler of core.logs has."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.access"]


@pytest.mark.parametrize("given", ["abc-123", "0f" * 64, "trace:1/2@edge=+_."])
def test_a_reasonable_request_id_is_kept(given: str) -> None:
    assert request_id([(b"accept", b"*/*"), (b"x-request-id", given.encode())]) == given


@pytest.mark.parametrize("given", [b"", b"x" * 129, b"has space", b"tab\tin", b"caf\xc3\xa9",
                                   b"line\nbreak"])
def test_an_unreasonable_request_id_is_replaced(given: bytes) -> None:
    made = request_id([(b"x-request-id", given)])
    assert len(made) == 32 and int(made, 16) >= 0


def test_a_request_without_one_gets_a_new_id_each_time() -> None:
    assert request_id([]) != request_id([])


def test_the_id_is_echoed_and_on_every_line_of_the_request(caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    _capture(caplog)
    response = _client().get("/items/42?secret=x", headers={"X-Request-ID": "req-1"})

    assert response.headers["x-request-id"] == "req-1"
    inside = next(r for r in caplog.records if r.name == "unit.route")
    [line] = _access_lines(caplog)
    assert inside.request_id == line.request_id == "req-1"  # type: ignore[attr-defined]
    fields = {k: getattr(line, k) for k in ("method", "route", "status", "user")}
    assert fields == {"method": "GET", "route": "/items/{item_id}", "status": 200,
                      "user": user_hash(SECRET, "ada")}
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert "42" not in line.getMessage() and "ada" not in line.getMessage()


def test_a_500_carries_its_id_and_is_logged_as_one(caplog: pytest.LogCaptureFixture) -> None:
    _capture(caplog)
    response = _client().get("/broken", headers={"X-Request-ID": "req-500"})

    assert (response.status_code, response.headers["x-request-id"]) == (500, "req-500")
    [line] = _access_lines(caplog)
    assert (line.status, line.route, line.user) == (500, "/broken", None)  # type: ignore[attr-defined]


def test_the_websocket_handshake_carries_the_id(caplog: pytest.LogCaptureFixture) -> None:
    _capture(caplog)
    with _client().websocket_connect("/live/s1", headers={"X-Request-ID": "ws-1"}) as socket:
        assert (b"x-request-id", b"ws-1") in socket.extra_headers
        socket.receive()  # the close
    [line] = _access_lines(caplog)
    assert (line.method, line.route, line.status, line.request_id) == (  # type: ignore[attr-defined]
        "WS", "/live/{story_id}", 101, "ws-1")


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLERS_SPAN = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_the_callers_trace_goes_on_under_a_span_of_the_gateways_own(
        caplog: pytest.LogCaptureFixture) -> None:
    _capture(caplog)
    response = _client().get("/items/1", headers={"traceparent": CALLERS_SPAN})

    echoed = parse_traceparent(response.headers["traceparent"])
    assert echoed is not None and echoed.trace_id == TRACE_ID and echoed.flags == "01"
    assert echoed.parent_id != "00f067aa0ba902b7"
    inside = next(r for r in caplog.records if r.name == "unit.route")
    [line] = _access_lines(caplog)
    assert inside.trace_id == line.trace_id == TRACE_ID  # type: ignore[attr-defined]


@pytest.mark.parametrize("given", [None, "00-nope", f"00-{'0' * 32}-00f067aa0ba902b7-01",
                                   CALLERS_SPAN.upper()])
def test_without_a_valid_traceparent_a_new_trace_starts(given: str | None) -> None:
    headers = {"traceparent": given} if given else {}
    echoed = _client(access=False).get("/items/1", headers=headers).headers["traceparent"]
    made = parse_traceparent(echoed)
    assert made is not None and made.trace_id != TRACE_ID and made.flags == "01"
    again = request_trace([(b"traceparent", given.encode())] if given else [])
    assert again.trace_id != made.trace_id  # a new trace each time


def test_the_websocket_handshake_carries_the_trace() -> None:
    with _client(access=False).websocket_connect(
            "/live/s1", headers={"traceparent": CALLERS_SPAN}) as socket:
        echoed = dict(socket.extra_headers)[b"traceparent"].decode()
        socket.receive()
    assert echoed.startswith(f"00-{TRACE_ID}-")


def test_the_access_log_can_be_switched_off(caplog: pytest.LogCaptureFixture) -> None:
    _capture(caplog)
    response = _client(access=False).get("/items/1")
    assert len(response.headers["x-request-id"]) == 32
    assert _access_lines(caplog) == []


def test_the_metrics_count_by_route_template() -> None:
    counted = REQUESTS.labels("GET", "/items/{item_id}", "200")
    before = counted._value.get()
    _client(access=False).get("/items/7")
    assert counted._value.get() - before == 1


def test_the_gateways_problem_documents_carry_the_id(caplog: pytest.LogCaptureFixture) -> None:
    _capture(caplog)
    app = create_app(Settings(environment="test"))  # no lifespan: nothing is connected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        response = TestClient(app).get("/api/v1/nothing/here", headers={"X-Request-ID": "p-1"})
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.status_code, response.headers["x-request-id"]) == (404, "p-1")
    [line] = _access_lines(caplog)
    assert (line.route, line.status) == ("unmatched", 404)  # type: ignore[attr-defined]
