"""The PostgreSQL event store against the same contract suite as the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from oms_platform.db import create_engine
from oms_platform.eventstore import PostgresEventStore
from oms_platform.testing.eventstore_contract import EventStoreContract


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


@pytest.fixture
async def store(clean_db: str) -> AsyncIterator[PostgresEventStore]:
    engine = create_engine(clean_db, pool_size=8)
    store = PostgresEventStore(engine)
    await store.create_schema()
    yield store
    await store.close()
    await engine.dispose()


@pytest.fixture
def tamper() -> SqlTamper:
    return SqlTamper()


class TestPostgresEventStore(EventStoreContract):
    pass
