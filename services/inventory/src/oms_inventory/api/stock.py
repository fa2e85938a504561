"""Stock movements (receipts, counts, transfers, thresholds) and stock levels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oms_events.contracts.common import Sku
from oms_inventory.api.context import READ, Ctx, Planner, StockKeeper, cause, recorded
from oms_inventory.api.schemas import (
    AdjustmentIn,
    ReceiptIn,
    ThresholdIn,
    TransferIn,
    WarehouseCode,
)
from oms_inventory.domain.commands import (
    AdjustStock,
    ReceiveStock,
    SetLowStockThreshold,
    TransferStock,
)
from oms_platform.http import RequestIdHeader

router = APIRouter()


@router.post("/stock/receipts", status_code=201)
async def receive_stock(
    ctx: Ctx, body: ReceiptIn, caller: StockKeeper, request_id: RequestIdHeader = None
) -> JSONResponse:
    """Book goods in; a reference already booked in that warehouse answers 200."""
    cmd = ReceiveStock(body.sku, body.warehouse, body.quantity, body.reference)
    c = cause(body.sku, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.change_stock(uow, cmd, c))
    return recorded(events, await ctx.queries.level(body.sku, body.warehouse))


@router.post("/stock/adjustments", status_code=201)
async def adjust_stock(
    ctx: Ctx, body: AdjustmentIn, caller: StockKeeper, request_id: RequestIdHeader = None
) -> JSONResponse:
    """A count: on hand becomes ``counted_quantity`` (409 below what is reserved)."""
    cmd = AdjustStock(body.sku, body.warehouse, body.counted_quantity, body.reason)
    c = cause(body.sku, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.change_stock(uow, cmd, c))
    return recorded(events, await ctx.queries.level(body.sku, body.warehouse))


@router.post("/stock/transfers", status_code=201)
async def transfer_stock(
    ctx: Ctx, body: TransferIn, caller: StockKeeper, request_id: RequestIdHeader = None
) -> JSONResponse:
    """Move available units between two warehouses (409 beyond what is available)."""
    cmd = TransferStock(body.sku, body.from_warehouse, body.to_warehouse, body.quantity)
    c = cause(body.sku, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.change_stock(uow, cmd, c))
    pair = (body.from_warehouse, body.to_warehouse)
    return recorded(events, await ctx.queries.levels(body.sku, pair))


@router.put("/stock/{sku}/{warehouse}/threshold")
async def set_threshold(
    ctx: Ctx,
    sku: Sku,
    warehouse: WarehouseCode,
    body: ThresholdIn,
    caller: Planner,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """Set the low-stock threshold; alerts at once if stock is already below it."""
    cmd = SetLowStockThreshold(sku, warehouse, body.low_stock_threshold)
    c = cause(sku, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.change_stock(uow, cmd, c))
    return recorded(events, await ctx.queries.level(sku, warehouse), created=200)


@router.get("/stock/{sku}", dependencies=[READ])
async def get_stock(ctx: Ctx, sku: Sku) -> dict[str, Any]:
    """On hand, reserved and available per warehouse, and totals."""
    return await ctx.queries.stock(sku)


@router.get("/stock", dependencies=[READ])
async def list_stock(ctx: Ctx, low: bool = False) -> list[dict[str, object]]:
    """Every SKU x warehouse from the read model (``low=true``: only those running low)."""
    return await ctx.queries.stock_list(low_only=low)
