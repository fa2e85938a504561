"""Commit-order reads under concurrent writers, against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from oms_platform.db import create_engine
from oms_platform.eventstore import START, ConcurrencyConflict, PostgresEventStore, RecordedEvent
from oms_platform.testing.builders import envelope
from oms_platform.testing.keys import TEST_CHAIN_KEY

WRITERS = 8
EVENTS_PER_WRITER = 1_000


@pytest.fixture
async def store(clean_db: str) -> AsyncIterator[PostgresEventStore]:
    engine = create_engine(clean_db, pool_size=WRITERS + 2)
    store = PostgresEventStore(engine, chain_key=TEST_CHAIN_KEY)
    await store.create_schema()
    yield store
    await store.close()
    await engine.dispose()


async def test_tailing_reader_sees_every_event_once_in_commit_order(
    store: PostgresEventStore,
) -> None:
    """8 writers x 1,000 one-event transactions on shared streams while a reader tails."""
    streams = [f"order-{i}" for i in range(24)]  # shared between writers: real contention
    written: list[str] = []
    conflicts = 0

    async def writer(w: int) -> None:
        nonlocal conflicts
        rng = random.Random(w)
        known: dict[str, int] = {}  # the version this writer last saw of each stream
        done = 0
        while done < EVENTS_PER_WRITER:
            stream_id = rng.choice(streams)
            newer = await store.read_stream(stream_id, known.get(stream_id, 0) + 1)
            if newer:
                known[stream_id] = newer[-1].envelope.stream_version
            env = envelope(stream_id, known.get(stream_id, 0) + 1, payload={"w": w, "seq": done})
            try:
                await store.append([env])
            except ConcurrencyConflict:
                conflicts += 1
                continue
            known[stream_id] = env.stream_version
            written.append(str(env.event_id))
            done += 1

    seen: list[RecordedEvent] = []
    stop = asyncio.Event()

    async def reader() -> None:
        position = START
        while True:
            batch = await store.read_all(position, limit=500)
            seen.extend(batch)
            if batch:
                position = batch[-1].commit_position
            elif stop.is_set():
                return
            else:
                await asyncio.sleep(0.005)

    tail = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    stop.set()
    await tail
    assert conflicts > 0, "the writers never raced; the test would prove nothing"

    seen_ids = [str(r.envelope.event_id) for r in seen]
    assert len(seen_ids) == WRITERS * EVENTS_PER_WRITER
    assert len(set(seen_ids)) == len(seen_ids), "an event was delivered twice"
    assert set(seen_ids) == set(written), "an event was skipped"
    # The tail's order is the store's commit order, as a fresh full read gives it.
    everything = []
    position = START
    while batch := await store.read_all(position, limit=5_000):
        everything.extend(batch)
        position = batch[-1].commit_position
    assert [str(r.envelope.event_id) for r in everything] == seen_ids
    # Within each stream the tail delivers versions 1, 2, 3, ... with nothing out of order.
    last: dict[str, int] = {}
    for rec in seen:
        sid = rec.envelope.stream_id
        assert rec.envelope.stream_version == last.get(sid, 0) + 1
        last[sid] = rec.envelope.stream_version
    assert await store.verify() == []


async def test_a_multi_stream_append_stays_whole_under_contention(
    store: PostgresEventStore,
) -> None:
    """Two-stream appends race single-stream ones; each is all-or-nothing."""

    async def pair(i: int) -> bool:
        a = await store.read_stream("stock-A")
        b = await store.read_stream("stock-B")
        envs = [
            envelope("stock-A", len(a) + 1, payload={"pair": i}),
            envelope("stock-B", len(b) + 1, payload={"pair": i}),
        ]
        try:
            await store.append(envs)
            return True
        except ConcurrencyConflict:
            return False

    results = await asyncio.gather(*(pair(i) for i in range(40)))
    a = [r.envelope.payload["pair"] for r in await store.read_stream("stock-A")]
    b = [r.envelope.payload["pair"] for r in await store.read_stream("stock-B")]
    assert a == b
    assert len(a) == sum(results) >= 1
