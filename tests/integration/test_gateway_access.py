"""Who may do what to a story: every story-scoped endpoint, every kind of caller.

Denials must be indistinguishable from absence: same status, same body, byte for byte, as
for a story that never existed. The checks are the access matrix's (reliability.faults.access),
each group asserted here as a test.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from reliability.faults.access import (
    CALLERS,
    STORIES,
    AccessWorld,
    Check,
    delete_checks,
    erasure_checks,
    live_check,
    open_checks,
    story_checks,
    token_checks,
)
from tests.integration.gateway_helpers import GatewayWorld


@pytest.fixture(scope="module")
def access(local_stack, tmp_path_factory):
    world = GatewayWorld(local_stack, tmp_path_factory.mktemp("gateway-access"))
    try:
        with world.serving():
            yield AccessWorld(world)
    finally:
        world.close()


def failed(checks: Iterable[Check]) -> list[str]:
    """The names of the checks that did not hold (each one ran)."""
    return [name for name, ok in list(checks) if not ok]


@pytest.mark.parametrize("story", STORIES)
@pytest.mark.parametrize("caller", CALLERS)
def test_story_endpoints_answer_each_caller_as_expected(access, caller, story):
    assert failed(story_checks(access, caller, story)) == []


@pytest.mark.parametrize("caller", CALLERS)
def test_only_the_author_watches_the_live_feed(access, caller):
    assert failed([live_check(access, caller)]) == []


def test_only_the_author_deletes(access):
    assert failed(delete_checks(access)) == []


def test_every_endpoint_refuses_a_missing_or_bad_token(access):
    assert failed(token_checks(access)) == []


def test_an_erased_author_is_absent_and_their_token_refused(access):
    checks = list(erasure_checks(access))
    assert len(checks) > 20  # every story action, the lists, and every endpoint for the token
    assert failed(checks) == []


def test_the_open_endpoints_need_no_token(access):
    assert failed(open_checks(access)) == []
