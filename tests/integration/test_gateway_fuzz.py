"""Property-based fuzzing of the real gateway from its own /openapi.json (schemathesis).

Every operation gets generated requests, valid and invalid; no answer may be a 5xx, and
every answer must match the documented status codes, content types and schemas. The
requests and checks are the API fuzz's (reliability.faults.fuzz), one test per operation.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis

from core.settings import Settings
from gateway.app import create_app
from reliability.faults.fuzz import (
    LIMITS,
    aimed_config,
    all_checks_config,
    cases,
    check_operation,
    documents_problems,
    erasing_headers,
    got_past_validation,
    run_all_checks,
    target,
)
from tests.integration.gateway_helpers import GatewayProcess, GatewayWorld, gateway_client


@pytest.fixture(scope="module")
def fuzz_target(local_stack, tmp_path_factory):
    """A real gateway process with generous limits, a fan's headers and real ids to aim at."""
    path = tmp_path_factory.mktemp("gateway-fuzz")
    world = GatewayWorld(local_stack, path)
    try:
        headers, story_ids, user_ids = target(world)
        server = GatewayProcess(world.deployment, path / "gateway.log", **LIMITS)
        yield server.url, headers, story_ids, user_ids, erasing_headers(world)
    finally:
        world.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_target):
    url, headers, story_ids, user_ids, erasing = fuzz_target
    return schemathesis.openapi.from_url(f"{url}/openapi.json",
                                         config=aimed_config(headers, story_ids, user_ids, erasing))


@pytest.mark.parametrize(("method", "path", "mode"),
                         cases(create_app(Settings(environment="test")).openapi()))
def test_the_api_never_fails_and_always_matches_its_schema(api_schema, fuzz_target, method, path,
                                                          mode):
    check_operation(api_schema, (method, path, mode), erasing=fuzz_target[4])


def test_openapi_documents_every_endpoint_with_problem_documents(local_stack):
    with gateway_client(Settings(environment="test")) as client:
        document = client.get("/openapi.json").json()
    operations = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    assert len(operations) == 29
    assert documents_problems(document)


def test_the_fuzz_got_past_validation(fuzz_target):
    """Generated requests were accepted too, not only refused (read from the server's metrics)."""
    assert got_past_validation(fuzz_target[0])


def test_schemathesis_with_every_check_on_finds_nothing(fuzz_target, tmp_path):
    """The fuzzer's own command line, `--checks all`, every phase: conformance, valid requests
    accepted and invalid ones refused, Allow on 405s, links followed from what was created."""
    url, headers, story_ids, user_ids, erasing = fuzz_target
    # The fan fuzzes as a user: the account erasure was sent as another user of its own.
    assert httpx.get(f"{url}/api/v1/stories/tray", headers=headers).status_code == 200
    config = all_checks_config(headers, story_ids, user_ids, max_examples=10, erasing=erasing)
    run = run_all_checks(url, config, tmp_path, seed=1)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Tested: 29" in run.stdout and "✅ Stateful" in run.stdout, run.stdout[-3000:]
