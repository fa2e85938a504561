"""The warehouse's routes: pick lists, one fulfilment, picked, packed, cancelled."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from oms_events.contracts.common import Id
from oms_fulfilment.api.context import READ, Ctx, Warehouse, cause, recorded
from oms_fulfilment.api.schemas import MAX_PAGE, CancelIn, PickIn, PicklistStatus, WarehouseCode
from oms_fulfilment.domain.commands import CancelFulfilment, PickedLine, RecordPick
from oms_platform.http import RequestIdHeader

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many (1-500).")]


@router.get("/warehouses/{code}/picklists", dependencies=[READ])
async def picklists(
    ctx: Ctx,
    code: WarehouseCode,
    status: PicklistStatus = PicklistStatus.OPEN,
    limit: Limit = 100,
) -> dict[str, Any]:
    """The warehouse's fulfilments in ``status`` (default open: to be picked), oldest
    request first, each with its pick list; ``more`` says whether ``limit`` cut it off."""
    return await ctx.queries.open_picklists(code, status.value, limit)


@router.get("/fulfilments/{fulfilment_id}", dependencies=[READ])
async def get_fulfilment(ctx: Ctx, fulfilment_id: Id) -> dict[str, Any]:
    """One fulfilment from its stream: pick list, what was found, parcels, status."""
    return await ctx.queries.fulfilment(fulfilment_id)


@router.post("/fulfilments/{fulfilment_id}/picked", status_code=201)
async def picked(
    ctx: Ctx,
    fulfilment_id: Id,
    body: PickIn,
    caller: Warehouse,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """The pick report: per SKU the units found. Fewer than asked is a short pick."""
    cmd = RecordPick(fulfilment_id, tuple(PickedLine(ln.sku, ln.quantity) for ln in body.lines))
    c = cause(fulfilment_id, caller, request_id)
    events = await ctx.run(lambda uow: ctx.fulfilments.pick(uow, cmd, c))
    return recorded(events, await ctx.queries.fulfilment(fulfilment_id))


@router.post("/fulfilments/{fulfilment_id}/packed", status_code=201)
async def packed(
    ctx: Ctx, fulfilment_id: Id, caller: Warehouse, request_id: RequestIdHeader = None
) -> JSONResponse:
    """Pack what was picked: boxes chosen from the catalogue by the SKUs' sizes."""
    c = cause(fulfilment_id, caller, request_id)
    events = await ctx.run(lambda uow: ctx.fulfilments.pack(uow, fulfilment_id, c))
    return recorded(events, await ctx.queries.fulfilment(fulfilment_id))


@router.post("/fulfilments/{fulfilment_id}/cancel", status_code=201)
async def cancel(
    ctx: Ctx,
    fulfilment_id: Id,
    body: CancelIn,
    caller: Warehouse,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """Stop the fulfilment before packing (409 ``already_packed`` after)."""
    cmd = CancelFulfilment(fulfilment_id, body.reason)
    c = cause(fulfilment_id, caller, request_id)
    events = await ctx.run(lambda uow: ctx.fulfilments.cancel(uow, cmd, c))
    return recorded(events, await ctx.queries.fulfilment(fulfilment_id))
