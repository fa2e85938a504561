"""Composition root: ``create_app(settings)`` wires the operations service; nothing connects yet."""

from __future__ import annotations

from fastapi import FastAPI

from oms_operations import api
from oms_operations.projections import runner, tables
from oms_operations.queries import DashboardQueries, SqlDashboardQueries
from oms_operations.settings import OperationsSettings
from oms_platform.eventstore.base import EventStore
from oms_platform.service import ServiceHost


def create_app(
    settings: OperationsSettings,
    *,
    store: EventStore | None = None,
    queries: DashboardQueries | None = None,
) -> ServiceHost:
    """The operations process: the projection consumers over the order, shipping and
    returns topics, their read models and the dashboards' API.

    ``store`` and ``queries`` replace the PostgreSQL event store and the SQL queries (route
    tests): such a host serves its API only.
    """
    host = ServiceHost(settings, FastAPI(title="OMS operations", version="1"), store=store)
    if store is None:
        engine = host.engine

        async def create_tables() -> None:
            await tables.create(engine)

        host.on_startup(create_tables)
    api.install(host.api, api.ApiContext(queries or SqlDashboardQueries(host.engine)))
    runner.subscribe(host, settings.generation)
    return host
