"""Read-all rate: ``store.read_all`` in pages of 1,000 against a raw psycopg keyset read.

All read the same rows of the same database, in commit order ``(tx_id, position)``,
1,000 rows a page, on one connection. The raw reads ask for the same columns, let
psycopg parse them as usual (jsonb into dicts, uuids, timestamps) and keep the tuples;
the store also builds an ``Envelope`` and a ``RecordedEvent`` per row.

The ceiling orders by the table's columns ``events.tx_id, events.position``, which the
``events_commit_order`` index serves. A second raw read runs the store's own statement
(``_READ_ALL``) to tell the cost of its SQL from the cost of its Python.
"""

from __future__ import annotations

from typing import Any

import psycopg

from oms_platform.eventstore import START, PostgresEventStore
from oms_platform.eventstore.postgres import _COLUMNS, _READ_ALL

from .common import Meter, Result

PAGE = 1000

# Qualified names: a bare ``tx_id`` in ORDER BY would name the output column
# ``tx_id::text::bigint`` of _COLUMNS, which no index serves.
RAW_PAGE = f"""
SELECT {_COLUMNS} FROM events
WHERE (events.tx_id, events.position) > (%s::text::xid8, %s)
ORDER BY events.tx_id, events.position LIMIT %s
"""
STORE_PAGE = _READ_ALL


async def oms_read_all(store: PostgresEventStore, expect: int, name: str) -> Result:
    meter = Meter()
    position = START
    count = 0
    while True:
        page = await store.read_all(position, limit=PAGE)
        if not page:
            break
        count += len(page)
        position = page[-1].commit_position
    meter.stop()
    if count != expect:
        raise RuntimeError(f"read_all returned {count} events, expected {expect}")
    return meter.result(name, count)


async def raw_read_all(dsn: str, expect: int, name: str, query: str = RAW_PAGE) -> Result:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT 1")
        meter = Meter()
        tx, pos = 0, 0
        count = 0
        rows: list[tuple[Any, ...]] = [()]
        while rows:
            cur = await conn.execute(query, (str(tx), pos, PAGE))
            rows = await cur.fetchall()
            if rows:
                count += len(rows)
                tx, pos = rows[-1][1], rows[-1][0]
        meter.stop()
    if count != expect:
        raise RuntimeError(f"raw read returned {count} rows, expected {expect}")
    return meter.result(name, count)
