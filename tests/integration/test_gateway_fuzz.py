"""Property-based fuzzing of the real gateway from its own /openapi.json (schemathesis).

Every operation gets generated requests, valid and invalid; no answer may be a 5xx, and
every answer must match the documented status codes, content types and schemas.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import Settings
from gateway.app import create_app
from tests.integration.gateway_helpers import GatewayProcess, GatewayWorld, gateway_client

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_target(local_stack, tmp_path_factory):
    """A real gateway process with generous limits, and real stories to aim at."""
    path = tmp_path_factory.mktemp("gateway-fuzz")
    world = GatewayWorld(local_stack, path)
    server = None
    try:
        with world.serving():
            author, fan = world.user("author"), world.user("fan")
            world.follow(fan, author)
            own = fan.post_story(text="mine", stickers=[
                {"sticker_id": "poll", "kind": "POLL", "prompt": "?", "options": ["a", "b"]}])
            visible = author.post_story(text="theirs")
        server = GatewayProcess(world.deployment, path / "gateway.log",
                                gateway_write_limit=100_000, gateway_engagement_limit=100_000)
        yield server.url, fan, [own, visible], [author.id, fan.id]
    finally:
        if server is not None:
            server.stop()
        world.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_target):
    url, user, story_ids, user_ids = fuzz_target
    config = SchemathesisConfig.from_dict({
        "headers": user.headers,
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
        # Invalid requests are refused with a 4xx; a body past the size limit with a 413.
        "checks": {"negative_data_rejection": {
            "expected-statuses": ["400", "401", "404", "405", "409", "413", "422", "429"]}},
        "dictionaries": {"stories": {"values": story_ids}, "users": {"values": user_ids}},
        "parameters": {
            "path.story_id": {"dictionary": "stories", "probability": 0.5},
            "path.user_id": {"dictionary": "users", "probability": 0.5},
        },
    })
    return schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every documented operation, with invalid requests too where it takes any input."""
    document = create_app(Settings(environment="test")).openapi()
    cases = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_the_api_never_fails_and_always_matches_its_schema(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES,
              database=None)
    def call(case) -> None:
        case.call_and_validate(checks=CHECKS)

    call()


def test_openapi_documents_every_endpoint_with_problem_documents(local_stack):
    with gateway_client(Settings(environment="test")) as client:
        document = client.get("/openapi.json").json()
    operations = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    assert len(operations) == 23
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/"):
                assert "401" in operation["responses"], (method, path)
                problem = operation["responses"]["422"]["content"]["application/problem+json"]
                assert problem["schema"] == {"$ref": "#/components/schemas/ProblemDocument"}
    assert "ProblemDocument" in document["components"]["schemas"]


def test_the_fuzz_got_past_validation(fuzz_target):
    """Generated requests were accepted too, not only refused (read from the server's metrics)."""
    import httpx

    url = fuzz_target[0]
    answered = [line for line in httpx.get(f"{url}/metrics").text.splitlines()
                if line.startswith("stories_gateway_requests_total{")]
    def routes(*statuses: str) -> set[str]:
        return {line.split('route="')[1].split('"')[0] for line in answered
                if any(f'status="{status}"' in line for status in statuses)}

    assert len(routes("201", "202")) >= 3, routes("201", "202")
    assert "/api/v1/stories/tray" in routes("200")
