"""Outbox relay and consumer runtime against the real broker and database."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from oms_events.base import Event
from oms_events.codec import decode_envelope, encode_envelope
from oms_events.contracts import OrderConfirmed, OrderPlaced
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_events.topics import dlq
from oms_platform.consumer import Subscription, header_value
from oms_platform.db import create_engine
from oms_platform.eventstore import START, Position, PostgresEventStore, UnitOfWork
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import OutboxRelay, create_producer, message_headers
from oms_platform.runtime import ConsumerRuntime
from oms_platform.settings import RetrySettings
from oms_platform.testing.kafka import eventually, read_topic
from oms_platform.testing.keys import TEST_CHAIN_KEY

ORDERS = 40
EVENTS_PER_ORDER = 30


@pytest.fixture
async def store(clean_db: str) -> AsyncIterator[PostgresEventStore]:
    engine = create_engine(clean_db, pool_size=6)
    store = PostgresEventStore(engine, chain_key=TEST_CHAIN_KEY)
    await store.create_schema()
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE applied (id bigserial, order_id text, seq int, event_id uuid)")
        )
    yield store
    await store.close()
    await engine.dispose()


def order_event(order_id: str, version: int, cls: type[Event] = OrderPlaced) -> Envelope:
    return envelope_for(
        example(cls),
        stream_id=f"order-{order_id}",
        stream_version=version,
        correlation_id=order_id,
        causation_id=None,
        actor="test",
        producer="order",
    )


async def record_applied(uow: UnitOfWork, env: Envelope, event: Event) -> None:
    # No unique key on purpose: a second application of an event would show as a row.
    await uow.connection.execute(
        text("INSERT INTO applied (order_id, seq, event_id) VALUES (:o, :s, :e)"),
        {"o": env.correlation_id, "s": env.stream_version, "e": env.event_id},
    )


async def applied_rows(store: PostgresEventStore) -> list[tuple[str, int, str]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT order_id, seq, event_id::text FROM applied ORDER BY id")
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_relay_killed_mid_stream_resumes_and_consumers_apply_each_event_once(
    store: PostgresEventStore, clean_db: str, kafka_admin: KafkaConnection, topic: str
) -> None:
    rng = random.Random(7)
    versions = dict.fromkeys((f"o{i}" for i in range(ORDERS)), 0)
    all_events = []
    while len(all_events) < ORDERS * EVENTS_PER_ORDER:
        order_id = rng.choice(list(versions))
        versions[order_id] += 1
        env = order_event(order_id, versions[order_id])
        await store.append([env])
        all_events.append(env)

    recorded = await store.read_all(START, limit=10_000)
    last = recorded[-1].commit_position

    async def checkpoint() -> Position:
        return await store.load_checkpoint("relay:order")

    async def passed(target: Position) -> bool:
        return await checkpoint() >= target

    # First relay, in a process of its own: SIGKILLed part-way, wherever it happens to be
    # (between the broker's ack and the checkpoint, possibly).
    first = await start_relay_process(clean_db, kafka_admin, topic)
    try:
        await eventually(
            lambda: passed(recorded[400].commit_position), what="first relay to pass 400"
        )
    finally:
        first.kill()
        await first.wait()
    assert await checkpoint() < last

    # A fresh relay process picks up from the checkpoint and finishes.
    second = await start_relay_process(clean_db, kafka_admin, topic)
    runtime = ConsumerRuntime(service="test", kafka=kafka_admin, store=store)
    runtime.subscribe(Subscription("apply", (topic,), {"OrderPlaced": record_applied}))
    await runtime.start()
    try:

        async def all_applied() -> bool:
            return len(await applied_rows(store)) >= len(all_events)

        await eventually(all_applied, timeout_s=90, what="every event applied")
        await eventually(lambda: passed(last), what="the relay's checkpoint at the end")
        await asyncio.sleep(1.0)  # let any duplicate deliveries arrive too
    finally:
        await runtime.stop()
        second.terminate()
        await second.wait()

    records = await read_topic(kafka_admin, topic, expect=len(all_events))
    on_topic = [decode_envelope(r.value) for r in records]
    assert {e.event_id for e in on_topic} == {e.event_id for e in all_events}
    assert all(r.key == decode_envelope(r.value).correlation_id.encode() for r in records)
    assert all(
        header_value(r.headers, "event_id") == str(decode_envelope(r.value).event_id)
        for r in records
    )
    # Per key, first deliveries come in stream order (a resumed relay may repeat a tail).
    by_partition = sorted(records, key=lambda r: (r.partition, r.offset))
    first_seen: dict[str, list[int]] = {}
    seen_ids = set()
    for r in by_partition:
        env = decode_envelope(r.value)
        if env.event_id not in seen_ids:
            seen_ids.add(env.event_id)
            first_seen.setdefault(env.correlation_id, []).append(env.stream_version)
    assert all(seq == list(range(1, len(seq) + 1)) for seq in first_seen.values())
    # The consumer applied every event exactly once, each order's in sequence.
    rows = await applied_rows(store)
    assert len(rows) == len(all_events) == len({r[2] for r in rows})
    per_order: dict[str, list[int]] = {}
    for order_id, seq, _ in rows:
        per_order.setdefault(order_id, []).append(seq)
    assert per_order == {o: list(range(1, n + 1)) for o, n in versions.items()}


RELAY_PROCESS = """
import asyncio, os, sys
from pydantic import SecretStr
from oms_platform.kafka_client import KafkaConnection
from oms_platform.db import create_engine
from oms_platform.eventstore import PostgresEventStore
from oms_platform.relay import OutboxRelay
from oms_platform.testing.keys import TEST_CHAIN_KEY

async def main(dsn: str, bootstrap: str, username: str, topic: str) -> None:
    store = PostgresEventStore(create_engine(dsn), chain_key=TEST_CHAIN_KEY)
    password = SecretStr(os.environ['KAFKA_PASSWORD']) if username else None
    kafka = KafkaConnection(bootstrap, username or None, password)
    relay = OutboxRelay(store, kafka, name="order", topic_for=lambda _: topic, dsn=dsn,
                        batch_size=50)
    await relay.run(asyncio.Event())

asyncio.run(main(*sys.argv[1:5]))
"""


def _password(kafka: KafkaConnection) -> str:
    return kafka.password.get_secret_value() if kafka.password else ""


async def start_relay_process(dsn: str, kafka: KafkaConnection, topic: str) -> Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RELAY_PROCESS,
        dsn,
        kafka.bootstrap,
        kafka.username or "",
        topic,
        env={**os.environ, "KAFKA_PASSWORD": _password(kafka)},
    )


async def _at_least(relay: OutboxRelay, n: int) -> bool:
    return relay.published >= n


async def test_only_one_relay_holds_the_lease(
    store: PostgresEventStore, clean_db: str, kafka_admin: KafkaConnection, topic: str
) -> None:
    await store.append([order_event("solo", 1)])
    relays = [
        OutboxRelay(store, kafka_admin, name="order", topic_for=lambda _: topic, dsn=clean_db)
        for _ in range(2)
    ]
    stops = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(r.run(s)) for r, s in zip(relays, stops, strict=True)]
    await eventually(lambda: _total(relays, 1), what="one event relayed")
    await asyncio.sleep(0.5)
    active = [i for i, r in enumerate(relays) if r.published]
    assert len(active) == 1
    # The active relay stops; the standby takes the lease and relays what comes next.
    stops[active[0]].set()
    await tasks[active[0]]
    await store.append([order_event("solo", 2)])
    standby = relays[1 - active[0]]
    await eventually(lambda: _at_least(standby, 1), what="standby to take over")
    stops[1 - active[0]].set()
    await tasks[1 - active[0]]
    records = await read_topic(kafka_admin, topic, expect=2)
    assert [decode_envelope(r.value).stream_version for r in records] == [1, 2]


async def _total(relays: list[OutboxRelay], n: int) -> bool:
    return sum(r.published for r in relays) >= n


async def test_consumer_dead_letters_poison_and_keeps_going(
    store: PostgresEventStore, kafka_admin: KafkaConnection, topic: str
) -> None:
    calls = {"failing": 0}

    async def always_fails(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        calls["failing"] += 1
        raise RuntimeError("downstream is broken")

    good1 = order_event("k1", 1)
    failing = order_event("k1", 2, OrderConfirmed)
    good2 = order_event("k1", 3)
    unknown = good1.model_copy(
        update={"type": "NoSuchEvent", "event_id": order_event("x", 1).event_id}
    )
    producer = create_producer(kafka_admin)
    await producer.start()
    try:
        # All on one key, so one partition: order matters and the bad ones sit in between.
        sequence: list[tuple[bytes, Envelope | None]] = [
            (encode_envelope(good1), good1),
            (b"{this is not json", None),
            (encode_envelope(unknown), unknown),
            (encode_envelope(failing), failing),
            (encode_envelope(good1), good1),  # a duplicate delivery
            (encode_envelope(good2), good2),
        ]
        for value, env in sequence:
            headers = message_headers(env) if env else []
            await producer.send_and_wait(topic, value=value, key=b"k1", headers=headers)
    finally:
        await producer.stop()

    runtime = ConsumerRuntime(
        service="test",
        kafka=kafka_admin,
        store=store,
        retry=RetrySettings(max_attempts=3, initial_backoff_s=0.05),
    )
    runtime.subscribe(
        Subscription(
            "apply", (topic,), {"OrderPlaced": record_applied, "OrderConfirmed": always_fails}
        )
    )
    await runtime.start()
    try:

        async def good2_applied() -> bool:
            return any(r[2] == str(good2.event_id) for r in await applied_rows(store))

        await eventually(good2_applied, what="the message after the poison ones")
    finally:
        await runtime.stop()

    rows = await applied_rows(store)
    assert [r[2] for r in rows] == [str(good1.event_id), str(good2.event_id)]
    # Once in the batch it came in (which then ran one by one), then its three attempts.
    assert calls["failing"] == 1 + 3
    dead = await read_topic(kafka_admin, dlq(topic), expect=3)
    got = [
        (header_value(r.headers, "dlq.error_code"), header_value(r.headers, "dlq.attempts"))
        for r in dead
    ]
    assert got == [("malformed_message", "1"), ("unknown_event_type", "1"), ("handler_failed", "3")]
    for r, offset in zip(dead, (1, 2, 3), strict=True):
        assert header_value(r.headers, "dlq.original_topic") == topic
        assert header_value(r.headers, "dlq.original_offset") == str(offset)
        assert header_value(r.headers, "dlq.original_partition") is not None
        assert header_value(r.headers, "dlq.reason")
    assert dead[0].value == b"{this is not json"
