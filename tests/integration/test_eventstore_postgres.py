"""The PostgreSQL event store against the same contract suite as the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from oms_platform.db import create_engine
from oms_platform.eventstore import PostgresEventStore
from oms_platform.eventstore.hashing import GENESIS, chain
from oms_platform.eventstore.model import ReadOnlyStore
from oms_platform.testing.builders import envelope, stream_events
from oms_platform.testing.eventstore_contract import EventStoreContract
from oms_platform.testing.keys import TEST_CHAIN_KEY


class SqlTamper:
    """Rewrites rows directly, as someone with write access to the database could."""

    async def payload(
        self, store: PostgresEventStore, stream_id: str, version: int, payload: dict[str, Any]
    ) -> None:
        async with store.unit_of_work() as uow:
            raw = await uow.connection.get_raw_connection()
            await raw.driver_connection.execute(
                "UPDATE events SET payload = %s::jsonb "
                "WHERE stream_id = %s AND stream_version = %s",
                (json.dumps(payload), stream_id, version),
            )

    async def delete(self, store: PostgresEventStore, stream_id: str, version: int) -> None:
        async with store.unit_of_work() as uow:
            raw = await uow.connection.get_raw_connection()
            await raw.driver_connection.execute(
                "DELETE FROM events WHERE stream_id = %s AND stream_version = %s",
                (stream_id, version),
            )

    async def rewrite(
        self,
        store: PostgresEventStore,
        stream_id: str,
        version: int,
        payload: dict[str, Any],
        key: bytes,
    ) -> None:
        """Change one payload and rechain it, every later event and the head with ``key``."""
        events = await store.read_stream(stream_id)
        previous = GENESIS
        async with store.unit_of_work() as uow:
            raw = (await uow.connection.get_raw_connection()).driver_connection
            for rec in events:
                env = rec.envelope
                if env.stream_version < version:
                    previous = rec.hash
                    continue
                if env.stream_version == version:
                    env = env.model_copy(update={"payload": payload})
                previous = chain(key, previous, env)
                await raw.execute(
                    "UPDATE events SET payload = %s::jsonb, hash = %s "
                    "WHERE stream_id = %s AND stream_version = %s",
                    (json.dumps(env.payload), previous, stream_id, env.stream_version),
                )
            await raw.execute(
                "UPDATE streams SET head = %s WHERE stream_id = %s", (previous, stream_id)
            )

    async def drop(self, store: PostgresEventStore, stream_id: str) -> None:
        async with store.unit_of_work() as uow:
            raw = (await uow.connection.get_raw_connection()).driver_connection
            await raw.execute("DELETE FROM events WHERE stream_id = %s", (stream_id,))
            await raw.execute("DELETE FROM streams WHERE stream_id = %s", (stream_id,))


@pytest.fixture
async def store(clean_db: str) -> AsyncIterator[PostgresEventStore]:
    engine = create_engine(clean_db, pool_size=8)
    store = PostgresEventStore(engine, chain_key=TEST_CHAIN_KEY)
    await store.create_schema()
    yield store
    await store.close()
    await engine.dispose()


@pytest.fixture
def tamper() -> SqlTamper:
    return SqlTamper()


class TestPostgresEventStore(EventStoreContract):
    pass


async def test_two_processes_chain_one_stream_in_turn(store: PostgresEventStore) -> None:
    """Each process caches the heads it saw; when another process moved a head, the
    append rechains onto the real head (in the same transaction) instead of failing."""
    other = PostgresEventStore(store.engine, chain_key=TEST_CHAIN_KEY, pool_size=2)
    try:
        await store.append(stream_events("turns", 1, 2))
        await other.read_stream("turns")  # other caches the head at version 2
        await store.append(stream_events("turns", 3, 1))
        # other's cache says version 2: a miss for version 3, read from the database.
        await other.append(stream_events("turns", 4, 1))
        await store.append(stream_events("turns", 5, 1))  # store's cache: stale at 3
        async with other.unit_of_work(deferred=True) as uow:
            await uow.append(stream_events("turns", 6, 2))
    finally:
        await other.close()
    assert [r.envelope.stream_version for r in await store.read_stream("turns")] == list(
        range(1, 8)
    )
    assert await store.verify() == []


async def test_a_head_cached_from_a_rolled_back_append_is_rechained(
    store: PostgresEventStore,
) -> None:
    """The cache may hold a head that never committed (same version, another hash): the
    append is rechained onto the real head instead of failing or chaining wrongly."""
    other = PostgresEventStore(store.engine, chain_key=TEST_CHAIN_KEY, pool_size=2)
    try:
        await store.append(stream_events("rb", 1, 2))
        with pytest.raises(RuntimeError):
            async with store.unit_of_work() as uow:
                await uow.append([envelope("rb", 3, payload={"n": "rolled back"})])
                raise RuntimeError("the handler failed after appending")
        await other.append([envelope("rb", 3, payload={"n": "committed"})])
        await store.append(stream_events("rb", 4, 1))  # store's cache: the rolled-back v3
    finally:
        await other.close()
    got = await store.read_stream("rb")
    assert [r.envelope.payload["n"] for r in got] == [1, 2, "committed", 4]
    assert await store.verify() == []


async def test_a_store_without_the_key_reads_and_checks_heads_only(
    store: PostgresEventStore, tamper: SqlTamper
) -> None:
    await store.append(stream_events("ro", 1, 2))
    reader = PostgresEventStore(store.engine, chain_key=None, pool_size=1)
    try:
        with pytest.raises(ReadOnlyStore):
            await reader.append(stream_events("ro", 3, 1))
        await tamper.payload(store, "ro", 1, {"n": 5})
        assert await reader.verify() == []  # a changed payload needs the key to be seen
        assert [f.kind for f in await store.verify()] == ["altered"]
        assert len(await reader.read_stream("ro")) == 2
    finally:
        await reader.close()
