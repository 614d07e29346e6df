"""Property-based fuzzing of a real gateway process from its own /openapi.json (schemathesis).

Every documented operation gets generated requests, and invalid ones too where it takes any
input; no answer may be a 5xx, and every answer must match the documented status codes,
content types and schemas. An operation with a failing example is a leak.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
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
from harness.gateway import GatewayProcess, GatewayWorld
from reliability.outcome import Row, Size

__all__ = ["api_fuzz", "LIMITS", "MAX_EXAMPLES", "Case", "target", "aimed_config", "cases",
           "check_operation", "documents_problems", "got_past_validation"]

log = logging.getLogger(__name__)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
MAX_EXAMPLES = 25
LIMITS: dict[str, Any] = {"gateway_write_limit": 100_000, "gateway_engagement_limit": 100_000}
POLL = [{"sticker_id": "poll", "kind": "POLL", "prompt": "?", "options": ["a", "b"]}]
Case = tuple[str, str, GenerationMode]


def aimed_config(headers: dict[str, str], story_ids: list[str], user_ids: list[str]
                  ) -> SchemathesisConfig:
    """Requests as one real user, half of the ids drawn from real stories and users."""
    return SchemathesisConfig.from_dict({
        "headers": headers,
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


def target(world: GatewayWorld) -> tuple[dict[str, str], list[str], list[str]]:
    """A fan following an author, a story of each: (the fan's headers, story ids, user ids)."""
    with world.serving():
        author, fan = world.user("author"), world.user("fan")
        world.follow(fan, author)
        own = fan.post_story(text="mine", stickers=POLL)
        visible = author.post_story(text="theirs")
    return fan.headers, [own, visible], [author.id, fan.id]


def cases(document: dict[str, Any]) -> list[Case]:
    """Every documented operation, with invalid requests too where it takes any input."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            found.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                found.append((method.upper(), path, GenerationMode.NEGATIVE))
    return found


def _call_and_validate(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


def check_operation(schema: Any, case: Case) -> None:
    """Run every generated example of one operation through every check; raise on the first failure."""
    method, path, mode = case
    strategy = schema[path][method].as_strategy(generation_mode=mode)
    run = examples(deadline=None, suppress_health_check=list(HealthCheck),
                   max_examples=MAX_EXAMPLES, database=None)(given(case=strategy)(_call_and_validate))
    run()


def _holds(schema: Any, case: Case) -> bool:
    """Every generated example of one operation passes every check."""
    method, path, mode = case
    try:
        check_operation(schema, case)
    except Exception as failure:  # noqa: BLE001 - a failing example is the finding, reported
        log.warning("fuzz failure on %s %s (%s): %s", method, path, mode.value, failure)
        return False
    return True


def _problem_schema(operation: dict[str, Any]) -> Any:
    content = operation["responses"].get("422", {}).get("content", {})
    return content.get("application/problem+json", {}).get("schema")


def documents_problems(document: dict[str, Any]) -> bool:
    """Every API operation documents its 401, and its 422 as a problem document."""
    problem = {"$ref": "#/components/schemas/ProblemDocument"}
    return "ProblemDocument" in document["components"]["schemas"] and all(
        "401" in operation["responses"] and _problem_schema(operation) == problem
        for path, item in document["paths"].items() if path.startswith("/api/")
        for operation in item.values())


def got_past_validation(url: str) -> bool:
    """Generated requests were accepted too, not only refused (read from the server's metrics)."""
    answered = [line for line in httpx.get(f"{url}/metrics").text.splitlines()
                if line.startswith("stories_gateway_requests_total{")]
    accepted = {line.split('route="')[1].split('"')[0] for line in answered
                if 'status="201"' in line or 'status="202"' in line}
    trays = any('route="/api/v1/stories/tray"' in line and 'status="200"' in line
                for line in answered)
    return len(accepted) >= 3 and trays


def api_fuzz(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Every endpoint from /openapi.json with malformed and oversized input: no 5xx, no hang."""
    world = GatewayWorld(settings, work)
    try:
        headers, story_ids, user_ids = target(world)
        server = GatewayProcess(world.deployment, **LIMITS)
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json",
                                               config=aimed_config(headers, story_ids, user_ids))
        document = httpx.get(f"{server.url}/openapi.json").json()
        results = [_holds(schema, case) for case in cases(document)]
        results += [documents_problems(document), got_past_validation(server.url)]
    finally:
        world.close()
    failed = results.count(False)
    return Row("API fuzz (schemathesis)", f"{len(results)} operations",
               "malformed, oversized and random input", len(results), len(results) - failed,
               0, 0, failed)
