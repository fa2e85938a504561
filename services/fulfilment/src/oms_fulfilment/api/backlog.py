"""The warehouses' backlog: open work against capacity ("more staff or more carriers?")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from oms_fulfilment.api.context import READ, Ctx
from oms_fulfilment.api.schemas import WarehouseCode

router = APIRouter()


@router.get("/warehouses/{code}/backlog", dependencies=[READ])
async def warehouse_backlog(ctx: Ctx, code: WarehouseCode) -> dict[str, Any]:
    """The warehouse's fulfilments and units to pick and to pack, packed today, the oldest
    request still to pick, and the hours of work that is at its capacity. A warehouse
    with nothing has zeros (at the default capacity if the code is not listed)."""
    return await ctx.queries.warehouse_backlog(code)


@router.get("/backlog", dependencies=[READ])
async def backlog(ctx: Ctx) -> dict[str, Any]:
    """Every warehouse with capacity listed, work open or something packed today, by code."""
    return await ctx.queries.backlogs()
