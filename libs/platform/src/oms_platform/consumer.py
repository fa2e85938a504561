"""The consumer runtime: one Kafka message, one unit of work, then the offset commit.

For every message: decode the envelope and parse its contract (poison goes straight to
the dead-letter topic), skip it if this consumer's inbox already holds its event id, run
the handler and record the inbox row in the same transaction as the handler's effects,
then commit the offset. Transient errors are retried in place with bounded backoff (the
partition waits, so per-order ordering holds); a message that keeps failing is
dead-lettered with the reason, original topic, partition, offset and attempt count in its
headers. Nothing escapes the loop: a consumer never dies on one bad message, and an
offset is committed only once the work is done or the message is safely in the DLQ.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from oms_events.base import Event
from oms_events.codec import decode_envelope
from oms_events.envelope import Envelope
from oms_events.errors import EventContractError
from oms_events.registry import Registry
from oms_events.registry import registry as default_registry
from oms_events.topics import dlq
from oms_platform.eventstore.base import DuplicateDelivery, EventStore, UnitOfWork
from oms_platform.eventstore.model import ConcurrencyConflict
from oms_platform.logging import event_context, get_logger
from oms_platform.settings import RetrySettings

log = get_logger(__name__)

Handler = Callable[[UnitOfWork, Envelope, Event], Awaitable[None]]
Headers = list[tuple[str, bytes]]

# Optimistic-concurrency conflicts are the normal price of contention, not failures:
# they get many more quick retries than other errors before anything is dead-lettered.
MAX_CONFLICT_RETRIES = 100


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed: dead-letter it now."""


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # a valid event this subscription has no handler for
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A Kafka record as the runtime needs it, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)


class DeadLetterSink(Protocol):
    async def __call__(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        """Publish and wait for the broker's acknowledgement; raise if it did not come."""


@dataclass
class Subscription:
    """A named consumer (its own group and inbox) with one handler per event type."""

    consumer: str
    topics: tuple[str, ...]
    handlers: Mapping[str, Handler]


class MessageProcessor:
    """The delivery guarantees, free of Kafka client details so they can be tested alone."""

    def __init__(
        self,
        store: EventStore,
        dead_letter: DeadLetterSink,
        *,
        registry: Registry = default_registry,
        retry: RetrySettings | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.dead_letter = dead_letter
        self.registry = registry
        self.retry = retry or RetrySettings()
        self.sleep = sleep

    async def process(self, sub: Subscription, delivery: Delivery) -> Outcome:
        try:
            env = decode_envelope(delivery.value)
            handler = sub.handlers.get(env.type)
            event = self.registry.parse(env)
        except EventContractError as err:
            await self._dead_letter(sub, delivery, err.code, err.reason, attempts=1)
            return Outcome.DEAD_LETTERED
        if handler is None:
            return Outcome.IGNORED
        with event_context(env):
            return await self._handle(sub, delivery, env, event, handler)

    async def _handle(
        self, sub: Subscription, delivery: Delivery, env: Envelope, event: Event, handler: Handler
    ) -> Outcome:
        attempt = 0
        conflicts = 0
        while True:
            attempt += 1
            try:
                async with self.store.unit_of_work() as uow:
                    if await uow.already_processed(sub.consumer, env.event_id):
                        log.info("consumer.duplicate", consumer=sub.consumer)
                        return Outcome.DUPLICATE
                    await handler(uow, env, event)
                    await uow.mark_processed(sub.consumer, env.event_id)
                return Outcome.HANDLED
            except DuplicateDelivery:
                return Outcome.DUPLICATE
            except ConcurrencyConflict as err:
                conflicts += 1
                attempt -= 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    reason = f"gave up after {conflicts} concurrency conflicts: {err}"
                    await self._dead_letter(sub, delivery, "conflict", reason, attempt + 1)
                    return Outcome.DEAD_LETTERED
                await self.sleep(random.uniform(0.001, 0.005 * min(conflicts, 20)))
            except (PermanentError, EventContractError) as err:
                await self._dead_letter(sub, delivery, "rejected", _reason(err), attempt)
                return Outcome.DEAD_LETTERED
            except Exception as err:
                if attempt >= self.retry.max_attempts:
                    log.error(
                        "consumer.giving_up",
                        consumer=sub.consumer,
                        attempts=attempt,
                        error=_reason(err),
                    )
                    await self._dead_letter(sub, delivery, "handler_failed", _reason(err), attempt)
                    return Outcome.DEAD_LETTERED
                log.warning(
                    "consumer.retrying", consumer=sub.consumer, attempt=attempt, error=_reason(err)
                )
                await self.sleep(self.retry.backoff(attempt))

    async def _dead_letter(
        self, sub: Subscription, d: Delivery, code: str, reason: str, attempts: int
    ) -> None:
        headers = [(k, v) for k, v in d.headers if not k.startswith("dlq.")]
        headers += [
            ("dlq.error_code", code.encode()),
            ("dlq.reason", reason[:1000].encode()),
            ("dlq.original_topic", d.topic.encode()),
            ("dlq.original_partition", str(d.partition).encode()),
            ("dlq.original_offset", str(d.offset).encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.consumer", sub.consumer.encode()),
        ]
        await self.dead_letter(dlq(d.topic), d.key, d.value, headers)
        log.warning(
            "consumer.dead_lettered",
            consumer=sub.consumer,
            topic=d.topic,
            offset=d.offset,
            code=code,
            reason=reason,
        )


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def header_value(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode()
    return None


def producer_sink(producer: Any) -> DeadLetterSink:
    """A dead-letter sink on an (idempotent, acks=all) aiokafka producer."""

    async def publish(topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)

    return publish
