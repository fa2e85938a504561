"""The returns routes: ask for a return, receive it, read returns."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oms_events.contracts.common import Id
from oms_platform.auth import Principal, Scope, allow
from oms_platform.commands import run_command
from oms_platform.http import IdempotencyKeyHeader, RequestIdHeader, cause_of
from oms_returns.api.context import Ctx
from oms_returns.api.schemas import ReceiptIn, ReturnIn, RmaPath
from oms_returns.domain.commands import ReceivedLine, RequestedLine
from oms_returns.handlers import Cause

router = APIRouter()

Requester = Annotated[Principal, allow(Scope.PLATFORM, Scope.CUSTOMER_SERVICE)]
Receiver = Annotated[Principal, allow(Scope.WAREHOUSE)]
READ = allow(
    Scope.PLATFORM, Scope.CUSTOMER_SERVICE, Scope.OPERATIONS, Scope.WAREHOUSE, Scope.AUDITOR
)


@router.post("/orders/{order_id}/returns", status_code=201)
async def request_return(
    ctx: Ctx,
    order_id: Id,
    body: ReturnIn,
    caller: Requester,
    idempotency_key: IdempotencyKeyHeader = None,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """Ask to return lines of a delivered order: 201 with the authorised return (RMA).

    The RMA follows from the order and the ``Idempotency-Key`` (else ``X-Request-Id``,
    else a new id): the same request again answers with the same return, the same key
    with other lines is refused (409 ``return_exists``).
    """
    key = idempotency_key or request_id or f"req-{uuid.uuid4()}"
    lines = tuple(
        RequestedLine(ln.sku, ln.quantity, ln.reason or body.reason, ln.comment or body.comment)
        for ln in body.lines
    )
    cause = Cause(cause_of(request_id), caller.actor)
    rma, _ = await run_command(
        ctx.store, lambda uow: ctx.returns.request(uow, order_id, key, lines, cause)
    )
    view = await ctx.queries.one(rma)
    return JSONResponse(view, status_code=201)


@router.post("/returns/{rma}/received")
async def received(
    ctx: Ctx,
    rma: RmaPath,
    body: ReceiptIn,
    caller: Receiver,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """The warehouse's receipt: per line the units and their condition. 200 with the
    resolved return (the same receipt again: the same answer, nothing recorded)."""
    lines = tuple(ReceivedLine(ln.sku, ln.quantity, ln.condition) for ln in body.lines)
    cause = Cause(cause_of(request_id), caller.actor)
    events = await run_command(ctx.store, lambda uow: ctx.returns.receive(uow, rma, lines, cause))
    view = await ctx.queries.one(rma)
    return JSONResponse({**view, "recorded": [e.event_type for e in events]})


@router.get("/returns/{rma}", dependencies=[READ])
async def get_return(ctx: Ctx, rma: RmaPath) -> dict[str, Any]:
    """One return: what was asked, authorised, received, refunded; its timeline."""
    return await ctx.queries.one(rma)


@router.get("/orders/{order_id}/returns", dependencies=[READ])
async def order_returns(ctx: Ctx, order_id: Id) -> dict[str, Any]:
    """Every return of the order, oldest first (an empty list when none)."""
    return await ctx.queries.of_order(order_id)
