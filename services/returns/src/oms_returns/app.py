"""Composition root: ``create_app(settings)`` wires the returns service; nothing connects yet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from oms_platform.eventstore.base import EventStore
from oms_platform.service import ServiceHost
from oms_returns import api
from oms_returns.consumers import subscribe
from oms_returns.expiry import LOOP, ReturnExpiry
from oms_returns.handlers import Returns
from oms_returns.queries import ReturnQueries
from oms_returns.settings import ReturnsSettings
from oms_returns.tables import MemoryTables, SqlTables, Tables


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ReturnsSettings,
    *,
    store: EventStore | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> ServiceHost:
    """The returns process: HTTP API, order and shipment consumers, relay, expiry loop.

    ``store`` replaces the PostgreSQL event store (e.g. with the in-memory one): the host
    then serves its HTTP API only, over in-memory tables (``host.api.state.returns``),
    which is how the routes are tested without a database; ``clock`` is the time the
    decisions are taken at.
    """
    host = ServiceHost(settings, FastAPI(title="OMS returns", version="1"), store=store)
    tables: Tables
    if store is None:
        sql = SqlTables(host.engine)
        host.on_startup(sql.create_schema)
        tables = sql
    else:
        tables = MemoryTables()
    returns = Returns(tables, settings.window(), settings.rules(), clock)
    expiry = ReturnExpiry(host.store, returns, every_s=settings.expiry_check_s)
    queries = ReturnQueries(host.store, tables)
    api.install(host.api, api.ApiContext(host.store, returns, queries, expiry))
    subscribe(host, returns)
    expiry.status = host.add_loop(LOOP, expiry.run)
    return host
