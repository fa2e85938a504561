"""Read-all rate: ``store.read_all`` in pages of 1,000 against a raw psycopg keyset read.

Both read the same rows of the same database, in commit order ``(tx_id, position)``,
1,000 rows a page. The raw read asks for the same columns, lets psycopg parse them as
usual (jsonb into dicts, uuids, timestamps) and keeps the tuples; the store builds an
``Envelope`` and a ``RecordedEvent`` per row and adds its committed-transactions filter.
"""

from __future__ import annotations

from typing import Any

import psycopg

from oms_platform.eventstore import START, PostgresEventStore
from oms_platform.eventstore.postgres import _COLUMNS

from .common import Meter, Result

PAGE = 1000

_RAW_PAGE = f"""
SELECT {_COLUMNS} FROM events
WHERE (tx_id, position) > (%s::text::xid8, %s)
ORDER BY tx_id, position LIMIT %s
"""


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


async def raw_read_all(dsn: str, expect: int, name: str) -> Result:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT 1")
        meter = Meter()
        tx, pos = 0, 0
        count = 0
        rows: list[tuple[Any, ...]] = [()]
        while rows:
            cur = await conn.execute(_RAW_PAGE, (str(tx), pos, PAGE))
            rows = await cur.fetchall()
            if rows:
                count += len(rows)
                tx, pos = rows[-1][1], rows[-1][0]
        meter.stop()
    if count != expect:
        raise RuntimeError(f"raw read returned {count} rows, expected {expect}")
    return meter.result(name, count)
