"""The outbox relay: publishes a service's events table to Kafka in commit order.

The events table is the outbox. One relay per service holds a PostgreSQL advisory lock
(the lease) on a connection of its own; a second relay waits as a standby and takes over
when the first one's connection goes. Each batch is sent with an idempotent producer
(``acks=all``) and the checkpoint moves only after the broker acknowledged every message,
so a crash republishes at most the last batch: at-least-once, in order per key, with the
event id in the headers for consumers to drop duplicates.

The relay never stops for one event: an event the broker will never take (larger than
its message limit, not serialisable) is parked in ``parked_events`` with the reason,
logged as an error and counted in readiness, and publishing goes on with the next one.
A broker that is down is different: nothing is parked, the batch is sent again.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidMessageError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from oms_events.codec import encode_envelope
from oms_events.envelope import Envelope
from oms_events.errors import EventContractError
from oms_platform import deadletters
from oms_platform.eventstore.model import Position, RecordedEvent
from oms_platform.eventstore.postgres import PostgresEventStore, save_checkpoint
from oms_platform.health import LoopStatus, sleep_or_stop
from oms_platform.kafka_client import KafkaConnection
from oms_platform.logging import get_logger
from oms_platform.metrics import ServiceMetrics
from oms_platform.notify import IdleWait, Wakeup

log = get_logger(__name__)


def message_headers(env: Envelope) -> list[tuple[str, bytes]]:
    """Headers every OMS message carries, so routing and dedupe need not parse the body."""
    return [
        ("event_id", str(env.event_id).encode()),
        ("event_type", env.type.encode()),
        ("event_version", str(env.version).encode()),
        ("correlation_id", env.correlation_id.encode()),
        ("producer", env.producer.encode()),
    ]


def create_producer(kafka: KafkaConnection, **overrides: Any) -> AIOKafkaProducer:
    """The idempotent, acks=all producer used for the outbox and the dead-letter topics."""
    options: dict[str, Any] = {
        **kafka.options(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 1 << 20,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


# What the broker or client says about one message that no retry will change.
_UNPUBLISHABLE = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    InvalidMessageError,
    UnsupportedForMessageFormatError,
    EventContractError,
    TypeError,
    ValueError,
)


@dataclass(frozen=True)
class _InFlight:
    """A batch handed to the producer, with each message's delivery future."""

    batch: Sequence[RecordedEvent]
    pending: list[tuple[RecordedEvent, Any]]

    @property
    def last(self) -> Position:
        return self.batch[-1].commit_position


class LeaseLost(Exception):
    """The relay's lease connection went away; another relay may be publishing now."""


class OutboxRelay:
    """Publish everything after the relay's checkpoint, forever, while holding the lease.

    Batches are pipelined: batch N+1 is read while the broker acknowledges batch N; N is
    checkpointed once all of it is acknowledged, and only then is N+1 sent. When a read
    comes back empty the relay waits on ``wakeup`` (a notification of a commit), for at
    most ``idle_poll_s`` (the fallback poll, also used when there is no ``wakeup``).
    """

    def __init__(
        self,
        store: PostgresEventStore,
        kafka: KafkaConnection,
        *,
        name: str,
        topic_for: Callable[[Envelope], str],
        dsn: str,
        batch_size: int = 500,
        idle_poll_s: float = 1.0,
        linger_s: float = 0.02,
        wakeup: Wakeup | None = None,
        republish_every_s: float = 5.0,
        status: LoopStatus | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.store = store
        self.kafka = kafka
        self.name = name
        self.topic_for = topic_for
        self.dsn = dsn
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.linger_s = linger_s
        self.wakeup = wakeup
        self.republish_every_s = republish_every_s
        self.checkpoint_name = f"relay:{name}"
        self.published = 0
        self.parked = 0
        self.reads = 0
        """Batches read from the events table (empty ones included): the idle cost."""
        self.status = status or LoopStatus(f"relay:{name}")
        self.metrics = metrics or ServiceMetrics()
        self._lease_key = zlib.crc32(f"oms.relay.{name}".encode())
        self._position: Position | None = None  # cached: only the lease holder moves it

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the lease, then relay until ``stop`` is set or the lease is lost."""
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as lease:
            while not stop.is_set():
                cur = await lease.execute("SELECT pg_try_advisory_lock(%s)", (self._lease_key,))
                row = await cur.fetchone()
                if row and row[0]:
                    break
                self.status.ok()
                self.status.waiting_on = "lease (standby)"
                await sleep_or_stop(stop, 0.5)
            else:
                return
            log.info("relay.lease_acquired", relay=self.name)
            self._position = None  # another relay may have moved it while we waited
            producer = create_producer(self.kafka)
            await producer.start()
            try:
                await self._relay(lease, producer, stop)
            finally:
                await producer.stop()
                if not lease.closed:
                    await lease.execute("SELECT pg_advisory_unlock(%s)", (self._lease_key,))

    async def _relay(
        self, lease: psycopg.AsyncConnection[Any], producer: AIOKafkaProducer, stop: asyncio.Event
    ) -> None:
        waiter = self.wakeup.waiter() if self.wakeup is not None else None
        idle = IdleWait(waiter, self.idle_poll_s)
        next_republish = 0.0
        in_flight: _InFlight | None = None
        while not stop.is_set():
            if self._position is None:
                self._position = await self.store.load_checkpoint(self.checkpoint_name)
            after = in_flight.last if in_flight is not None else self._position
            batch = await self._read(after)
            lease_proven = False
            if in_flight is not None:
                await self._settle(in_flight, lease)
                in_flight = None
                lease_proven = True  # the checkpoint just went through the lease's session
            self.status.ok()
            if not batch:
                if time.monotonic() >= next_republish:
                    await self.republish_requested(producer)
                    next_republish = time.monotonic() + self.republish_every_s
                await idle.wait(stop)
                continue
            idle.found()
            # Checked before every batch: a relay that lost its lease (its connection
            # died with a PostgreSQL restart) must not publish on. A checkpoint saved on
            # the lease's connection a moment ago proves it as well as a query would.
            if not lease_proven:
                await _check_lease(lease)
            in_flight = await self._dispatch(producer, batch)
            if len(batch) < self.batch_size:
                # Not a full batch: let commits gather while the broker acks this one.
                # Reading again at once would publish one commit at a time, and every
                # consumer downstream would then work in batches of one (measured: a
                # third fewer orders/s than with a pause of this size).
                await sleep_or_stop(stop, self.linger_s)
        if in_flight is not None:
            await self._settle(in_flight, lease)

    async def publish_batch(self, producer: AIOKafkaProducer) -> int:
        """Send one batch after the checkpoint; move the checkpoint once all are acked."""
        if self._position is None:
            self._position = await self.store.load_checkpoint(self.checkpoint_name)
        batch = await self._read(self._position)
        if not batch:
            return 0
        await self._settle(await self._dispatch(producer, batch))
        return len(batch)

    async def send(self, producer: AIOKafkaProducer, batch: Sequence[RecordedEvent]) -> None:
        """Send every event of ``batch``; park the ones that can never be published.

        Raises if any other message was not acknowledged; then nothing is checkpointed and
        the batch is sent again (consumers drop the duplicates by event id).
        """
        await self._acknowledged(await self._dispatch(producer, batch))

    async def _read(self, after: Position) -> list[RecordedEvent]:
        self.reads += 1
        return await self.store.read_all(after, limit=self.batch_size)

    async def _dispatch(
        self, producer: AIOKafkaProducer, batch: Sequence[RecordedEvent]
    ) -> _InFlight:
        """Hand every event of ``batch`` to the producer; the broker's acks come later."""
        pending: list[tuple[RecordedEvent, Any]] = []
        for rec in batch:
            try:
                pending.append((rec, await self._send_one(producer, rec)))
            except _UNPUBLISHABLE as err:
                await self._park(rec, err)
        return _InFlight(batch, pending)

    async def _acknowledged(self, in_flight: _InFlight) -> int:
        """Wait for the acks of ``in_flight``; park what the broker refused for good.
        Returns how many the broker took."""
        results = await asyncio.gather(*(f for _, f in in_flight.pending), return_exceptions=True)
        failure: BaseException | None = None
        for (rec, _), result in zip(in_flight.pending, results, strict=True):
            if isinstance(result, _UNPUBLISHABLE):
                await self._park(rec, result)
            elif isinstance(result, BaseException):
                failure = failure or result
        if failure is not None:
            raise failure
        return sum(not isinstance(r, BaseException) for r in results)

    async def _settle(
        self, in_flight: _InFlight, lease: psycopg.AsyncConnection[Any] | None = None
    ) -> None:
        """Checkpoint ``in_flight`` once every message of it is acknowledged (or parked):
        on the lease's connection when there is one (one statement, autocommit), so that
        a relay whose lease died cannot move the checkpoint either."""
        acknowledged = await self._acknowledged(in_flight)
        if lease is not None:
            try:
                await save_checkpoint(lease, self.checkpoint_name, in_flight.last)
            except psycopg.Error as err:
                raise LeaseLost(str(err)) from err
        else:
            async with self.store.unit_of_work() as uow:
                await uow.save_checkpoint(self.checkpoint_name, in_flight.last)
        self._position = in_flight.last
        self.published += len(in_flight.batch)
        self.metrics.relay_published.inc(acknowledged)

    async def _send_one(self, producer: AIOKafkaProducer, rec: RecordedEvent) -> Any:
        env = rec.envelope
        return await producer.send(
            self.topic_for(env),
            value=encode_envelope(env),
            key=env.correlation_id.encode(),
            headers=message_headers(env),
        )

    async def _park(self, rec: RecordedEvent, err: BaseException) -> None:
        reason = f"{type(err).__name__}: {err}"
        env = rec.envelope
        async with self.store.connection() as conn:
            await deadletters.park_event(
                conn,
                position=rec.position,
                tx_id=rec.commit_position.tx_id,
                event_id=str(env.event_id),
                stream_id=env.stream_id,
                type_=env.type,
                reason=reason,
                relay=self.name,
            )
        self.parked += 1
        self.metrics.relay_parked.inc()
        log.error(
            "relay.event_parked",
            relay=self.name,
            position=rec.position,
            event_type=env.type,
            event_id=str(env.event_id),
            reason=reason[:300],
        )

    async def republish_requested(self, producer: AIOKafkaProducer) -> int:
        """Try again the parked events ``oms dlq replay`` asked for (out of their order)."""
        async with self.store.connection() as conn:
            cur = await conn.execute(
                "SELECT position FROM parked_events WHERE relay = %s AND published_at IS NULL "
                "AND replay_requested_at IS NOT NULL ORDER BY position LIMIT 100",
                (self.name,),
            )
            positions = [int(r[0]) for r in await cur.fetchall()]
        done = 0
        for position in positions:
            rec = await self.store.read_position(position)
            try:
                if rec is None:
                    raise LookupError(f"no event at position {position}")
                await (await self._send_one(producer, rec))
            except (*_UNPUBLISHABLE, LookupError) as err:
                async with self.store.connection() as conn:
                    await conn.execute(
                        "UPDATE parked_events SET replay_requested_at = NULL, reason = %s, "
                        "parked_at = now() WHERE position = %s",
                        (f"{type(err).__name__}: {err}"[:1000], position),
                    )
                continue
            async with self.store.connection() as conn:
                await conn.execute(
                    "UPDATE parked_events SET published_at = now() WHERE position = %s",
                    (position,),
                )
            done += 1
        return done


async def _check_lease(lease: psycopg.AsyncConnection[Any]) -> None:
    try:
        await lease.execute("SELECT 1")
    except psycopg.Error as err:
        raise LeaseLost(str(err)) from err
