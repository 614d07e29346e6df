"""The batch-racing consumer: the faust code it overrides, and what it delivers when."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import AsyncIterator
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP

from streams.consumer import BatchRacingConsumer, use_batch_racing_consumer

# The faust-streaming release the override was written against and the sha256 of the upstream
# source it follows or relies on. When a test below fails, faust changed: read the new
# `_drain_messages` and `getmany`, carry the change into streams/consumer.py, record the hashes.
FAUST_VERSION = "0.15.3"
UPSTREAM_SOURCES = {
    "_drain_messages": "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417",
    "getmany": "4b168d84882a70d6e3e2f9804430a63b92f8fd117d3187cbb4aeb54305bda34e",
}

ENGAGEMENT = TP("unit.engagement", 0)


def _consumer() -> BatchRacingConsumer:
    app = faust.App("unit-batch-consumer", broker="kafka://127.0.0.1:1", web_enabled=False)
    use_batch_racing_consumer(app)
    consumer = app.consumer
    assert isinstance(consumer, BatchRacingConsumer)
    return consumer


def _message(offset: int) -> Any:
    return SimpleNamespace(offset=offset, topic=ENGAGEMENT.topic, key=None, value=b"%d" % offset)


def _fetch(consumer: BatchRacingConsumer, offsets: list[int]) -> None:
    """The next fetch hands out these offsets of the engagement partition."""

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        for offset in offsets:
            yield ENGAGEMENT, _message(offset)

    consumer.getmany = getmany  # type: ignore[method-assign]


@pytest.mark.parametrize("name", sorted(UPSTREAM_SOURCES))
def test_the_upstream_code_is_the_code_the_override_follows(name: str) -> None:
    source = inspect.getsource(getattr(FaustConsumer, name))

    assert version("faust-streaming") == FAUST_VERSION
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_SOURCES[name], (
        f"faust's Consumer.{name} changed: re-read streams/consumer.py against it")


def test_the_app_gets_the_batch_racing_consumer() -> None:
    assert type(_consumer()) is BatchRacingConsumer


async def test_a_fetch_is_delivered_in_order_in_one_race() -> None:
    consumer, delivered, races = _consumer(), [], []
    _fetch(consumer, [5, 6, 7])
    consumer.callback = lambda message: _note(delivered, message.offset)
    race = consumer.wait_first

    async def counted(*coros: Any, **kwargs: Any) -> Any:
        races.append(len(coros))
        return await race(*coros, **kwargs)

    consumer.wait_first = counted  # type: ignore[method-assign]
    await consumer._drain_one_fetch()

    assert delivered == [5, 6, 7]
    assert races == [2]
    assert consumer._read_offset[ENGAGEMENT] == 7


async def test_messages_read_already_are_skipped() -> None:
    consumer, delivered = _consumer(), []
    consumer._read_offset[ENGAGEMENT] = 6
    _fetch(consumer, [5, 6, 7])
    consumer.callback = lambda message: _note(delivered, message.offset)

    await consumer._drain_one_fetch()

    assert delivered == [6, 7]


async def test_a_rebalance_stops_the_rest_of_the_fetch() -> None:
    consumer, delivered = _consumer(), []
    _fetch(consumer, [5, 6, 7])
    held = asyncio.Event()

    async def deliver(message: Any) -> None:
        if message.offset == 6:  # blocked on flow control when the rebalance begins
            consumer.stop_flow()
            await held.wait()
        delivered.append(message.offset)

    consumer.callback = deliver
    await asyncio.wait_for(consumer._drain_one_fetch(), timeout=5)

    assert delivered == [5]
    assert consumer._read_offset[ENGAGEMENT] == 5  # offsets 6 and 7 are fetched again


async def _note(delivered: list[int], offset: int) -> None:
    delivered.append(offset)
