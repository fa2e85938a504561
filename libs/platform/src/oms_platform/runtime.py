"""FastStream wiring of the consumer runtime: manual acks, raw bytes, one group per consumer."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from oms_platform import deadletters
from oms_platform.consumer import Delivery, MessageProcessor, Outcome, Subscription, producer_sink
from oms_platform.eventstore.postgres import PostgresEventStore
from oms_platform.health import Health
from oms_platform.logging import get_logger
from oms_platform.relay import create_producer
from oms_platform.settings import RetrySettings

log = get_logger(__name__)

DLQ_VALUE_LIMIT = 512 * 1024
"""The largest value copied whole to a dead-letter topic (the broker takes about 1 MiB)."""


async def _raw_body(message: Any) -> Any:
    # Hand the handler the bytes untouched: decoding is the processor's job, so that bad
    # JSON becomes a dead letter instead of an error inside FastStream.
    return message.body


class ConsumerRuntime:
    """Subscriptions of one service on one FastStream ``KafkaBroker``.

    Every subscriber uses ``AckPolicy.MANUAL``: FastStream's default for Kafka commits
    before the handler runs (at-most-once). Here the offset is committed only after the
    processor returns, that is after the unit of work committed or the message was
    acknowledged by the dead-letter topic. If even the dead-letter publish fails, the
    consumer seeks back to the message and it is delivered again.
    """

    def __init__(
        self,
        *,
        service: str,
        bootstrap: str,
        store: PostgresEventStore,
        retry: RetrySettings | None = None,
        broker: KafkaBroker | None = None,
        health: Health | None = None,
    ) -> None:
        self.service = service
        self.bootstrap = bootstrap
        self.store = store
        self.broker = broker or KafkaBroker(bootstrap, client_id=f"oms-{service}")
        # aiokafka clients need a running event loop: the producer is made in start().
        self._dlq_producer: Any = None
        self.health = health or Health()
        self.processor = MessageProcessor(store, self._dead_letter, retry=retry, health=self.health)
        self.subscriptions: list[Subscription] = []
        self._subscribers: dict[str, Any] = {}
        self._done: dict[tuple[str, int], int] = {}  # next offset to handle, per partition

    def subscribe(self, sub: Subscription) -> None:
        processor = self.processor

        async def on_message(body: bytes, msg: KafkaMessage) -> None:
            record = msg.raw_message
            assert not isinstance(record, tuple)
            delivery = Delivery(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=body,
                headers=list(record.headers or ()),
            )
            try:
                await processor.process(sub, delivery)
            except Exception:
                # The processor handles every failure itself; should something still get
                # here, leave the offset alone and read the message again after a pause.
                log.exception(
                    "consumer.delivery_failed",
                    consumer=sub.consumer,
                    topic=record.topic,
                    offset=record.offset,
                )
                await asyncio.sleep(1.0)
                await msg.nack()
                return
            await msg.ack()
            self._done[(record.topic, record.partition)] = record.offset + 1

        subscriber = self.broker.subscriber(
            *sub.topics,
            group_id=f"{self.service}.{sub.consumer}",
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            decoder=_raw_body,
        )
        subscriber(on_message)
        self._subscribers[sub.consumer] = subscriber
        self.subscriptions.append(sub)

    async def lag(self) -> dict[str, int | None]:
        """Messages behind the newest known offset, per subscription (None: not assigned).

        The high watermark of the last fetch minus the next offset this runtime has to
        handle: no request to the broker, so a health check never waits on it.
        """
        lags: dict[str, int | None] = {}
        for name, subscriber in self._subscribers.items():
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                lags[name] = None
                continue
            total = 0
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                # What was handled, not what was fetched: a consumer stuck on a message
                # has fetched the ones behind it too.
                position = self._done.get((tp.topic, tp.partition))
                if position is None:
                    try:
                        position = await asyncio.wait_for(consumer.position(tp), 0.2)
                    except Exception:
                        position = None
                if high is not None and position is not None:
                    total += max(0, high - position)
            lags[name] = total
        return lags

    async def _dead_letter(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        """Publish to the dead-letter topic, then record it for ``oms dlq`` (both or retry)."""
        if self._dlq_producer is None:
            raise RuntimeError("ConsumerRuntime.start() was not called")
        copy, copy_headers = value, headers
        if len(value) > DLQ_VALUE_LIMIT:
            # A message too large for the broker (it came in compressed) cannot be copied
            # whole: the topic gets its head and the reason, the table keeps all of it.
            copy = value[:DLQ_VALUE_LIMIT]
            copy_headers = [*headers, ("dlq.truncated_from", str(len(value)).encode())]
        await producer_sink(self._dlq_producer)(topic, key, copy, copy_headers)
        original = dict((k, v.decode(errors="replace")) for k, v in headers)
        async with self.store.connection() as conn:
            await deadletters.record_dead_letter(
                conn,
                consumer=original.get("dlq.consumer", "?"),
                topic=original.get("dlq.original_topic", topic),
                partition=int(original.get("dlq.original_partition", -1)),
                offset=int(original.get("dlq.original_offset", -1)),
                key=key,
                value=value,
                headers=headers,
            )

    async def replay_requested(self) -> int:
        """Run the dead letters ``oms dlq replay`` asked for through their consumer again.

        The inbox makes this idempotent: a message whose effects already happened (or
        that is replayed twice) is a duplicate, not a second effect.
        """
        subs = {s.consumer: s for s in self.subscriptions}
        if not subs:
            return 0
        async with self.store.connection() as conn:
            rows = await deadletters.requested_replays(conn, list(subs))
        for row in rows:
            delivery = Delivery(
                row.topic, row.partition, row.offset, row.key, row.value, row.headers
            )
            outcome = await self.processor.process(subs[row.consumer], delivery)
            log.info("dlq.replayed", consumer=row.consumer, id=row.id, outcome=outcome.value)
            if outcome is not Outcome.DEAD_LETTERED:
                async with self.store.connection() as conn:
                    await deadletters.mark_replayed(conn, row.id, outcome.value)
        return len(rows)

    async def run_replays(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """Pick up replay requests until ``stop`` (a cheap query a second when idle)."""
        status = self.health.loop("dlq-replay")
        while not stop.is_set():
            await self.replay_requested()
            status.ok()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle_s)

    async def start(self) -> None:
        self._dlq_producer = create_producer(self.bootstrap)
        await self._dlq_producer.start()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        if self._dlq_producer is not None:
            await self._dlq_producer.stop()
            self._dlq_producer = None
