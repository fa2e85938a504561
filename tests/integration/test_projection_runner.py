"""Projection runner: read model and checkpoint move together; rebuild from zero."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_events.envelope import Envelope
from oms_platform.db import create_engine
from oms_platform.eventstore import START, PostgresEventStore, RecordedEvent
from oms_platform.notify import Wakeup, install
from oms_platform.projection import DocumentProjection, ProjectionRunner
from oms_platform.testing.builders import envelope
from oms_platform.testing.kafka import eventually
from oms_platform.testing.keys import TEST_CHAIN_KEY


def order_key(env: Envelope) -> str | None:
    return env.correlation_id if env.stream_id.startswith("order-") else None


def order_summary(doc: dict[str, Any] | None, env: Envelope) -> dict[str, Any] | None:
    doc = doc or {"events": 0, "last": None}
    if env.type == "OrderForgotten":
        return None
    return {"events": doc["events"] + 1, "last": env.type}


@pytest.fixture
async def store(clean_db: str) -> AsyncIterator[PostgresEventStore]:
    engine = create_engine(clean_db, pool_size=4)
    store = PostgresEventStore(engine, chain_key=TEST_CHAIN_KEY)
    await store.create_schema()
    yield store
    await store.close()
    await engine.dispose()


async def read_docs(store: PostgresEventStore, projection: DocumentProjection) -> dict[str, Any]:
    async with store.engine.connect() as conn:
        return await projection.all(conn)


async def test_runner_builds_the_read_model_and_rebuilds_it_identically(
    store: PostgresEventStore,
) -> None:
    projection = DocumentProjection("order-summary", order_key, order_summary)
    runner = ProjectionRunner(store, projection, batch_size=7)
    await runner.setup()
    for i in range(5):
        await store.append(
            [
                envelope(f"order-{i}", v, type=f"Step{v}", correlation_id=f"o{i}")
                for v in range(1, i + 2)
            ]
        )
    await store.append([envelope("stock-1", 1)])  # not this projection's business
    await store.append([envelope("order-4", 6, type="OrderForgotten", correlation_id="o4")])

    assert await runner.catch_up() == 5 * 6 // 2 + 2
    docs = await read_docs(store, projection)
    assert docs == {f"o{i}": {"events": i + 1, "last": f"Step{i + 1}"} for i in range(4)}
    assert await runner.run_once() == 0

    await store.append([envelope("order-0", 2, type="Shipped", correlation_id="o0")])
    assert await runner.catch_up() == 1
    assert (await read_docs(store, projection))["o0"] == {"events": 2, "last": "Shipped"}

    before = await read_docs(store, projection)
    assert await runner.rebuild() == 5 * 6 // 2 + 3
    assert await read_docs(store, projection) == before


async def test_a_failing_event_leaves_read_model_and_checkpoint_where_they_were(
    store: PostgresEventStore,
) -> None:
    class Fragile(DocumentProjection):
        async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None:
            if rec.envelope.type == "Boom":
                raise RuntimeError("projection bug")
            await super().apply(conn, rec)

    projection = Fragile("fragile", order_key, order_summary)
    runner = ProjectionRunner(store, projection, batch_size=100)
    await runner.setup()
    await store.append([envelope("order-1", 1, correlation_id="o1")])
    assert await runner.catch_up() == 1
    checkpoint = await store.load_checkpoint(runner.checkpoint_name)
    assert checkpoint != START

    await store.append(
        [
            envelope("order-1", 2, correlation_id="o1"),
            envelope("order-1", 3, type="Boom", correlation_id="o1"),
        ]
    )
    with pytest.raises(RuntimeError):
        await runner.run_once()
    # Event 2 was applied in the failed transaction, and rolled back with it.
    assert await read_docs(store, projection) == {"o1": {"events": 1, "last": "Tested"}}
    assert await store.load_checkpoint(runner.checkpoint_name) == checkpoint


class CountingProjection:
    """Records every application of every event: a second one would show as a row."""

    name = "counting"

    async def setup(self, conn: AsyncConnection) -> None:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS applications (event_id uuid)"))

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(text("DELETE FROM applications"))

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None:
        await conn.execute(
            text("INSERT INTO applications (event_id) VALUES (:e)"), {"e": rec.envelope.event_id}
        )


async def test_two_runners_of_one_projection_apply_every_event_exactly_once(
    store: PostgresEventStore, clean_db: str
) -> None:
    await install(store)
    wakeup = Wakeup(clean_db)
    runners = [
        ProjectionRunner(store, CountingProjection(), batch_size=20, wakeup=wakeup)
        for _ in range(2)
    ]
    await runners[0].setup()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in (wakeup, *runners)]
    try:
        # Appended while both run: 500 events in appends of one to nine events.
        appended = 0
        n = 0
        while appended < 500:
            size = min(1 + n % 9, 500 - appended)
            await store.append([envelope(f"s-{n}", 1 + i) for i in range(size)])
            appended += size
            n += 1

        async def all_applied() -> bool:
            return sum(r.applied for r in runners) >= 500

        await eventually(all_applied, timeout_s=60, what="500 events applied")
        await asyncio.sleep(1.5)  # a double application would land meanwhile
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT count(*), count(DISTINCT event_id) FROM applications"))
        ).one()
    assert tuple(rows) == (500, 500)
    assert sum(r.applied for r in runners) == 500, [r.applied for r in runners]
    last = (await store.read_all(START, limit=1000))[-1].commit_position
    assert await store.load_checkpoint(runners[0].checkpoint_name) == last


async def test_a_runner_skips_a_round_while_another_holds_the_projection(
    store: PostgresEventStore,
) -> None:
    first, second = (ProjectionRunner(store, CountingProjection()) for _ in range(2))
    await first.setup()
    await store.append([envelope("s-1", 1)])
    async with store.unit_of_work() as uow:
        assert await first._take_lease(uow.connection, wait=False)
        assert await second.run_once() == 0  # another instance is applying: no read
        assert second.reads == 0
    assert await second.run_once() == 1
    assert await first.run_once() == 0 and first.reads == 1  # sees the committed checkpoint
