"""The relay and the Wakeup on the real stack: woken by commits, cheap when idle,
pipelined without losing order or a guarantee, and a standby that takes over."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

import psycopg
import pytest

from oms_events.codec import decode_envelope
from oms_platform.db import create_engine
from oms_platform.eventstore import START, PostgresEventStore
from oms_platform.kafka_client import KafkaConnection
from oms_platform.notify import Wakeup, install
from oms_platform.relay import LeaseLost, OutboxRelay
from oms_platform.testing.builders import envelope
from oms_platform.testing.kafka import eventually, read_topic
from oms_platform.testing.keys import TEST_CHAIN_KEY

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(clean_db: str) -> AsyncIterator[PostgresEventStore]:
    engine = create_engine(clean_db, pool_size=4)
    store = PostgresEventStore(engine, chain_key=TEST_CHAIN_KEY)
    await store.create_schema()
    await install(store)
    yield store
    await store.close()
    await engine.dispose()


class Loop(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@contextlib.asynccontextmanager
async def running(*loops: Loop) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run each ``loop.run(stop)`` in a task; stop and await them all on the way out."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        yield tasks
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)


def relay(
    store: PostgresEventStore, dsn: str, kafka: KafkaConnection, topic: str, **kw: Any
) -> OutboxRelay:
    return OutboxRelay(store, kafka, name="order", topic_for=lambda _: topic, dsn=dsn, **kw)


async def test_no_trigger_notifies_inside_the_writers_transactions(
    store: PostgresEventStore,
) -> None:
    async with store.connection() as conn:
        await conn.execute(
            "CREATE FUNCTION oms_notify_events() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_notify('oms_events', ''); RETURN NULL; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER events_notify AFTER INSERT ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION oms_notify_events()"
        )
    await install(store)  # what an earlier version left behind is removed
    await install(store)
    async with store.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events'::regclass "
            "AND tgname = 'events_notify'"
        )
        assert await cur.fetchone() == (0,)


async def test_an_idle_relay_publishes_on_the_commit_notification_not_on_its_poll(
    store: PostgresEventStore, clean_db: str, kafka_admin: KafkaConnection, topic: str
) -> None:
    wakeup = Wakeup(clean_db)
    r = relay(store, clean_db, kafka_admin, topic, idle_poll_s=30.0, wakeup=wakeup)
    async with running(wakeup, r):

        async def idle() -> bool:
            return wakeup.connected and r.reads >= 1 and r.status.waiting_on is None

        await eventually(idle, timeout_s=20, what="the relay to sit idle")
        await asyncio.sleep(0.7)  # past the short retries after the first (re)connect wakeup
        reads = r.reads
        started = time.monotonic()
        await store.append([envelope("order-1", 1)])

        async def published() -> bool:
            return r.published == 1

        await eventually(published, timeout_s=5, what="the event to be published")
        took = time.monotonic() - started
    assert took < 2.0, f"published after {took:.2f}s: that was the poll, not the notification"
    assert r.reads - reads <= 40  # one read on the wakeup (and a few short retries at most)
    [record] = await read_topic(kafka_admin, topic, expect=1)
    assert record.key == b"order-1"


async def test_an_idle_relay_reads_about_once_per_fallback_poll(
    store: PostgresEventStore, clean_db: str, kafka_admin: KafkaConnection, topic: str
) -> None:
    wakeup = Wakeup(clean_db)
    r = relay(store, clean_db, kafka_admin, topic, idle_poll_s=1.0, wakeup=wakeup)
    async with running(wakeup, r):

        async def idle() -> bool:
            return wakeup.connected and r.reads >= 1

        await eventually(idle, timeout_s=20, what="the relay to start reading")
        await asyncio.sleep(0.7)
        before = r.reads
        await asyncio.sleep(3.0)
        idle_reads = r.reads - before
    assert 1 <= idle_reads <= 5, f"{idle_reads} reads in 3 s idle"


async def test_pipelined_batches_go_out_in_order_with_an_unpublishable_one_parked(
    store: PostgresEventStore, clean_db: str, kafka_admin: KafkaConnection, topic: str
) -> None:
    # Three batches of ten on one key (one partition, so the topic's order is ours), with
    # an event the broker will never take in the middle batch.
    events = [envelope("order-p", v, correlation_id="p") for v in range(1, 31)]
    huge = envelope("big-1", 1, payload={"blob": "x" * 1_200_000}, correlation_id="big")
    for env in events[:15]:
        await store.append([env])
    await store.append([huge])
    for env in events[15:]:
        await store.append([env])
    recorded = await store.read_all(START, limit=100)
    assert len(recorded) == 31
    r = relay(store, clean_db, kafka_admin, topic, batch_size=10, idle_poll_s=0.2)
    async with running(r):

        async def done() -> bool:
            return await store.load_checkpoint(r.checkpoint_name) == recorded[-1].commit_position

        await eventually(done, timeout_s=60, what="the checkpoint at the last event")
    assert r.parked == 1 and r.published == 31
    records = await read_topic(kafka_admin, topic, expect=30)
    got = [decode_envelope(rec.value) for rec in records]
    assert [e.stream_version for e in got] == list(range(1, 31))
    async with store.connection() as conn:
        cur = await conn.execute("SELECT position, reason FROM parked_events")
        [(position, reason)] = await cur.fetchall()
    assert position == recorded[15].position and "MessageSizeTooLarge" in reason


async def test_the_standby_takes_over_when_the_active_lease_connection_is_killed(
    store: PostgresEventStore, clean_db: str, kafka_admin: KafkaConnection, topic: str
) -> None:
    wakeup = Wakeup(clean_db)
    relays = [
        relay(store, clean_db, kafka_admin, topic, idle_poll_s=1.0, wakeup=wakeup) for _ in range(2)
    ]
    await store.append([envelope("order-s", 1)])
    async with running(wakeup, *relays) as tasks:

        async def one_published() -> bool:
            return sum(r.published for r in relays) == 1

        await eventually(one_published, timeout_s=20, what="one relay to publish")
        active = 0 if relays[0].published else 1
        standby = relays[1 - active]
        assert standby.status.waiting_on == "lease (standby)"
        async with store.connection() as conn:
            cur = await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND granted AND objsubid = 1 AND objid::text::bigint = %s "
                # pg_locks spans the cluster: another database's relay holds the same key.
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (relays[active]._lease_key,),
            )
            assert await cur.fetchall() == [(True,)]
        killed_at = time.monotonic()
        await store.append([envelope("order-s", 2)])

        async def taken_over() -> bool:
            return standby.published == 1

        await eventually(taken_over, timeout_s=10, what="the standby to publish")
        assert time.monotonic() - killed_at < 5.0
        # The relay that lost its lease stopped instead of publishing on.
        lost = tasks[1 + active]

        async def stopped() -> bool:
            return lost.done()

        await eventually(stopped, timeout_s=10, what="the relay without a lease to stop")
        assert isinstance(lost.exception(), LeaseLost | psycopg.Error)
    assert relays[active].published == 1
    records = await read_topic(kafka_admin, topic, expect=2)
    assert [decode_envelope(rec.value).stream_version for rec in records] == [1, 2]


async def test_wakeup_reconnects_after_its_connection_is_killed_and_wakes_waiters_again(
    store: PostgresEventStore, clean_db: str
) -> None:
    wakeup = Wakeup(clean_db)
    waiter = wakeup.waiter()
    async with running(wakeup):

        async def connected() -> bool:
            return wakeup.connected

        await eventually(connected, timeout_s=10, what="the notify connection")
        await waiter.wait(0)  # the wakeup every (re)connection gives
        assert not await waiter.wait(0.3)
        await store.append([envelope("order-w", 1)])
        assert await waiter.wait(5)
        assert wakeup.notifications == 1

        async with store.connection() as conn:
            cur = await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'oms-wakeup' AND datname = current_database()"
            )
            assert await cur.fetchall() == [(True,)]

        async def reconnected() -> bool:
            return wakeup.connections == 2 and wakeup.connected

        await eventually(reconnected, timeout_s=10, what="the notify connection again")
        await waiter.wait(0)
        await store.append([envelope("order-w", 2)])
        assert await waiter.wait(5)
        assert wakeup.notifications == 2
