"""faust's Kafka consumer, racing a rebalance once per fetched batch instead of once per message.

faust's consumer loop (`Consumer._drain_messages`) hands each fetched message to the conductor
inside `wait_first(callback(message), suspend_flow.wait())`, so that a rebalance (which sets
`suspend_flow`) can interrupt a delivery blocked on flow control: four tasks and an
`asyncio.wait` for every message. This consumer makes the same race once per fetch: the fetched
messages are delivered in one task, which a rebalance cancels the same way.

Everything else is faust's: messages go to the conductor one by one, in the same order, with
the same read-offset and gap bookkeeping; offsets are acknowledged by the agents after their
batch is written and committed by faust; a revocation waits for the streams to empty and
commits first; the partitions kept are sought back to their committed offsets before the flow
resumes, so the part of a batch a rebalance cut short is fetched again.

`_drain_messages` follows faust-streaming's own, pinned in requirements/runtime.txt; a unit test
(tests/unit/test_batch_consumer.py) fails when the upstream method changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka
from faust.types import TP, AppT, Message
from mode import Service, ServiceT

__all__ = ["BatchRacingConsumer", "Transport", "use_batch_racing_consumer"]

FETCH_TIMEOUT = 1.0  # seconds a fetch waits for records, as in faust
YIELD_EVERY = 100  # deliveries between two yields to the loop, as in faust

Fetched = tuple[TP, Message]


class BatchRacingConsumer(aiokafka.Consumer):
    """The aiokafka consumer of faust, delivering each fetch in one task."""

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """The fetch loop the Fetcher service runs until the consumer or the fetcher stops."""
        fetcher_stopped = cast(Service, fetcher)._stopped.is_set
        try:
            while not (self._stopped.is_set() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                await self._drain_one_fetch()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _drain_one_fetch(self) -> None:
        """Fetch (never interrupted, as in faust), then deliver what came, raced with a rebalance."""
        records = self.getmany(timeout=FETCH_TIMEOUT)
        await self.sleep(0)  # a fetch can come back at once, again and again
        if self.should_stop:
            return
        first = await anext(records, None)
        if first is not None:
            await self.wait_first(self._deliver(first, records), self.suspend_flow.wait())

    async def _deliver(self, first: Fetched, rest: AsyncIterator[Fetched]) -> None:
        await self._deliver_one(*first)
        delivered = 1
        async for tp, message in rest:
            delivered += 1
            if not delivered % YIELD_EVERY:
                await asyncio.sleep(0)  # let the streams take what was delivered
            await self._deliver_one(tp, message)

    async def _deliver_one(self, tp: TP, message: Message) -> None:
        """faust's step for one message: skip what was read, note a gap, commit every N acks."""
        offset = message.offset
        read = self._read_offset[tp]
        if read is not None and offset < read:
            self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
            return
        if read and offset - read > 1 and self.app.topics.acks_enabled_for(message.topic):
            await self._add_gap(tp, read + 1, offset)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await asyncio.shield(self.commit())  # faust commits outside the race: never cut short
        await self.callback(message)
        self._read_offset[tp] = offset


class Transport(aiokafka.Transport):
    """faust's aiokafka transport with the batch-racing consumer."""

    Consumer = BatchRacingConsumer


def use_batch_racing_consumer(app: AppT) -> None:
    """Give the app the batch-racing consumer; call before anything asks for its consumer."""
    app.transport = Transport(app.conf.broker_consumer, app)
