"""Shipments: one by id, or every shipment of an order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from oms_events.contracts.common import Id
from oms_platform.auth import Scope, allow
from oms_shipping.api.context import Ctx

READ = allow(
    Scope.CUSTOMER_SERVICE, Scope.OPERATIONS, Scope.WAREHOUSE, Scope.PLATFORM, Scope.AUDITOR
)

router = APIRouter()


@router.get("/shipments/{shipment_id}", dependencies=[READ])
async def get_shipment(ctx: Ctx, shipment_id: Id) -> dict[str, Any]:
    """Carrier, service, tracking number, cost and charge, the choice explained, timeline."""
    return await ctx.queries.shipment(shipment_id)


@router.get("/orders/{order_id}/shipments", dependencies=[READ])
async def order_shipments(ctx: Ctx, order_id: Id) -> dict[str, Any]:
    """Every shipment booked for the order (an empty list when none is)."""
    return await ctx.queries.order_shipments(order_id)


@router.get(
    "/returns/{return_id}/label",
    dependencies=[allow(Scope.WAREHOUSE, Scope.CUSTOMER_SERVICE, Scope.PLATFORM)],
)
async def return_label(ctx: Ctx, return_id: Id) -> dict[str, Any]:
    """The return label shipping booked for an authorised return: carrier, tracking, cost."""
    return await ctx.queries.return_label(return_id)
