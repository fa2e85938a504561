"""Reservations (read) and allocation previews (what an order would get, reserving nothing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from oms_events.contracts.common import Id
from oms_inventory.api.context import READ, Ctx
from oms_inventory.api.schemas import PreviewIn
from oms_inventory.domain.allocation import LineRequest
from oms_platform.auth import Scope, allow

router = APIRouter()


@router.get("/reservations/{order_id}", dependencies=[READ])
async def get_reservation(ctx: Ctx, order_id: Id) -> dict[str, Any]:
    """An order's reservation: status, allocations with reasons, outstanding, shipments."""
    return await ctx.queries.reservation(order_id)


@router.post("/allocations/preview", dependencies=[allow(Scope.PLATFORM, Scope.OPERATIONS)])
async def preview_allocation(ctx: Ctx, body: PreviewIn) -> dict[str, Any]:
    """What allocation would decide for these lines now, without reserving anything."""
    lines = [LineRequest(ln.line_id, ln.sku, ln.quantity) for ln in body.lines]
    return await ctx.queries.preview(lines, body.country, body.strategy)
