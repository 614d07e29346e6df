"""The local stack as `up` leaves it: four healthy services, an idempotent start, real clients."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from rich.console import Console

from core.clients import redis_client, redis_clustered, redis_credentials, s3_client
from core.settings import Settings
from infra.stack import SERVICE_NAMES, status, up
from infra.stack.control import services_of
from infra.stack.redis import cluster_endpoint
from infra.stack.redis_cluster import node_client

pytestmark = pytest.mark.integration

# Every service already answers: a second `up` only runs the four probes.
SECOND_UP_BUDGET_S = 15.0


@pytest.fixture
def s3(local_stack: Settings) -> Any:
    return s3_client(local_stack)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A bucket of this test's own, emptied and removed afterwards."""
    name = f"test-stack-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def test_status_reports_every_service_of_the_stack_healthy(local_stack: Settings) -> None:
    services = {service.name: service for service in status(local_stack)}

    assert sorted(services) == sorted(service.name for service in services_of(local_stack))
    if not redis_clustered(local_stack):
        assert sorted(services) == sorted(SERVICE_NAMES)  # Redis twice: one node, one-node cluster
    unhealthy = {
        name: service.detail
        for name, service in services.items()
        if not (service.running and service.healthy)
    }
    assert unhealthy == {}


def test_second_up_is_harmless_and_quick(local_stack: Settings) -> None:
    pids_before = {service.name: service.pid for service in status(local_stack)}

    began = time.monotonic()
    up(local_stack, Console(quiet=True))
    elapsed = time.monotonic() - began

    assert elapsed < SECOND_UP_BUDGET_S
    pids_after = {service.name: service.pid for service in status(local_stack)}
    assert pids_after == pids_before  # nothing restarted, nothing started twice


def test_redis_answers(local_stack: Settings) -> None:
    client = redis_client(local_stack)
    key = f"test:stack:{uuid.uuid4().hex}"
    try:
        assert client.ping() is True
        client.set(key, "present", px=10_000)
        assert client.get(key) == b"present"
        assert 0 < client.pttl(key) <= 10_000
    finally:
        client.delete(key)
        client.close()


def test_presigned_put_then_get_round_trip(s3: Any, bucket: str) -> None:
    key = "uploads/round-trip.jpg"
    body = os.urandom(256 * 1024)
    put_url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": "image/jpeg"},
        ExpiresIn=300,
    )
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)

    uploaded = httpx.put(put_url, content=body, headers={"Content-Type": "image/jpeg"})
    downloaded = httpx.get(get_url)

    assert uploaded.status_code == 200, uploaded.text
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == body
    assert downloaded.headers["content-type"] == "image/jpeg"


def test_presigned_url_with_a_forged_signature_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"not for you")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "private.txt"}, ExpiresIn=300
    )
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    forged = url.replace(signature, "0" * len(signature))

    assert httpx.get(forged).status_code == 403


def test_the_cluster_serves_every_slot_and_refuses_cross_slot_commands(
    local_stack: Settings,
) -> None:
    """The single-node stack's one-node cluster, or the local cluster's seed node."""
    if redis_clustered(local_stack):
        client = node_client(local_stack, 1)
    else:
        host, port = cluster_endpoint(local_stack)
        user, password = redis_credentials(local_stack) or (None, None)
        client = redis.Redis(host=host, port=port, username=user, password=password,
                             decode_responses=True)
    try:
        info = client.cluster("info")
        assert info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384
        with pytest.raises(redis.ResponseError, match="same slot"):
            client.mget(f"test:{{{uuid.uuid4().hex}}}", f"test:{{{uuid.uuid4().hex}}}")
    finally:
        client.close()
