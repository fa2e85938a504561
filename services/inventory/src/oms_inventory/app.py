"""Composition root: ``create_app(settings)`` wires the inventory service; nothing connects yet."""

from __future__ import annotations

from fastapi import FastAPI

from oms_inventory.api import create_router, install_error_handlers
from oms_inventory.consumers import subscribe
from oms_inventory.handlers import Inventory
from oms_inventory.projections.demand import DemandProjection
from oms_inventory.projections.stock_levels import StockLevelsProjection
from oms_inventory.settings import InventorySettings
from oms_platform.service import ServiceHost


def create_app(settings: InventorySettings) -> ServiceHost:
    """The inventory process: HTTP API, order and shipment consumers, relay, read models."""
    api = FastAPI(title="OMS inventory", version="1")
    host = ServiceHost(settings, api)
    inventory = Inventory()
    install_error_handlers(api)
    api.include_router(
        create_router(
            host.store,
            host.engine,
            inventory,
            velocity_window_days=settings.velocity_window_days,
            default_strategy=settings.allocation_strategy,
        )
    )
    subscribe(host, inventory, settings)
    host.add_projection(StockLevelsProjection())
    host.add_projection(DemandProjection())
    return host
