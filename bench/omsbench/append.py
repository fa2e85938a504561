"""Append throughput: the OMS store, raw psycopg (the ceiling) and ``eventsourcing``.

All three start from the same per-stream payload dicts, serialise them while the clock
runs, and commit one transaction per append. The OMS store's ``Envelope`` objects are
built before the clock starts: building them is the caller's work, not the store's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.envelope import Envelope
from oms_platform.db import create_engine
from oms_platform.eventstore import PostgresEventStore
from oms_platform.eventstore.postgres import SCHEMA

from .common import ACTOR, EVENT_TYPE, PRODUCER, Append, Meter, Result, planned_events

# --------------------------------------------------------------------------- OMS store


def envelopes_for(appends: list[Append]) -> list[list[Envelope]]:
    return [
        [
            Envelope(
                type=EVENT_TYPE,
                stream_id=a.stream.stream_id,
                stream_version=a.first_version + i,
                correlation_id=a.stream.order_id,
                actor=ACTOR,
                producer=PRODUCER,
                payload=a.stream.payload,
            )
            for i in range(a.count)
        ]
        for a in appends
    ]


async def warm_pool(engine: AsyncEngine, connections: int) -> None:
    """Open ``connections`` pooled connections at once so no writer pays a connect."""
    barrier = asyncio.Barrier(connections)

    async def hold() -> None:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
            await barrier.wait()

    await asyncio.gather(*(hold() for _ in range(connections)))


async def open_store(dsn: str, writers: int) -> tuple[AsyncEngine, PostgresEventStore]:
    engine = create_engine(dsn, pool_size=max(writers, 2), application_name="oms-bench")
    store = PostgresEventStore(engine, chain_key=secrets.token_bytes(32))
    await store.create_schema()
    await warm_pool(engine, max(writers, 2))
    return engine, store


async def oms_append(dsn: str, work: list[list[Append]], name: str) -> Result:
    batches = [envelopes_for(appends) for appends in work]
    engine, store = await open_store(dsn, len(work))
    latencies: list[float] = []

    async def writer(appends: list[list[Envelope]]) -> None:
        for envs in appends:
            t0 = time.perf_counter()
            await store.append(envs)
            latencies.append(time.perf_counter() - t0)

    try:
        meter = Meter()
        await asyncio.gather(*(writer(b) for b in batches))
        meter.stop()
    finally:
        await store.close()
        await engine.dispose()
    return meter.result(name, planned_events(work), latencies)


# --------------------------------------------------------------------------- raw psycopg

_RAW_COLUMNS = (
    "event_id, stream_id, stream_version, type, version, occurred_at, correlation_id, "
    "causation_id, actor, producer, payload, hash"
)
_RAW_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"


def raw_insert_sql(rows: int) -> str:
    values = ", ".join([_RAW_ROW] * rows)
    return f"INSERT INTO events ({_RAW_COLUMNS}) VALUES {values} RETURNING position"


def raw_params(a: Append) -> list[Any]:
    """The INSERT's parameters; the payload is serialised here, inside the timed loop."""
    params: list[Any] = []
    now = datetime.now(UTC)
    for i in range(a.count):
        text = json.dumps(a.stream.payload, separators=(",", ":"))
        params += (
            uuid.uuid4(),
            a.stream.stream_id,
            a.first_version + i,
            EVENT_TYPE,
            1,
            now,
            a.stream.order_id,
            None,
            ACTOR,
            PRODUCER,
            text,
            hashlib.sha256(text.encode()).digest(),
        )
    return params


async def create_raw_schema(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(SCHEMA)


async def raw_append(dsn: str, work: list[list[Append]], name: str) -> Result:
    """One autocommit multi-row INSERT per append: one statement, one transaction."""
    await create_raw_schema(dsn)
    batch = work[0][0].count
    statement = raw_insert_sql(batch)
    conns = await asyncio.gather(
        *(psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in work)
    )
    latencies: list[float] = []

    async def writer(conn: psycopg.AsyncConnection[Any], appends: list[Append]) -> None:
        for a in appends:
            t0 = time.perf_counter()
            cur = await conn.execute(statement, raw_params(a))
            await cur.fetchall()
            latencies.append(time.perf_counter() - t0)

    try:
        meter = Meter()
        await asyncio.gather(*(writer(c, w) for c, w in zip(conns, work, strict=True)))
        meter.stop()
    finally:
        for conn in conns:
            await conn.close()
    return meter.result(name, planned_events(work), latencies)


# --------------------------------------------------------------------------- eventsourcing

ES_TOPIC = "bench.orders:OrderPlaced"


def es_environment(dsn: str, writers: int) -> dict[str, str]:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return {
        "POSTGRES_DBNAME": str(info["dbname"]),
        "POSTGRES_HOST": str(info["host"]),
        "POSTGRES_PORT": str(info["port"]),
        "POSTGRES_USER": str(info["user"]),
        "POSTGRES_PASSWORD": str(info["password"]),
        "POSTGRES_POOL_SIZE": str(writers),
        "POSTGRES_MAX_OVERFLOW": "0",
        # One round trip per insert_events(): the library's es_insert_events_uuid()
        # function instead of its pipelined LOCK TABLE + NOTIFY + INSERT transaction.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        "CREATE_TABLE": "y",
    }


def es_append(dsn: str, work: list[list[Append]], name: str) -> Result:
    """``PostgresApplicationRecorder.insert_events`` from one thread per writer."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
    from eventsourcing.utils import Environment

    factory = PostgresFactory(Environment(name="bench", env=es_environment(dsn, len(work))))
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, PostgresApplicationRecorder)
        assert recorder.datastore.enable_db_functions
        factory.datastore.pool.open(wait=True, timeout=30)
        before = recorder.max_notification_id() or 0
        latencies: list[float] = []
        lock = threading.Lock()
        start = threading.Barrier(len(work) + 1)

        def writer(appends: list[Append]) -> None:
            mine: list[float] = []
            start.wait()
            for a in appends:
                t0 = time.perf_counter()
                events = [
                    StoredEvent(
                        originator_id=a.stream.uuid,
                        originator_version=a.first_version + i,
                        topic=ES_TOPIC,
                        state=json.dumps(a.stream.payload, separators=(",", ":")).encode(),
                    )
                    for i in range(a.count)
                ]
                recorder.insert_events(events)
                mine.append(time.perf_counter() - t0)
            with lock:
                latencies.extend(mine)

        with ThreadPoolExecutor(max_workers=len(work)) as pool:
            futures = [pool.submit(writer, w) for w in work]
            start.wait()
            meter = Meter()
            for f in futures:
                f.result()
            meter.stop()
        stored = (recorder.max_notification_id() or 0) - before
    finally:
        factory.close()
    result = meter.result(name, planned_events(work), latencies)
    if stored != result.events:
        raise RuntimeError(f"eventsourcing stored {stored} events, expected {result.events}")
    return result
