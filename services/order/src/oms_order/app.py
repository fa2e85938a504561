"""Composition root: ``create_app(settings)`` wires the order service (connects nothing yet)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from oms_order.api import create_router, validation_exception_handler
from oms_order.consumers import subscribe
from oms_order.handlers import OrderHandlers
from oms_order.projections.tables import SqlReadModels
from oms_order.settings import OrderSettings
from oms_order.streams import new_order_id
from oms_platform.service import ServiceHost


def create_app(settings: OrderSettings) -> ServiceHost:
    """The order service: HTTP API, intake and fact consumers, relay, tables."""
    api = FastAPI(title="OMS order service")
    api.add_exception_handler(RequestValidationError, validation_exception_handler)
    host = ServiceHost(settings, api)
    tables = SqlReadModels(check_skus=settings.check_skus)
    handlers = OrderHandlers(tables, new_order_id)

    async def create_tables() -> None:
        await tables.create(host.engine)

    host.on_startup(create_tables)
    subscribe(host, handlers)
    api.include_router(create_router(host.store, host.engine, handlers))
    return host
