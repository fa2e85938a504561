"""FastStream wiring of the consumer runtime: manual acks, raw bytes, one group per consumer."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from oms_platform.consumer import Delivery, MessageProcessor, Subscription, producer_sink
from oms_platform.eventstore.base import EventStore
from oms_platform.logging import get_logger
from oms_platform.relay import create_producer
from oms_platform.settings import RetrySettings

log = get_logger(__name__)


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
        store: EventStore,
        retry: RetrySettings | None = None,
        broker: KafkaBroker | None = None,
    ) -> None:
        self.service = service
        self.bootstrap = bootstrap
        self.broker = broker or KafkaBroker(bootstrap, client_id=f"oms-{service}")
        # aiokafka clients need a running event loop: the producer is made in start().
        self._dlq_producer: Any = None
        self.processor = MessageProcessor(store, self._dead_letter, retry=retry)
        self.subscriptions: list[Subscription] = []

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
                # Only infrastructure failures get here (database down, DLQ unreachable):
                # leave the offset alone and read the message again after a pause.
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

        self.broker.subscriber(
            *sub.topics,
            group_id=f"{self.service}.{sub.consumer}",
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            decoder=_raw_body,
        )(on_message)
        self.subscriptions.append(sub)

    async def _dead_letter(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        if self._dlq_producer is None:
            raise RuntimeError("ConsumerRuntime.start() was not called")
        await producer_sink(self._dlq_producer)(topic, key, value, headers)

    async def start(self) -> None:
        self._dlq_producer = create_producer(self.bootstrap)
        await self._dlq_producer.start()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        if self._dlq_producer is not None:
            await self._dlq_producer.stop()
            self._dlq_producer = None
