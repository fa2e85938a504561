"""The dashboards' JSON API: ``GET /v1/dashboard/{orders,shipping,returns,satisfaction,
payments,stock,capacity}`` and an order's cross-service timeline,
``GET /v1/timeline/{order_id}``. Every list in an answer is bounded (see ``queries``).

Every dashboard takes the same optional filters: ``from`` and ``to`` (ISO dates, ``to``
inclusive, at most ten years apart), ``warehouse`` and ``carrier`` (codes). A bad filter
is a 422 problem body naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request

from oms_events.contracts.common import Id
from oms_operations.queries import DashboardQueries, Filters
from oms_platform.auth import Scope, allow
from oms_platform.http import PROBLEM_RESPONSES, ProblemResponse, invalid_response
from oms_platform.refusal import FieldError

MAX_SPAN_DAYS = 3660
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2999, 12, 31)
"""The dates a filter may name (so the day after ``to`` is always a date)."""
CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

router = APIRouter(
    prefix="/v1/dashboard",
    responses=PROBLEM_RESPONSES,
    dependencies=[allow(Scope.OPERATIONS, Scope.AUDITOR)],
)
timeline_router = APIRouter(
    prefix="/v1/timeline",
    responses=PROBLEM_RESPONSES,
    dependencies=[allow(Scope.CUSTOMER_SERVICE, Scope.OPERATIONS, Scope.AUDITOR)],
)


@dataclass(frozen=True)
class ApiContext:
    queries: DashboardQueries


class BadFilter(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def filters(
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    warehouse: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
    carrier: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
) -> Filters:
    for name, value in (("from", start), ("to", end)):
        if value is not None and not FIRST_DATE <= value <= LAST_DATE:
            raise BadFilter(f"query:{name}", f"a date from {FIRST_DATE} to {LAST_DATE}")
    if start and end:
        if end < start:
            raise BadFilter("query:to", "'to' is before 'from'")
        if (end - start).days > MAX_SPAN_DAYS:
            raise BadFilter("query:to", f"at most {MAX_SPAN_DAYS} days from 'from'")
    return Filters(start, end, warehouse, carrier)


def queries(request: Request) -> DashboardQueries:
    ctx: ApiContext = request.app.state.operations
    return ctx.queries


Q = Annotated[DashboardQueries, Depends(queries)]
F = Annotated[Filters, Depends(filters)]


@router.get("/orders")
async def orders(q: Q, f: F) -> dict[str, Any]:
    """Orders by status, lead times (p50/p90 in seconds), backlog per warehouse
    (confirmed, not yet dispatched from that warehouse) and ``past_promised_date``:
    ``orders`` and ``parcels`` not delivered by the promised date (still out after it,
    or delivered on a later day), ``as_of`` (today) and the ``oldest`` such parcels
    (order, shipment, carrier, warehouse, status, promised date, delivered at, days late)."""
    return await q.orders(f)


@router.get("/shipping")
async def shipping(q: Q, f: F) -> dict[str, Any]:
    """Per carrier, service and warehouse: parcels, real cost, charged price, cost as a
    share of the orders' value and the late-delivery rate."""
    return await q.shipping(f)


@router.get("/returns")
async def returns(q: Q, f: F) -> dict[str, Any]:
    """Returns: count and rate (per delivered order) by reason, by SKU (per delivered
    unit), units by condition on receipt, refunded value and days to refund."""
    return await q.returns(f)


@router.get("/satisfaction")
async def satisfaction(q: Q, f: F) -> dict[str, Any]:
    """Mean rating and count by carrier, warehouse, split versus single parcel, and
    returned versus kept."""
    return await q.satisfaction(f)


@router.get("/payments")
async def payments(q: Q, f: F) -> dict[str, Any]:
    """Payments requested in the window: ``payments``, ``orders``, ``by_status``;
    ``by_method`` (per method and currency: payments, orders, ``order_share`` of the
    orders, amount asked); ``declines`` (``attempted`` = authorised or declined,
    ``declined``, ``decline_rate``, ``by_method``, ``by_reason``); ``totals`` per currency
    (authorized, captured, refunded, voided)."""
    return await q.payments(f)


@router.get("/stock")
async def stock(q: Q, f: F) -> dict[str, Any]:
    """Stock now (``warehouse`` filters): ``rows``, ``levels`` per SKU x warehouse (on
    hand, reserved, available, low-stock threshold, low), ``low_stock`` (``rows``,
    ``levels``, the furthest below their threshold first) and ``promotions`` not over yet
    (overlapping ``from``..``to`` when given), each with ``ready`` and per SKU the units
    available, expected demand during the promotion, shortfall and suggested reorder, in
    total and per warehouse."""
    return await q.stock(f)


@router.get("/capacity")
async def capacity(q: Q, f: F) -> dict[str, Any]:
    """Dispatch backlog against capacity over the last 24 hours of the window (up to
    now): ``hours``; ``warehouses``, each with its ``capacity`` (picks and packs per
    hour, ``default`` when its code is not listed), ``backlog`` now, the longest run of
    ``hours_over_capacity`` and per hour the units in, packed, dropped and the backlog at
    its end; ``carriers`` (delivered, late, late-delivery rate of parcels dispatched in
    the window); ``signals`` (more staff, another carrier) and their ``thresholds``."""
    return await q.capacity(f)


OrderId = Annotated[Id, Path(description="The OMS order id, e.g. ord-3f2a9c01b7de.")]


@timeline_router.get("/{order_id}")
async def timeline(q: Q, order_id: OrderId) -> dict[str, Any]:
    """The order's events from every service, oldest first: ``order_id`` and ``events``
    (each ``event_id``, ``type``, ``occurred_at``, ``actor``, ``producer``,
    ``correlation_id``, ``causation_id``, ``summary``); ``events`` is empty for an order
    not seen (yet)."""
    return {"order_id": order_id, "events": await q.timeline(order_id)}


def install(app: FastAPI, ctx: ApiContext) -> None:
    app.state.operations = ctx

    async def bad_filter(_request: Request, err: Exception) -> ProblemResponse:
        assert isinstance(err, BadFilter)
        return invalid_response([FieldError(err.field, err.reason, "invalid_range")], "query")

    app.add_exception_handler(BadFilter, bad_filter)
    app.include_router(router)
    app.include_router(timeline_router)
