"""The service pool replaces connections that died while idle (a PostgreSQL restart)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import text

from oms_platform import db


async def _backend_pid(engine: db.AsyncEngine) -> int:
    async with engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return int(pid)


async def test_a_connection_killed_while_idle_is_replaced_on_checkout(
    clean_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.2)
    engine = db.create_engine(clean_db, pool_size=1)
    try:
        first = await _backend_pid(engine)
        assert await _backend_pid(engine) == first  # reused at once: no ping, same session
        async with await psycopg.AsyncConnection.connect(clean_db, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        await asyncio.sleep(0.4)
        # The ping on checkout found it dead; the unit of work got a fresh one, no error.
        second = await _backend_pid(engine)
        assert second != first
    finally:
        await engine.dispose()
