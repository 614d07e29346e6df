"""Property-based fuzzing of a real gateway process from its own /openapi.json (schemathesis).

Every documented operation gets generated requests, and invalid ones too where it takes any
input; no answer may be a 5xx, and every answer must match the documented status codes,
content types and schemas. An operation with a failing example is a leak.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
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
from gateway.auth import issue_token
from harness.gateway import GatewayProcess, GatewayWorld, unique
from reliability.outcome import Row, Size

__all__ = ["api_fuzz", "LIMITS", "MAX_EXAMPLES", "Case", "target", "aimed_config", "cases",
           "check_operation", "documents_problems", "got_past_validation", "STATEFUL_REFUSALS",
           "all_checks_config", "run_all_checks"]

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
ERASE = "erase_account"  # the one operation fuzzed as a user of its own
ERASE_CALL = ("DELETE", "/api/v1/me")
LIMITS: dict[str, Any] = {"gateway_write_limit": 100_000, "gateway_engagement_limit": 100_000}
POLL = [{"sticker_id": "poll", "kind": "POLL", "prompt": "?", "options": ["a", "b"]}]
Case = tuple[str, str, GenerationMode]


def aimed_config(headers: dict[str, str], story_ids: list[str], user_ids: list[str],
                 erasing: dict[str, str] | None = None) -> SchemathesisConfig:
    """Requests as one real user, half of the ids drawn from real stories and users; the
    account erasure as another user (`erasing`), so the first user stays for the rest."""
    return SchemathesisConfig.from_dict({
        "headers": headers,
        "operations": [{"include-operation-id": ERASE, "headers": erasing}] if erasing else [],
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


# Answers that only the server's state can decide, which no OpenAPI document can carry: with
# every check on, schemathesis counts these as refusals of valid requests unless told.
STATEFUL_REFUSALS: dict[str, tuple[str, str]] = {
    # A cursor is valid only for the caller and the list that issued it.
    **{operation: ("400", "a cursor this list did not issue to the caller")
       for operation in ("get_tray", "query_tray", "list_author_stories", "list_viewers",
                         "list_highlights", "list_close_friends")},
    "post_story": ("422", "a media id of an upload not made, an audience listing the author, a "
                          "slider emoji that is not one emoji, sticker ids repeated"),
    "create_highlight": ("422", "story ids that are not the caller's active stories"),
    "change_highlight": ("422", "story ids that are not in the highlight"),
    "add_highlight_story": ("422", "a story id that is not the caller's active story"),
    "react_to_story": ("422", "a reaction that is not exactly one emoji"),
    "answer_sticker": ("422", "an answer of another kind than the sticker's, or past its options"),
    "replace_close_friends": ("422", "a list naming the caller"),
}
ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


def all_checks_config(headers: dict[str, str], story_ids: list[str], user_ids: list[str],
                      max_examples: int, erasing: dict[str, str] | None = None) -> str:
    """A schemathesis.toml for `schemathesis run --checks all`: aimed like `aimed_config`,
    with the answers of STATEFUL_REFUSALS allowed where the server's state decides them."""
    lines = [
        f"headers = {{ Authorization = {json.dumps(headers['Authorization'])} }}",
        "[generation]",
        f"max-examples = {max_examples}",
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps(REFUSED)}",
        "[dictionaries.stories]",
        f"values = {json.dumps(story_ids)}",
        "[dictionaries.users]",
        f"values = {json.dumps(user_ids)}",
        '[parameters."path.story_id"]',
        'dictionary = "stories"',
        "probability = 0.5",
        '[parameters."path.user_id"]',
        'dictionary = "users"',
        "probability = 0.5",
    ]
    for operation, (status, why) in STATEFUL_REFUSALS.items():
        lines += [
            "[[operations]]",
            f"# {why}",
            f'include-operation-id = "{operation}"',
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {json.dumps([*ACCEPTED, status])}",
        ]
    if erasing:
        lines += ["[[operations]]", f'include-operation-id = "{ERASE}"',
                  f"headers = {{ Authorization = {json.dumps(erasing['Authorization'])} }}"]
    return "\n".join(lines) + "\n"


def run_all_checks(url: str, config: str, work: Path, seed: int) -> subprocess.CompletedProcess:
    """`schemathesis run --checks all` against a running gateway, every phase (examples,
    coverage, fuzzing, and stateful sequences along the document's links)."""
    config_file = work / "schemathesis.toml"
    config_file.write_text(config)
    command = [str(Path(sys.executable).with_name("schemathesis")), "--no-color",
               "--config-file", str(config_file), "run", f"{url}/openapi.json",
               "--checks", "all", "--seed", str(seed), "--workers", "1",
               "--report-dir", str(work / "schemathesis-report")]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False,
                          cwd=work)


def target(world: GatewayWorld) -> tuple[dict[str, str], list[str], list[str]]:
    """A fan following an author, a story of each: (the fan's headers, story ids, user ids)."""
    with world.serving():
        author, fan = world.user("author"), world.user("fan")
        world.follow(fan, author)
        own = fan.post_story(text="mine", stickers=POLL)
        visible = author.post_story(text="theirs")
    return fan.headers, [own, visible], [author.id, fan.id]


def erasing_headers(world: GatewayWorld) -> dict[str, str]:
    """The headers of a user of its own for `DELETE /api/v1/me`: erased by the first example,
    refused by the next, while the fan of `target` goes on fuzzing everything else."""
    return {"Authorization": f"Bearer {issue_token(world.settings, unique('erasing'), 3600)}"}


def cases(document: dict[str, Any]) -> list[Case]:
    """Every documented operation, with invalid requests too where it takes any input."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            found.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                found.append((method.upper(), path, GenerationMode.NEGATIVE))
    return found


def check_operation(schema: Any, case: Case, erasing: dict[str, str] | None = None) -> None:
    """Run every generated example of one operation through every check; raise on the first
    failure. The account erasure is sent as the `erasing` user: the configuration's headers
    for one operation do not reach calls made from Python, and the fan must stay a user."""
    method, path, mode = case
    headers = erasing if (method, path) == ERASE_CALL else None

    def call_and_validate(case: Any) -> None:
        case.call_and_validate(checks=CHECKS, headers=headers)

    strategy = schema[path][method].as_strategy(generation_mode=mode)
    run = examples(deadline=None, suppress_health_check=list(HealthCheck),
                   max_examples=MAX_EXAMPLES, database=None)(given(case=strategy)(call_and_validate))
    run()


def _holds(schema: Any, case: Case, erasing: dict[str, str]) -> bool:
    """Every generated example of one operation passes every check."""
    method, path, mode = case
    try:
        check_operation(schema, case, erasing)
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
        erasing = erasing_headers(world)
        config = aimed_config(headers, story_ids, user_ids, erasing)
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)
        document = httpx.get(f"{server.url}/openapi.json").json()
        results = [_holds(schema, case, erasing) for case in cases(document)]
        results += [documents_problems(document), got_past_validation(server.url)]
    finally:
        world.close()
    failed = results.count(False)
    return Row("API fuzz (schemathesis)", f"{len(results)} operations",
               "malformed, oversized and random input", len(results), len(results) - failed,
               0, 0, failed)
