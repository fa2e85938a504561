"""HTTP API of the order service: submit, look up, inspect (also as of a moment), cancel,
feedback.

Routes are module-level and get the service through :func:`context` (an
:class:`OrderContext` in ``app.state``). Every error is the platform's RFC 9457 problem:
a :class:`~oms_platform.refusal.Refusal` raised here or in the domain, or a validation
error with one entry per bad field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse

from oms_events.contracts import CancelledBy
from oms_events.contracts.common import Id, Name
from oms_order import queries
from oms_order.bodies import AsOf, CancelRequest, FeedbackRequest, OrderFilters, OrderSubmission
from oms_order.domain.commands import CancelOrder, GiveFeedback
from oms_order.domain.intake import EMPTY_ORDER, refused
from oms_order.handlers import Intake, OrderHandlers, Outcome
from oms_order.projections.read_models import ReadModels
from oms_platform.auth import AuthError, Principal, Scope, allow
from oms_platform.commands import run_command
from oms_platform.eventstore.base import EventStore
from oms_platform.http import PROBLEM_RESPONSES, IdempotencyKeyHeader, RequestIdHeader, cause_of

_CANCELLED_BY = {
    "staff": CancelledBy.STAFF,
    "platform": CancelledBy.CUSTOMER,
    "customer": CancelledBy.CUSTOMER,
    "service": CancelledBy.SYSTEM,
}
Submitter = Annotated[Principal, allow(Scope.PLATFORM)]
Canceller = Annotated[Principal, allow(Scope.PLATFORM, Scope.CUSTOMER_SERVICE)]
Reader = allow(Scope.PLATFORM, Scope.CUSTOMER_SERVICE, Scope.OPERATIONS, Scope.AUDITOR)
STAFF_SCOPES = frozenset({Scope.CUSTOMER_SERVICE, Scope.OPERATIONS, Scope.AUDITOR})


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What the routes work with: the event store, the handlers and the read models."""

    store: EventStore
    handlers: OrderHandlers
    read_models: ReadModels


def install(app: FastAPI, context: OrderContext) -> None:
    """Serve the order API on ``app`` with ``context``."""
    app.state.order = context
    app.include_router(router)


def context(request: Request) -> OrderContext:
    found = request.app.state.order
    assert isinstance(found, OrderContext)
    return found


Ctx = Annotated[OrderContext, Depends(context)]
OrderId = Annotated[Id, Path(description="The OMS order id, e.g. ord-3f2a9c01b7de.")]

router = APIRouter(responses=PROBLEM_RESPONSES)


@router.post("/v1/orders", status_code=201)
async def submit_order(
    body: OrderSubmission,
    ctx: Ctx,
    caller: Submitter,
    idempotency_key: IdempotencyKeyHeader = None,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """Submit an order: 201 when placed, 200 with the existing order for a repeat,
    422 ``order_rejected`` (recorded as ``OrderRejected``) for business reasons."""
    intake = Intake(caller.actor, cause_of(request_id), idempotency_key)
    if not body.lines:
        await run_command(
            ctx.store,
            lambda uow: ctx.handlers.reject(
                uow, body.platform_order_ref, body.sales_channel, [EMPTY_ORDER], intake
            ),
        )
        raise refused([EMPTY_ORDER])
    sub = body.contract()
    result = await run_command(ctx.store, lambda uow: ctx.handlers.submit(uow, sub, intake))
    if result.outcome is Outcome.REJECTED or result.order_id is None:
        raise refused(result.problems)
    created = result.outcome is Outcome.CREATED
    doc = await queries.order(ctx.store, result.order_id)
    return JSONResponse(
        {**doc, "created": created},
        status_code=201 if created else 200,
        headers={"Location": f"/v1/orders/{result.order_id}"},
    )


@router.get("/v1/orders")
async def find_orders(
    filters: Annotated[OrderFilters, Query()],
    ctx: Ctx,
    caller: Annotated[Principal, Reader],
) -> JSONResponse:
    """Order summaries, newest first; ``stalled=true`` lists the orders waiting too long.

    Staff may search every order; a platform finds its own submission by
    ``platform_order_ref`` (e.g. one sent on the ingress topic), not the customer list.
    """
    if caller.scopes.isdisjoint(STAFF_SCOPES) and filters.platform_order_ref is None:
        raise AuthError(
            403,
            "a platform looks its orders up by platform_order_ref; searching all orders "
            "needs one of the scopes: customer-service, operations, auditor",
            sorted(STAFF_SCOPES),
        )
    return JSONResponse(await ctx.read_models.find_orders(filters.query()))


@router.get("/v1/orders/{order_id}", dependencies=[Reader])
async def get_order(
    order_id: OrderId, ctx: Ctx, as_of: Annotated[AsOf | None, Query()] = None
) -> JSONResponse:
    """The order with its payments, allocations and timeline; ``as_of`` for the past
    (compared with the time each event was recorded by the order service)."""
    return JSONResponse(await queries.order(ctx.store, order_id, as_of))


@router.post("/v1/orders/{order_id}/cancel")
async def cancel_order(
    order_id: OrderId,
    ctx: Ctx,
    caller: Canceller,
    body: Annotated[CancelRequest | None, Body()] = None,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """Cancel: 200 when cancelled at once (an order still placed); 202 when a confirmed
    order's cancellation was asked of fulfilment (also when asked already; the order's
    ``cancellation`` shows it pending); 409 ``cancellation_refused`` once shipped, cancelled,
    or refused by fulfilment."""
    body = body or CancelRequest()
    who = caller.actor
    command = CancelOrder(order_id, body.reason, _CANCELLED_BY[who.split(":", 1)[0]], body.detail)
    cause = cause_of(request_id)
    state = await run_command(ctx.store, lambda uow: ctx.handlers.cancel(uow, command, who, cause))
    status = 202 if state.cancellation_pending else 200
    return JSONResponse(await queries.order(ctx.store, order_id), status_code=status)


@router.post("/v1/orders/{order_id}/feedback", status_code=201)
async def give_feedback(
    order_id: OrderId,
    body: FeedbackRequest,
    ctx: Ctx,
    caller: Canceller,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """The customer's rating and comment: 201 with the order; 409 ``feedback_not_allowed``
    before delivery, ``feedback_exists`` the second time; 404 for an unknown order."""
    who = caller.actor
    command = GiveFeedback(order_id, body.rating, body.comment)
    cause = cause_of(request_id)
    await run_command(ctx.store, lambda uow: ctx.handlers.give_feedback(uow, command, who, cause))
    return JSONResponse(await queries.order(ctx.store, order_id), status_code=201)


@router.get(
    "/v1/rejections", dependencies=[allow(Scope.PLATFORM, Scope.CUSTOMER_SERVICE, Scope.OPERATIONS)]
)
async def find_rejections(
    platform_order_ref: Annotated[Id, Query()],
    sales_channel: Annotated[Name, Query()],
    ctx: Ctx,
) -> JSONResponse:
    """The rejected submissions of one platform order (oldest first), e.g. unknown SKUs."""
    return JSONResponse(await queries.rejections(ctx.store, platform_order_ref, sales_channel))
