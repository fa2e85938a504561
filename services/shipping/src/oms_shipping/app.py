"""Composition root: ``create_app(settings)`` wires the shipping service; nothing connects yet."""

from __future__ import annotations

from fastapi import FastAPI

from oms_platform.eventstore import EventStore
from oms_platform.service import ServiceHost
from oms_shipping import api
from oms_shipping.consumers import subscribe
from oms_shipping.directory import Directory, MemoryDirectory, SqlDirectory
from oms_shipping.handlers import Shipping
from oms_shipping.queries import ShippingQueries
from oms_shipping.settings import ShippingSettings


def create_app(settings: ShippingSettings, *, store: EventStore | None = None) -> ServiceHost:
    """The shipping process: HTTP API (webhooks, shipments), order and parcel consumers,
    relay.

    ``store`` replaces the PostgreSQL event store (e.g. with the in-memory one): the host
    then serves its HTTP API only, over an in-memory directory (``host.api.state.shipping``), which
    is how the routes are tested without a database.
    """
    host = ServiceHost(settings, FastAPI(title="OMS shipping", version="1"), store=store)
    directory: Directory
    if store is None:
        sql = SqlDirectory(host.engine)
        host.on_startup(sql.create_schema)
        directory = sql
    else:
        directory = MemoryDirectory()
    shipping = Shipping(directory, settings.warehouse_countries, settings.promised_method)
    queries = ShippingQueries(host.store, directory)
    api.install(host.api, api.ApiContext(host.store, shipping, queries, settings.webhook_secrets()))
    subscribe(host, shipping)
    return host
