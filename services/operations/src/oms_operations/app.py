"""Composition root: ``create_app(settings)`` wires the operations service; nothing connects yet."""

from __future__ import annotations

from fastapi import FastAPI

from oms_operations import api, web
from oms_operations.projections import runner, tables
from oms_operations.queries import DashboardQueries, SqlDashboardQueries
from oms_operations.settings import OperationsSettings
from oms_operations.web.actions import Services
from oms_operations.web.context import WebContext
from oms_operations.web.lookup import Lookup, SqlLookup
from oms_operations.web.vendor import Vendor, find_vendor
from oms_platform.eventstore.base import EventStore
from oms_platform.service import ServiceHost


def create_app(
    settings: OperationsSettings,
    *,
    store: EventStore | None = None,
    queries: DashboardQueries | None = None,
    lookup: Lookup | None = None,
    services: Services | None = None,
    vendor: Vendor | None = None,
) -> ServiceHost:
    """The operations process: the projection consumers over the order, shipping and
    returns topics, their read models and the dashboards' API.

    ``store`` and ``queries`` replace the PostgreSQL event store and the SQL queries (route
    tests): such a host serves its API only. ``lookup``, ``services`` and ``vendor`` replace
    the web pages' SQL reads, the services the console calls and the front-end bundles.
    """
    host = ServiceHost(settings, FastAPI(title="OMS operations", version="1"), store=store)
    if store is None:
        engine = host.engine

        async def create_tables() -> None:
            await tables.create(engine)

        host.on_startup(create_tables)
    figures = queries or SqlDashboardQueries(host.engine)
    api.install(host.api, api.ApiContext(figures))
    web.install(
        host.api,
        WebContext(
            figures,
            lookup or SqlLookup(host.engine),
            services or Services(settings.order_url, settings.returns_url, settings.payments_url),
            settings.tracking_key.get_secret_value().encode(),
            vendor or find_vendor(),
        ),
    )
    runner.subscribe(host, settings.generation)
    return host
