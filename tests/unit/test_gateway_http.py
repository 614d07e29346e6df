"""HTTP behaviour that needs no services: the body limit, bodies that are not JSON or break the
models, and the OpenAPI document."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.settings import Settings
from gateway.app import create_app
from gateway.auth import TokenVerifier, issue_token
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


SETTINGS = Settings(environment="test")
# Issued at import, and the unit tests may run long after it (last in `make test`): a day.
JSON = {"content-type": "application/json",
        "authorization": f"Bearer {issue_token(SETTINGS, 'someone', 86_400)}"}


@pytest.fixture
def app_client():
    """The real app without its lifespan: bodies are refused before any store is reached, so
    the only part of a gateway it needs is the token check."""
    app = create_app(SETTINGS)
    app.state.gateway = SimpleNamespace(tokens=TokenVerifier(SETTINGS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(("body", "where"), [
    (b'{"text": "hi",\n "kind": }', "Expecting value at line 2, column 10 (character 24)"),
    (b'{"text": "hi"', "Expecting ',' delimiter at line 1, column 14 (character 13)"),
    (b"[1, 2] 3", "Extra data at line 1, column 8 (character 7)"),
    ('{"text": "é" x}'.encode(), "Expecting ',' delimiter at line 1, column 14 (character 13)"),
])
def test_a_body_that_is_not_json_is_a_400_saying_where_it_broke(app_client, body, where):
    response = app_client.post("/api/v1/stories", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:stories:problem:bad-request"
    assert problem["errors"] == [{"field": "body", "message": f"not valid JSON: {where}"}]
    assert problem["detail"] == f"body: not valid JSON: {where}"


@pytest.mark.parametrize(("body", "field"), [
    (b"[]", "body"), (b'{"text": 7}', "text"), (b'{"text": "x", "colour": "red"}', "colour"),
])
def test_json_that_breaks_the_model_stays_a_422(app_client, body, field):
    response = app_client.post("/api/v1/stories", content=body, headers=JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_every_operation_with_a_body_documents_the_400():
    document = create_app(SETTINGS).openapi()
    with_body = [(method, path) for path, item in document["paths"].items()
                 for method, operation in item.items() if "requestBody" in operation]
    assert len(with_body) >= 8
    for method, path in with_body:
        assert "400" in document["paths"][path][method]["responses"], (method, path)


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
