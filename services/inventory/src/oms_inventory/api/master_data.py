"""Warehouses and SKUs: register, change, read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oms_events.contracts.common import Sku
from oms_inventory.api.context import READ, Ctx, Planner, cause, recorded
from oms_inventory.api.schemas import SkuChange, SkuIn, WarehouseChange, WarehouseCode, WarehouseIn
from oms_inventory.domain.commands import ChangeSku, ChangeWarehouse, RegisterSku, RegisterWarehouse
from oms_platform.http import RequestIdHeader

router = APIRouter()


@router.post("/warehouses", status_code=201)
async def register_warehouse(
    ctx: Ctx, body: WarehouseIn, caller: Planner, request_id: RequestIdHeader = None
) -> JSONResponse:
    """Register a warehouse (201); the same details again answer 200 and record nothing."""
    cmd = RegisterWarehouse(body.code, body.name, body.country, body.priority, body.active)
    c = cause(body.code, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.register_warehouse(uow, cmd, c))
    return recorded(events, body.model_dump())


@router.put("/warehouses/{code}")
async def change_warehouse(
    ctx: Ctx,
    code: WarehouseCode,
    body: WarehouseChange,
    caller: Planner,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """Change a registered warehouse, e.g. deactivate it (404 for an unknown code)."""
    cmd = ChangeWarehouse(code, body.name, body.country, body.priority, body.active)
    c = cause(code, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.register_warehouse(uow, cmd, c))
    return recorded(events, {"code": code, **body.model_dump()}, created=200)


@router.get("/warehouses", dependencies=[READ])
async def list_warehouses(ctx: Ctx) -> list[dict[str, Any]]:
    return await ctx.queries.warehouses()


@router.get("/warehouses/{code}", dependencies=[READ])
async def get_warehouse(ctx: Ctx, code: WarehouseCode) -> dict[str, Any]:
    return await ctx.queries.warehouse(code)


@router.post("/skus", status_code=201)
async def register_sku(
    ctx: Ctx, body: SkuIn, caller: Planner, request_id: RequestIdHeader = None
) -> JSONResponse:
    """Register a SKU (201); the same details again answer 200 and record nothing."""
    cmd = RegisterSku(**body.model_dump())
    c = cause(body.sku, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.change_stock(uow, cmd, c))
    return recorded(events, body.model_dump())


@router.put("/skus/{sku}")
async def change_sku(
    ctx: Ctx,
    sku: Sku,
    body: SkuChange,
    caller: Planner,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """Change a registered SKU's master data (404 for an unknown SKU)."""
    cmd = ChangeSku(sku=sku, **body.model_dump())
    c = cause(sku, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.change_stock(uow, cmd, c))
    return recorded(events, {"sku": sku, **body.model_dump()}, created=200)


@router.get("/skus/{sku}", dependencies=[READ])
async def get_sku(ctx: Ctx, sku: Sku) -> dict[str, Any]:
    return await ctx.queries.sku(sku)
