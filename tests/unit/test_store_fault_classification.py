"""Which errors are a store's fault (waited out) and which are an event's (set aside)."""

from __future__ import annotations

import cassandra
import pytest
import redis
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import ServerError

from core.errors import is_store_fault
from projections.projector import ProjectionRejected
from schemas import DecodeError, EventValidationError


@pytest.mark.parametrize("error", [
    redis.ConnectionError("away"),
    redis.TimeoutError("slow"),
    redis.ResponseError("CROSSSLOT Keys in request don't hash to the same slot"),
    redis.ReadOnlyError("READONLY You can't write against a read only replica."),
    redis.AuthenticationError("NOAUTH Authentication required."),
    redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
    redis.exceptions.NoPermissionError("NOPERM"),
    redis.exceptions.ExecAbortError("EXECABORT"),
    NoHostAvailable("away", {}),
    cassandra.OperationTimedOut("slow"),
    cassandra.InvalidRequest("unconfigured table"),
    cassandra.Unauthorized("no MODIFY permission"),
    cassandra.WriteFailure("failed", consistency=1, required_responses=1, received_responses=0),
    cassandra.AuthenticationFailed("bad credentials"),
    ServerError(0, "boom", {}),
])
def test_store_client_errors_are_store_faults(error: BaseException) -> None:
    assert is_store_fault(error)


@pytest.mark.parametrize("error", [
    ProjectionRejected("only the author may delete"),
    EventValidationError("emoji", "not an emoji"),
    DecodeError("bad magic"),
    ValueError("a fold bug"),
    KeyError("story_id"),
    redis.DataError("Invalid input of type: 'NoneType'"),  # built by the fold, never sent
])
def test_event_and_fold_errors_are_not_store_faults(error: BaseException) -> None:
    assert not is_store_fault(error)
