"""HTTP API: warehouses, SKUs, stock movements, reservations and promotions (JSON).

Routes are module level (one ``APIRouter`` per area, built once) and reach the service
through one dependency, the :class:`~oms_inventory.api.context.ApiContext` that
:func:`install` puts in ``app.state``. Bodies are pydantic models of contract types
(``schemas``); reads live in ``oms_inventory.queries``. Every error is the platform's
RFC 9457 problem (``oms_platform.http``): 422 with one entry per field for bad input,
404 for an unknown SKU, warehouse, reservation or promotion, 409 for a command the state
forbids, 413 for a body over 1 MiB. Commands run in one unit of work each and are retried
from scratch on a conflict.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from oms_inventory.api import master_data, orders, promotions, stock
from oms_inventory.api.context import ApiContext
from oms_platform.http import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
for _area in (master_data, stock, orders, promotions):
    router.include_router(_area.router)


def install(app: FastAPI, context: ApiContext) -> None:
    """Serve the ``/v1`` routes on ``app`` over ``context``."""
    app.state.inventory = context
    app.include_router(router)


__all__ = ["ApiContext", "install", "router"]
