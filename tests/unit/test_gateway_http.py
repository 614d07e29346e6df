"""HTTP behaviour that needs no services: the body limit and the OpenAPI document."""

from __future__ import annotations

import warnings

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.settings import Settings
from gateway.app import create_app
from gateway.limits import BodyLimitMiddleware

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"length": len(await request.body())})


@pytest.fixture
def client():
    app = Starlette(routes=[Route("/", echo_length, methods=["POST"])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(BodyLimitMiddleware(app, limit=100))


def test_bodies_up_to_the_limit_pass(client):
    assert client.post("/", content=b"x" * 100).json() == {"length": 100}


def test_a_declared_length_over_the_limit_is_refused_unread(client):
    response = client.post("/", content=b"x" * 101)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:stories:problem:too-large"


def test_a_streamed_body_over_the_limit_is_refused(client):
    response = client.post("/", content=iter([b"x" * 60, b"x" * 60]))
    assert response.status_code == 413


def test_every_operation_is_documented_with_problem_documents():
    document = create_app(Settings(environment="test")).openapi()
    assert document["components"]["schemas"]["ProblemDocument"]["required"] == [
        "type", "title", "status", "detail"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path.startswith("/api/"):
                assert {"401", "422", "503"} <= responses.keys(), (method, path)
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (path, status)
