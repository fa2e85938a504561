"""Delivery guarantees of the consumer runtime, with the in-memory store and DLQ sink."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from oms_events.base import Event
from oms_events.codec import encode_envelope
from oms_events.contracts import OrderPlaced
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_platform.consumer import (
    Delivery,
    Headers,
    MessageProcessor,
    Outcome,
    Subscription,
    header_value,
)
from oms_platform.eventstore import ConcurrencyConflict, InMemoryEventStore, UnitOfWork
from oms_platform.refusal import Refusal
from oms_platform.settings import RetrySettings
from oms_platform.testing.builders import envelope
from oms_platform.testing.keys import TEST_CHAIN_KEY

TOPIC = "oms.order.events"


class RecordingSink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes | None, bytes, Headers]] = []

    async def __call__(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        self.messages.append((topic, key, value, headers))


async def no_sleep(_: float) -> None:
    return None


def placed(order_id: str = "ord-1") -> Envelope:
    return envelope_for(
        example(OrderPlaced),
        stream_id=f"order-{order_id}",
        stream_version=1,
        correlation_id=order_id,
        causation_id=None,
        actor="platform:web",
        producer="order",
    )


def delivery(env_or_bytes: Envelope | bytes, offset: int = 0) -> Delivery:
    value = env_or_bytes if isinstance(env_or_bytes, bytes) else encode_envelope(env_or_bytes)
    return Delivery(TOPIC, 2, offset, b"ord-1", value, [("event_id", b"x")])


def make(
    handler: Any, *, max_attempts: int = 3
) -> tuple[MessageProcessor, Subscription, RecordingSink, InMemoryEventStore]:
    store = InMemoryEventStore(TEST_CHAIN_KEY)
    sink = RecordingSink()
    retry = RetrySettings(max_attempts=max_attempts, initial_backoff_s=0.01)
    proc = MessageProcessor(store, sink, retry=retry, sleep=no_sleep)
    sub = Subscription("reserve-stock", (TOPIC,), {"OrderPlaced": handler})
    return proc, sub, sink, store


async def append_effect(uow: UnitOfWork, env: Envelope, event: Event) -> None:
    """A handler whose effect is visible: one event on a stream named after the order."""
    current = await uow.read_stream(f"effects-{env.correlation_id}")
    await uow.append([envelope(f"effects-{env.correlation_id}", len(current) + 1)])


async def test_handled_once_however_often_delivered() -> None:
    proc, sub, sink, store = make(append_effect)
    env = placed()
    assert await proc.process(sub, delivery(env, 0)) is Outcome.HANDLED
    assert await proc.process(sub, delivery(env, 7)) is Outcome.DUPLICATE
    assert len(await store.read_stream("effects-ord-1")) == 1
    assert sink.messages == []


async def test_each_consumer_has_its_own_inbox() -> None:
    proc, sub, _, store = make(append_effect)
    env = placed()
    other = Subscription("confirm-order", (TOPIC,), {"OrderPlaced": append_effect})
    assert await proc.process(sub, delivery(env)) is Outcome.HANDLED
    assert await proc.process(other, delivery(env)) is Outcome.HANDLED
    assert len(await store.read_stream("effects-ord-1")) == 2


async def test_transient_failure_is_retried_then_succeeds() -> None:
    calls = 0

    async def flaky(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        nonlocal calls
        calls += 1
        await append_effect(uow, env, event)
        if calls < 3:
            raise ConnectionError("database blinked")

    proc, sub, sink, store = make(flaky, max_attempts=3)
    assert await proc.process(sub, delivery(placed())) is Outcome.HANDLED
    assert calls == 3
    # The failed attempts rolled back: one effect, not three.
    assert len(await store.read_stream("effects-ord-1")) == 1
    assert sink.messages == []


async def test_failing_handler_is_dead_lettered_after_bounded_attempts() -> None:
    calls = 0

    async def broken(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("carrier API exploded")

    proc, sub, sink, store = make(broken, max_attempts=4)
    env = placed()
    assert await proc.process(sub, delivery(env, offset=41)) is Outcome.DEAD_LETTERED
    assert calls == 4
    [(topic, key, value, headers)] = sink.messages
    assert topic == "oms.order.events.dlq"
    assert key == b"ord-1" and value == encode_envelope(env)
    assert header_value(headers, "dlq.original_topic") == TOPIC
    assert header_value(headers, "dlq.original_partition") == "2"
    assert header_value(headers, "dlq.original_offset") == "41"
    assert header_value(headers, "dlq.attempts") == "4"
    assert header_value(headers, "dlq.error_code") == "handler_failed"
    assert "carrier API exploded" in (header_value(headers, "dlq.reason") or "")
    assert header_value(headers, "event_id") == "x"  # original headers are kept
    # Not marked processed: a replay from the DLQ may still apply it.
    async with store.unit_of_work() as uow:
        assert not await uow.already_processed("reserve-stock", env.event_id)


async def test_a_refusal_goes_straight_to_the_dlq_with_its_code() -> None:
    async def refuses(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        raise Refusal("unknown_warehouse", "order references an unknown warehouse")

    proc, sub, sink, _ = make(refuses, max_attempts=5)
    assert await proc.process(sub, delivery(placed())) is Outcome.DEAD_LETTERED
    headers = sink.messages[0][3]
    assert header_value(headers, "dlq.attempts") == "1"
    assert header_value(headers, "dlq.error_code") == "unknown_warehouse"
    assert header_value(headers, "dlq.failure_class") == "poison"


async def test_conflicts_are_retried_without_using_up_attempts() -> None:
    calls = 0

    async def contended(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls <= 10:
            raise ConcurrencyConflict("stock-SKU-1", 3, 4)
        await append_effect(uow, env, event)

    proc, sub, sink, _ = make(contended, max_attempts=2)
    assert await proc.process(sub, delivery(placed())) is Outcome.HANDLED
    assert calls == 11 and sink.messages == []


async def test_poison_messages_go_to_the_dlq_with_the_reason() -> None:
    proc, sub, sink, _ = make(append_effect)
    unknown = envelope("x-1", 1, type="NoSuchEvent")
    bad_version = placed().model_copy(update={"version": 99})
    invalid = placed().model_copy(update={"payload": {"order_id": 5}})
    cases = {
        "malformed_message": b"{not json",
        "unknown_event_type": encode_envelope(unknown),
        "unknown_event_version": encode_envelope(bad_version),
        "contract_violation": encode_envelope(invalid),
    }
    for i, value in enumerate(cases.values()):
        assert await proc.process(sub, delivery(value, offset=i)) is Outcome.DEAD_LETTERED
    codes = [header_value(h, "dlq.error_code") for _, _, _, h in sink.messages]
    assert codes == list(cases)
    assert all(header_value(h, "dlq.attempts") == "1" for _, _, _, h in sink.messages)
    assert all(header_value(h, "dlq.reason") for _, _, _, h in sink.messages)
    # The envelope itself broken (valid JSON, missing fields) is malformed too.
    value = json.dumps({"type": "OrderPlaced"}).encode()
    assert await proc.process(sub, delivery(value)) is Outcome.DEAD_LETTERED
    assert header_value(sink.messages[-1][3], "dlq.error_code") == "malformed_message"


async def test_events_without_a_handler_are_skipped() -> None:
    proc, _, sink, store = make(append_effect)
    sub = Subscription("other", (TOPIC,), {"OrderCancelled": append_effect})
    assert await proc.process(sub, delivery(placed())) is Outcome.IGNORED
    assert sink.messages == [] and await store.read_stream("effects-ord-1") == []


class FlakyDatabase:
    """A handler that fails like an unreachable PostgreSQL ``failures`` times, then works."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self, uow: UnitOfWork, env: Envelope, event: Event) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise psycopg.OperationalError("the database system is starting up")
        await append_effect(uow, env, event)


async def test_infrastructure_failures_are_waited_out_never_dead_lettered() -> None:
    handler = FlakyDatabase(failures=50)  # far more than max_attempts
    proc, sub, sink, store = make(handler, max_attempts=3)
    seen_failing: list[bool] = []

    async def sleep(_: float) -> None:
        seen_failing.append(proc.status(sub).failing_since is not None)

    proc.sleep = sleep
    assert await proc.process(sub, delivery(placed())) is Outcome.HANDLED
    assert sink.messages == [] and handler.calls == 51
    assert len(await store.read_stream("effects-ord-1")) == 1
    # While it waited the consumer said so; once through it is healthy again.
    assert seen_failing and all(seen_failing)
    assert proc.status(sub).failing_since is None


async def test_a_wrapped_connection_error_is_infrastructure_too() -> None:
    calls = 0

    async def handler(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls < 10:
            try:
                raise ConnectionRefusedError("connect call failed")
            except ConnectionRefusedError as err:
                raise RuntimeError("could not reach the provider") from err
        await append_effect(uow, env, event)

    proc, sub, sink, _ = make(handler, max_attempts=2)
    assert await proc.process(sub, delivery(placed())) is Outcome.HANDLED
    assert sink.messages == []


async def test_recursion_in_a_handler_is_poison() -> None:
    async def handler(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    proc, sub, sink, _ = make(handler, max_attempts=5)
    assert await proc.process(sub, delivery(placed())) is Outcome.DEAD_LETTERED
    assert header_value(sink.messages[0][3], "dlq.failure_class") == "poison"


async def test_deeply_nested_and_undecodable_messages_are_dead_lettered() -> None:
    proc, sub, sink, _ = make(append_effect)
    values = [b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00", b"[" * 100_000, b"{}"]
    for offset, value in enumerate(values):
        assert await proc.process(sub, delivery(value, offset)) is Outcome.DEAD_LETTERED
    assert [header_value(h, "dlq.error_code") for *_, h in sink.messages] == [
        "malformed_message"
    ] * len(values)


async def test_a_dead_letter_topic_that_is_down_is_waited_for() -> None:
    attempts = 0

    async def flaky_sink(topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 5:
            raise ConnectionError("broker unreachable")

    store = InMemoryEventStore(TEST_CHAIN_KEY)
    proc = MessageProcessor(store, flaky_sink, sleep=no_sleep)
    sub = Subscription("reserve-stock", (TOPIC,), {"OrderPlaced": append_effect})
    assert await proc.process(sub, delivery(b"not json")) is Outcome.DEAD_LETTERED
    assert attempts == 5


async def test_unknown_types_are_poison_but_known_unhandled_types_are_skipped_unparsed() -> None:
    proc, _, sink, _ = make(append_effect)
    sub = Subscription("other", (TOPIC,), {"OrderCancelled": append_effect})
    # Declared in the header as a known type: skipped without even decoding the body.
    skipped = Delivery(TOPIC, 0, 1, None, b"not even json", [("event_type", b"OrderPlaced")])
    assert await proc.process(sub, skipped) is Outcome.IGNORED
    unknown = envelope("x-1", 1, type="OrderSubmited")  # a producer's typo
    assert await proc.process(sub, delivery(unknown)) is Outcome.DEAD_LETTERED
    assert header_value(sink.messages[0][3], "dlq.error_code") == "unknown_event_type"
