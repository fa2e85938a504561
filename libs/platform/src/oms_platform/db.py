"""SQLAlchemy engines on psycopg 3: one pool per service database."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

PING_AFTER_IDLE_S = 2.0
"""A pooled connection idle longer than this is pinged before use (see ``create_engine``)."""


def async_url(dsn: str) -> str:
    """Accept a plain ``postgresql://`` DSN and name the psycopg 3 async driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg://" + dsn[len(prefix) :]
    raise ValueError(f"not a PostgreSQL DSN: {dsn.split('@')[-1]!r}")


def create_engine(dsn: str, *, pool_size: int = 10, application_name: str = "oms") -> AsyncEngine:
    engine = create_async_engine(
        async_url(dsn),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"application_name": application_name},
    )
    _ping_after_idle(engine, PING_AFTER_IDLE_S)
    return engine


def _ping_after_idle(engine: AsyncEngine, idle_s: float) -> None:
    """After a PostgreSQL restart every pooled connection is dead: a connection that sat
    in the pool for more than ``idle_s`` is pinged on checkout and replaced if the ping
    fails. One busy a moment ago is not: SQLAlchemy's ``pool_pre_ping`` pings every
    checkout, a round trip per unit of work (a seventh of a service's statements under
    load). A connection that dies in use fails its unit of work, which the consumer
    runtime retries; SQLAlchemy then recycles the whole pool."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["oms_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("oms_idle_since")
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as err:
            # The pool retries the checkout with a fresh connection.
            raise DisconnectionError(f"pooled connection is dead: {err}") from err
