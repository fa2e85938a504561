"""Batches: one unit of work per partition fetch, one by one when the batch fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from oms_events.base import Event
from oms_events.codec import encode_envelope
from oms_events.contracts import OrderPlaced
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_platform.consumer import Delivery, Headers, MessageProcessor, Outcome, Subscription
from oms_platform.eventstore import InMemoryEventStore, UnitOfWork
from oms_platform.refusal import Refusal
from oms_platform.settings import RetrySettings
from oms_platform.testing.builders import envelope
from oms_platform.testing.keys import TEST_CHAIN_KEY

TOPIC = "oms.order.events"


class CountingStore(InMemoryEventStore):
    """The fake store, counting the units of work begun and committed."""

    def __init__(self) -> None:
        super().__init__(TEST_CHAIN_KEY)
        self.begun = 0
        self.committed = 0

    @asynccontextmanager
    async def unit_of_work(self, *, deferred: bool = False) -> AsyncIterator[Any]:
        self.begun += 1
        async with super().unit_of_work(deferred=deferred) as uow:
            yield uow
        self.committed += 1


class Sink:
    def __init__(self, store: InMemoryEventStore) -> None:
        self.store = store
        self.messages: list[tuple[str, bytes]] = []
        self.effects_before: list[int] = []

    async def __call__(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        self.messages.append((topic, value))
        self.effects_before.append(len(await self.store.read_all()))


def placed(order_id: str) -> Envelope:
    return envelope_for(
        example(OrderPlaced),
        stream_id=f"order-{order_id}",
        stream_version=1,
        correlation_id=order_id,
        causation_id=None,
        actor="platform:web",
        producer="order",
    )


def deliver(env: Envelope, offset: int, *, type_: str = "OrderPlaced") -> Delivery:
    headers = [("event_id", str(env.event_id).encode()), ("event_type", type_.encode())]
    return Delivery(TOPIC, 0, offset, env.correlation_id.encode(), encode_envelope(env), headers)


async def effect(uow: UnitOfWork, env: Envelope, event: Event) -> None:
    stream = f"effects-{env.correlation_id}"
    current = await uow.read_stream(stream)
    await uow.append([envelope(stream, len(current) + 1)])


def make(
    handler: Any = effect, *, batch: bool = True
) -> tuple[MessageProcessor, Subscription, Sink, CountingStore]:
    store = CountingStore()
    sink = Sink(store)

    async def no_sleep(_: float) -> None:
        return None

    retry = RetrySettings(max_attempts=2, initial_backoff_s=0.01)
    proc = MessageProcessor(store, sink, retry=retry, sleep=no_sleep)
    return proc, Subscription("c", (TOPIC,), {"OrderPlaced": handler}, batch=batch), sink, store


async def effects(store: InMemoryEventStore, order_id: str) -> int:
    return len(await store.read_stream(f"effects-{order_id}"))


async def test_a_batch_is_one_unit_of_work_with_duplicates_and_skips_inside() -> None:
    proc, sub, sink, store = make()
    orders = [placed(f"o{i}") for i in range(5)]
    skipped = placed("skip")
    batch = [deliver(env, i) for i, env in enumerate(orders)]
    batch.append(deliver(orders[0], 5))  # redelivered inside the same fetch
    batch.append(deliver(skipped, 6, type_="OrderConfirmed"))  # not this consumer's type
    outcomes = await proc.process_batch(sub, batch)
    assert outcomes == [Outcome.HANDLED] * 5 + [Outcome.DUPLICATE, Outcome.IGNORED]
    assert store.begun == store.committed == 1
    assert [await effects(store, f"o{i}") for i in range(5)] == [1] * 5
    assert await effects(store, "skip") == 0 and sink.messages == []
    # The same fetch again (a restart before the offset commit): nothing happens twice.
    assert await proc.process_batch(sub, batch[:5]) == [Outcome.DUPLICATE] * 5
    assert [await effects(store, f"o{i}") for i in range(5)] == [1] * 5


async def test_a_refusal_in_a_batch_runs_the_rest_one_by_one_and_applies_each_once() -> None:
    async def refuse_o2(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        await effect(uow, env, event)
        if env.correlation_id == "o2":
            raise Refusal("not_today", "o2 is refused")

    proc, sub, sink, store = make(refuse_o2)
    outcomes = await proc.process_batch(sub, [deliver(placed(f"o{i}"), i) for i in range(4)])
    assert outcomes == [Outcome.HANDLED, Outcome.HANDLED, Outcome.DEAD_LETTERED, Outcome.HANDLED]
    # The failed batch kept nothing: the others were applied once, o2 not at all.
    assert [await effects(store, f"o{i}") for i in range(4)] == [1, 1, 0, 1]
    assert [topic for topic, _ in sink.messages] == [f"{TOPIC}.dlq"]
    assert store.begun == 1 + 4 and store.committed == 3


async def test_a_poison_message_is_dead_lettered_after_what_came_before_it() -> None:
    proc, sub, sink, store = make()
    good = [deliver(placed(f"o{i}"), i) for i in range(4)]
    poison = replace(good[2], value=b"{not json", offset=2)
    outcomes = await proc.process_batch(sub, [good[0], good[1], poison, good[3]])
    assert outcomes == [Outcome.HANDLED, Outcome.HANDLED, Outcome.DEAD_LETTERED, Outcome.HANDLED]
    # Order holds: when the poison reached the dead-letter topic, o0 and o1 were applied
    # and o3 was not yet.
    assert sink.effects_before == [2]
    assert [await effects(store, f"o{i}") for i in (0, 1, 3)] == [1, 1, 1]
    assert store.committed == 2


async def test_a_subscription_without_batches_gets_a_unit_of_work_per_message() -> None:
    proc, sub, _, store = make(batch=False)
    outcomes = await proc.process_batch(sub, [deliver(placed(f"o{i}"), i) for i in range(3)])
    assert outcomes == [Outcome.HANDLED] * 3
    assert store.begun == store.committed == 3


async def test_a_failing_database_in_a_batch_is_waited_out_one_by_one() -> None:
    failures = 0

    async def blink_once(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        nonlocal failures
        await effect(uow, env, event)
        if failures < 1:
            failures += 1
            raise ConnectionError("database restarting")

    proc, sub, sink, store = make(blink_once)
    outcomes = await proc.process_batch(sub, [deliver(placed(f"o{i}"), i) for i in range(3)])
    assert outcomes == [Outcome.HANDLED] * 3
    assert [await effects(store, f"o{i}") for i in range(3)] == [1, 1, 1]
    assert sink.messages == []
