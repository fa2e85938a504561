"""Where an OMS append spends its time: from the raw INSERT up to ``store.append``.

Each rung adds one thing the store does on top of the previous rung, with the same
workload and concurrency, on its own fresh database:

1. ``raw INSERT``: the ceiling (one autocommit statement, see append.raw_append).
2. ``oms_append() SQL``: the store's PL/pgSQL function, its JSON parameter built before
   the clock starts, one autocommit statement: the server-side cost of the function
   (stream head lock and upsert, hash chaining, one set-based INSERT).
3. ``+ Python params``: the store's own append on a plain psycopg connection in
   autocommit: adds grouping, canonical JSON and digests (what ``store.append`` does,
   minus its connection pool).
4. ``+ BEGIN/COMMIT``: the same inside an explicit transaction, as a unit of work runs it
   (psycopg sends BEGIN and COMMIT as two more round trips).
5. ``store.append``: the store itself, on its pool of autocommit connections.

Rung 2 builds the store's parameter with the store's own helper (``_append_document``)
and calls its ``_APPEND`` statement; if the store changes its parameters, this rung must
follow. The parameters chain each stream's hashes onto the heads they build up in plan
order (``HeadCache``), as the store's own cache of heads would.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from oms_events.envelope import Envelope
from oms_platform.eventstore.hashing import GENESIS
from oms_platform.eventstore.model import group_by_stream
from oms_platform.eventstore.postgres import (
    _APPEND,
    APPEND_FUNCTION,
    SCHEMA,
    HeadCache,
    _append,
    _append_document,
)

from .append import envelopes_for
from .common import Append, Meter, Result, planned_events

Conn = psycopg.AsyncConnection[Any]


KEY = secrets.token_bytes(32)
_planned = HeadCache()


def store_params(events: list[Envelope]) -> tuple[str, str]:
    batches = group_by_stream(events)
    previous = {
        b.stream_id: _planned.get(b.stream_id, b.expected_version) or GENESIS for b in batches
    }
    streams, rows, hashes = _append_document(batches, previous, KEY)
    for b in batches:
        _planned.put(b.stream_id, b.events[-1].stream_version, hashes[b.events[-1].event_id])
    return streams, rows


async def _create_store_schema(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(SCHEMA)
        await conn.execute(APPEND_FUNCTION)


async def _run(
    dsn: str,
    name: str,
    events: int,
    items: list[list[Any]],
    op: Callable[[Conn, Any], Awaitable[None]],
) -> Result:
    await _create_store_schema(dsn)
    conns = await asyncio.gather(
        *(psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in items)
    )
    latencies: list[float] = []

    async def writer(conn: Conn, mine: list[Any]) -> None:
        for item in mine:
            t0 = time.perf_counter()
            await op(conn, item)
            latencies.append(time.perf_counter() - t0)

    try:
        meter = Meter()
        await asyncio.gather(*(writer(c, m) for c, m in zip(conns, items, strict=True)))
        meter.stop()
    finally:
        for conn in conns:
            await conn.close()
    return meter.result(name, events, latencies)


async def function_only(dsn: str, work: list[list[Append]], name: str) -> Result:
    params = [[store_params(envs) for envs in envelopes_for(w)] for w in work]

    async def op(conn: Conn, p: tuple[str, str]) -> None:
        cur = await conn.execute(_APPEND, p)
        await cur.fetchall()

    return await _run(dsn, name, planned_events(work), params, op)


async def unit_of_work_autocommit(dsn: str, work: list[list[Append]], name: str) -> Result:
    batches = [envelopes_for(w) for w in work]
    heads = HeadCache()

    async def op(conn: Conn, envs: list[Envelope]) -> None:
        await _append(conn, envs, KEY, heads)

    return await _run(dsn, name, planned_events(work), batches, op)


async def unit_of_work_transaction(dsn: str, work: list[list[Append]], name: str) -> Result:
    batches = [envelopes_for(w) for w in work]
    heads = HeadCache()

    async def op(conn: Conn, envs: list[Envelope]) -> None:
        async with conn.transaction():
            await _append(conn, envs, KEY, heads)

    return await _run(dsn, name, planned_events(work), batches, op)


def params_cpu_us_per_event(work: list[list[Append]]) -> float:
    """CPU time of the store's parameter building alone (no database), per event."""
    batches = [envs for w in work for envs in envelopes_for(w)]
    t0 = time.process_time()
    for envs in batches:
        store_params(envs)
    return (time.process_time() - t0) / sum(len(b) for b in batches) * 1e6
