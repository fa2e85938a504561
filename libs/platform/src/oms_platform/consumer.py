"""The consumer runtime: one Kafka message, one unit of work, then the offset commit.

For every message: skip it when its ``event_type`` header names a type this subscription
does not handle; decode the envelope and parse its contract; skip it if this consumer's
inbox already holds its event id; run the handler and record the inbox row in the same
transaction as the handler's effects; then the offset is committed. A failure is handled
by its class (``oms_platform.failures``):

* poison (undecodable, any error while parsing, a contract violation, a ``Refusal``) is
  dead-lettered at once;
* infrastructure (database or broker unreachable, a provider timeout) is retried in place
  with capped backoff for as long as it takes: the partition waits, nothing is
  dead-lettered or committed, and the consumer's health says what it waits on;
* anything else (a bug) is retried ``max_attempts`` times, then dead-lettered.

Dead letters carry the reason, class, original topic, partition, offset and attempt count
in their headers. Nothing escapes the loop, and an offset is committed only once the work
is done or the message is safely dead-lettered.
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
from oms_platform.failures import FailureClass, classify
from oms_platform.health import Health, LoopStatus
from oms_platform.logging import event_context, get_logger
from oms_platform.metrics import ServiceMetrics
from oms_platform.settings import RetrySettings

log = get_logger(__name__)

Handler = Callable[[UnitOfWork, Envelope, Event], Awaitable[None]]
Headers = list[tuple[str, bytes]]

# Optimistic-concurrency conflicts are the normal price of contention, not failures:
# they get many more quick retries than other errors before anything is dead-lettered.
MAX_CONFLICT_RETRIES = 100
BATCH_CONFLICT_RETRIES = 3
"""Further tries of a whole batch after a conflict, before it runs one by one."""


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
    """A named consumer (its own group and inbox) with one handler per event type.

    ``batch``: the messages of one fetch from one partition are applied in one unit of
    work (see :meth:`MessageProcessor.process_batch`). Turn it off for handlers that call
    out of the process (a payment provider): a batch must not hold a transaction open
    across such calls, and a failed batch runs its messages again one by one.

    ``exclusive``: its batches run one at a time in the process, also against the other
    exclusive subscriptions, instead of one per partition at once. For handlers that
    write streams shared across keys (a SKU's stock is written for every order that
    holds it): two such batches at once would lock those streams in different orders
    and deadlock, or conflict and end up one by one.
    """

    consumer: str
    topics: tuple[str, ...]
    handlers: Mapping[str, Handler]
    batch: bool = True
    exclusive: bool = False


@dataclass(frozen=True, slots=True)
class _Work:
    """A parsed message waiting for its handler."""

    index: int
    delivery: Delivery
    envelope: Envelope
    event: Event
    handler: Handler


@dataclass(frozen=True, slots=True)
class _Poison:
    code: str
    reason: str


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
        health: Health | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.store = store
        self.dead_letter = dead_letter
        self.registry = registry
        self.retry = retry or RetrySettings()
        self.sleep = sleep
        self.health = health or Health()
        self.metrics = metrics or ServiceMetrics()
        self._known = frozenset(registry.types())

    def status(self, sub: Subscription) -> LoopStatus:
        return self.health.loop(f"consumer:{sub.consumer}")

    async def process(self, sub: Subscription, delivery: Delivery) -> Outcome:
        """Handle one message by itself (in a unit of work of its own)."""
        outcome = await self._process(sub, delivery)
        self.metrics.consumer_events.labels(sub.consumer, outcome.value).inc()
        return outcome

    async def _process(self, sub: Subscription, delivery: Delivery) -> Outcome:
        parsed = self._parse(sub, 0, delivery)
        if isinstance(parsed, Outcome):
            return parsed
        if isinstance(parsed, _Poison):
            await self._dead_letter(
                sub, delivery, parsed.code, parsed.reason, 1, FailureClass.POISON
            )
            return Outcome.DEAD_LETTERED
        with event_context(parsed.envelope):
            return await self._handle(sub, delivery, parsed.envelope, parsed.event, parsed.handler)

    async def process_batch(
        self, sub: Subscription, deliveries: Sequence[Delivery]
    ) -> list[Outcome]:
        """Handle the messages of one partition, in their order, with as few transactions
        as the guarantees allow.

        Messages skipped from their header cost nothing. The others run in one unit of
        work: one inbox query for the batch, every handler, one inbox insert for all. If
        anything in it fails (a concurrency conflict, a refusal, a duplicate, the
        database), nothing of it is kept and its messages run again one by one through
        :meth:`process`'s path, where each failure gets its class. A poison message ends
        the batch before it (applied first, so the order holds) and is dead-lettered.
        """
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        pending: list[_Work] = []
        for index, delivery in enumerate(deliveries):
            parsed = self._parse(sub, index, delivery)
            if isinstance(parsed, _Work):
                pending.append(parsed)
                continue
            if isinstance(parsed, _Poison):
                await self._apply(sub, pending, outcomes)
                pending = []
                await self._dead_letter(
                    sub, delivery, parsed.code, parsed.reason, 1, FailureClass.POISON
                )
                parsed = Outcome.DEAD_LETTERED
            outcomes[index] = parsed
        await self._apply(sub, pending, outcomes)
        assert all(o is not None for o in outcomes)
        done = [o for o in outcomes if o is not None]
        for outcome in Outcome:
            if found := done.count(outcome):
                self.metrics.consumer_events.labels(sub.consumer, outcome.value).inc(found)
        return done

    def _parse(
        self, sub: Subscription, index: int, delivery: Delivery
    ) -> _Work | _Poison | Outcome:
        # A known type this subscription does not handle is not its business: skipped from
        # the header without parsing. An unknown type is poison (a producer's typo on the
        # ingress topic must not vanish), so it is parsed and dead-lettered.
        declared = header_value(delivery.headers, "event_type")
        if declared is not None and declared not in sub.handlers and declared in self._known:
            return Outcome.IGNORED
        try:
            env = decode_envelope(delivery.value)
            handler = sub.handlers.get(env.type)
            if handler is None and env.type in self._known:
                return Outcome.IGNORED
            event = self.registry.parse(env)
            if handler is None:
                return Outcome.IGNORED
        except Exception as err:  # anything raised while decoding or parsing is poison
            code = err.code if isinstance(err, EventContractError) else "malformed_message"
            return _Poison(code, _reason(err))
        return _Work(index, delivery, env, event, handler)

    async def _apply(
        self, sub: Subscription, work: Sequence[_Work], outcomes: list[Outcome | None]
    ) -> None:
        if len(work) > 1 and sub.batch:
            # A conflict is the price of contention (another process wrote one of the
            # streams first): the batch is worth a few more tries on fresh state.
            for attempt in range(1, BATCH_CONFLICT_RETRIES + 2):
                failure = await self._apply_together(sub, work, outcomes)
                if failure is None:
                    return
                if not isinstance(failure, ConcurrencyConflict):
                    break
                await self.sleep(random.uniform(0.001, 0.01 * attempt))
        for w in work:
            with event_context(w.envelope):
                outcomes[w.index] = await self._handle(
                    sub, w.delivery, w.envelope, w.event, w.handler
                )

    async def _apply_together(
        self, sub: Subscription, work: Sequence[_Work], outcomes: list[Outcome | None]
    ) -> Exception | None:
        """One unit of work for all of ``work``; the failure (nothing kept) if it failed."""
        found: dict[int, Outcome] = {}
        try:
            async with self.store.unit_of_work(deferred=True) as uow:
                ids = list(dict.fromkeys(w.envelope.event_id for w in work))
                fresh = await uow.claim(sub.consumer, ids)
                for w in work:
                    event_id = w.envelope.event_id
                    if event_id not in fresh:
                        found[w.index] = Outcome.DUPLICATE
                        continue
                    fresh.discard(event_id)  # the same event twice in one batch: once
                    with event_context(w.envelope):
                        await w.handler(uow, w.envelope, w.event)
                    found[w.index] = Outcome.HANDLED
        except Exception as err:
            log.debug(
                "consumer.batch_failed", consumer=sub.consumer, size=len(work), error=_reason(err)
            )
            return err
        for index, outcome in found.items():
            outcomes[index] = outcome
        self.status(sub).ok()
        return None

    async def _handle(
        self, sub: Subscription, delivery: Delivery, env: Envelope, event: Event, handler: Handler
    ) -> Outcome:
        attempt = 0  # failed attempts that count towards the bug limit
        conflicts = 0
        waits = 0
        status = self.status(sub)
        while True:
            try:
                async with self.store.unit_of_work() as uow:
                    if not await uow.claim(sub.consumer, [env.event_id]):
                        log.debug("consumer.duplicate", consumer=sub.consumer)
                        status.ok()
                        return Outcome.DUPLICATE
                    await handler(uow, env, event)
                status.ok()
                return Outcome.HANDLED
            except DuplicateDelivery:
                status.ok()
                return Outcome.DUPLICATE
            except ConcurrencyConflict as err:
                conflicts += 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    reason = f"gave up after {conflicts} concurrency conflicts: {err}"
                    await self._dead_letter(
                        sub, delivery, "conflict", reason, attempt + conflicts, FailureClass.BUG
                    )
                    return Outcome.DEAD_LETTERED
                self.metrics.consumer_retries.labels(sub.consumer, "conflict").inc()
                await self.sleep(random.uniform(0.001, 0.005 * min(conflicts, 20)))
            except Exception as err:
                kind = classify(err)
                if kind is FailureClass.POISON:
                    code = getattr(err, "code", None) or "rejected"
                    await self._dead_letter(
                        sub, delivery, str(code), _reason(err), attempt + 1, kind
                    )
                    return Outcome.DEAD_LETTERED
                if kind is FailureClass.INFRASTRUCTURE:
                    waits += 1
                    status.failing(err, waiting_on="infrastructure")
                    if waits == 1 or waits % 20 == 0:
                        log.warning(
                            "consumer.waiting_for_infrastructure",
                            consumer=sub.consumer,
                            waits=waits,
                            error=_reason(err)[:300],
                        )
                    self.metrics.consumer_retries.labels(sub.consumer, "infrastructure").inc()
                    await self.sleep(self.retry.backoff(waits))
                    continue
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    log.error(
                        "consumer.giving_up",
                        consumer=sub.consumer,
                        attempts=attempt,
                        error=_reason(err),
                    )
                    await self._dead_letter(
                        sub, delivery, "handler_failed", _reason(err), attempt, kind
                    )
                    return Outcome.DEAD_LETTERED
                log.warning(
                    "consumer.retrying", consumer=sub.consumer, attempt=attempt, error=_reason(err)
                )
                self.metrics.consumer_retries.labels(sub.consumer, "error").inc()
                await self.sleep(self.retry.backoff(attempt))

    async def _dead_letter(
        self,
        sub: Subscription,
        d: Delivery,
        code: str,
        reason: str,
        attempts: int,
        kind: FailureClass,
    ) -> None:
        headers = [(k, v) for k, v in d.headers if not k.startswith("dlq.")]
        headers += [
            ("dlq.error_code", code.encode()),
            ("dlq.reason", reason[:1000].encode()),
            ("dlq.failure_class", kind.value.encode()),
            ("dlq.original_topic", d.topic.encode()),
            ("dlq.original_partition", str(d.partition).encode()),
            ("dlq.original_offset", str(d.offset).encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.consumer", sub.consumer.encode()),
        ]
        status = self.status(sub)
        waits = 0
        # The dead-letter topic (and log) being unreachable is itself infrastructure:
        # wait for it rather than commit an offset for a message that is nowhere.
        while True:
            try:
                await self.dead_letter(dlq(d.topic), d.key, d.value, headers)
                break
            except Exception as err:
                waits += 1
                status.failing(err, waiting_on="dead-letter topic")
                if waits == 1 or waits % 20 == 0:
                    log.warning("consumer.dead_letter_failed", error=_reason(err)[:300])
                await self.sleep(self.retry.backoff(waits))
        status.ok()
        self.metrics.dead_letters.labels(sub.consumer, code).inc()
        log.warning(
            "consumer.dead_lettered",
            consumer=sub.consumer,
            topic=d.topic,
            offset=d.offset,
            code=code,
            failure_class=kind.value,
            reason=reason[:300],
        )


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def header_value(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None


def producer_sink(producer: Any) -> DeadLetterSink:
    """A dead-letter sink on an (idempotent, acks=all) aiokafka producer."""

    async def publish(topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)

    return publish
