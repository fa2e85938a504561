"""Composition root: ``create_app(settings)`` wires the inventory service; nothing connects yet."""

from __future__ import annotations

from fastapi import FastAPI

from oms_inventory import api
from oms_inventory.consumers import subscribe
from oms_inventory.handlers import Inventory
from oms_inventory.projections.demand import DemandProjection
from oms_inventory.projections.stock_levels import StockLevelsProjection
from oms_inventory.queries import InventoryQueries
from oms_inventory.settings import InventorySettings
from oms_platform.eventstore import EventStore
from oms_platform.service import ServiceHost


def create_app(settings: InventorySettings, *, store: EventStore | None = None) -> ServiceHost:
    """The inventory process: HTTP API, order and shipment consumers, relay, read models.

    ``store`` replaces the PostgreSQL event store (e.g. with the in-memory one): the host
    then serves its HTTP API only, which is how the routes are tested without a database.
    """
    host = ServiceHost(settings, FastAPI(title="OMS inventory", version="1"), store=store)
    inventory = Inventory(strategy=settings.allocation_strategy)
    queries = InventoryQueries(
        host.store, host.engine, inventory, velocity_window_days=settings.velocity_window_days
    )
    api.install(host.api, api.ApiContext(host.store, inventory, queries))
    subscribe(host, inventory)
    host.add_projection(StockLevelsProjection())
    host.add_projection(DemandProjection())
    return host
