"""HTTP API: warehouses, SKUs, stock movements, reservations and promotions (JSON).

Bad input is answered 422 with one reason per field; an unknown SKU, warehouse,
reservation or promotion 404; a command that contradicts the stock (a count below what is
reserved, a transfer of more than is available, other details for an existing code) 409.
Commands run in one unit of work each and are retried from scratch on a conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.base import Event
from oms_events.contracts import AllocationStrategy
from oms_inventory.domain.allocation import (
    STRATEGIES,
    AllocationFailure,
    LineAllocation,
    LineRequest,
    allocate,
)
from oms_inventory.domain.commands import (
    AdjustStock,
    PlanPromotion,
    ReceiveStock,
    RegisterSku,
    RegisterWarehouse,
    SetLowStockThreshold,
    TransferStock,
)
from oms_inventory.domain.errors import NotFound, Rejected
from oms_inventory.domain.promotions import Readiness, assess
from oms_inventory.domain.reservation import Reservation, ReservationStatus
from oms_inventory.domain.stock import Level, SkuStock
from oms_inventory.handlers import Cause, Inventory
from oms_inventory.projections.demand import units_sold
from oms_inventory.projections.stock_levels import all_levels
from oms_platform.commands import run_command
from oms_platform.eventstore import EventStore, UnitOfWork

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
Sku = Annotated[str, Field(min_length=1, max_length=64)]
Positive = Annotated[int, Field(strict=True, gt=0)]
NonNegative = Annotated[int, Field(strict=True, ge=0)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseIn(_In):
    code: Code
    name: Name
    country: Country
    priority: NonNegative = Field(description="1 is the most preferred; ties go by code.")
    active: bool = True


class WarehouseChange(_In):
    name: Name
    country: Country
    priority: NonNegative
    active: bool = True


class SkuIn(_In):
    sku: Sku
    name: Name
    weight_grams: Positive
    length_mm: Positive
    width_mm: Positive
    height_mm: Positive


class SkuChange(_In):
    name: Name
    weight_grams: Positive
    length_mm: Positive
    width_mm: Positive
    height_mm: Positive


class ReceiptIn(_In):
    sku: Sku
    warehouse: Code
    quantity: Positive
    reference: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Delivery note or PO; the same one is booked in once."
    )


class AdjustmentIn(_In):
    sku: Sku
    warehouse: Code
    counted_quantity: NonNegative
    reason: Text


class TransferIn(_In):
    sku: Sku
    from_warehouse: Code
    to_warehouse: Code
    quantity: Positive

    @model_validator(mode="after")
    def _two_warehouses(self) -> TransferIn:
        if self.from_warehouse == self.to_warehouse:
            raise ValueError("to_warehouse must differ from from_warehouse")
        return self


class PreviewLine(_In):
    line_id: Annotated[str, Field(min_length=1, max_length=100)]
    sku: Sku
    quantity: Positive


class PreviewIn(_In):
    lines: Annotated[list[PreviewLine], Field(min_length=1, max_length=500)]
    country: Country
    strategy: AllocationStrategy | None = Field(
        default=None, description="Default: the service's configured strategy."
    )

    @model_validator(mode="after")
    def _implemented(self) -> PreviewIn:
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        return self


class ThresholdIn(_In):
    low_stock_threshold: NonNegative


class PromotionIn(_In):
    promotion_id: Code | None = Field(default=None, description="Generated when omitted.")
    name: Name
    skus: Annotated[list[Sku], Field(min_length=1, max_length=500)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    expected_uplift: Annotated[Decimal, Field(gt=0, le=1000, allow_inf_nan=False)] = Field(
        description="Sales multiplier during the promotion: 2.5 = 2.5 times the normal rate."
    )

    @model_validator(mode="after")
    def _window(self) -> PromotionIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def install_error_handlers(app: FastAPI) -> None:
    """422 with per-field reasons; 404/409 from refused commands, with their reason."""

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p != "body") or "body",
                "reason": e["msg"],
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Rejected)
        status = 404 if isinstance(exc, NotFound) else 409
        return JSONResponse({"detail": exc.reason, "field": exc.field}, status_code=status)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Rejected, refused)


def create_router(
    store: EventStore,
    engine: AsyncEngine | None,
    inventory: Inventory,
    *,
    velocity_window_days: int,
    default_strategy: AllocationStrategy,
) -> APIRouter:
    """The ``/v1`` routes over ``store``; ``engine`` serves the read-model queries."""
    router = APIRouter(prefix="/v1")

    def cause(correlation_id: str, actor: str | None, request_id: str | None) -> Cause:
        return Cause(correlation_id, request_id, actor or "staff:api")

    async def command(work: Callable[[UnitOfWork], Awaitable[list[Event]]]) -> list[Event]:
        return await run_command(store, work)

    def recorded(events: list[Event], body: dict[str, Any]) -> JSONResponse:
        body = {**body, "recorded": [e.event_type for e in events]}
        return JSONResponse(body, status_code=201 if events else 200)

    Actor = Annotated[str | None, Header(alias="X-Actor", max_length=200)]
    RequestId = Annotated[str | None, Header(alias="X-Request-Id", max_length=200)]

    # -- warehouses ---------------------------------------------------------------------------

    @router.post("/warehouses", status_code=201)
    async def register_warehouse(
        body: WarehouseIn, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        cmd = RegisterWarehouse(body.code, body.name, body.country, body.priority, body.active)
        c = cause(body.code, actor, request_id)
        events = await command(lambda uow: inventory.register_warehouse(uow, cmd, c))
        return recorded(events, body.model_dump())

    @router.put("/warehouses/{code}")
    async def change_warehouse(
        code: Code, body: WarehouseChange, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        known, _ = await inventory.load_warehouses(store)
        known.get(code)
        cmd = RegisterWarehouse(
            code, body.name, body.country, body.priority, body.active, replace=True
        )
        c = cause(code, actor, request_id)
        events = await command(lambda uow: inventory.register_warehouse(uow, cmd, c))
        return JSONResponse({"code": code, **body.model_dump(), "recorded": _types(events)})

    @router.get("/warehouses")
    async def list_warehouses() -> list[dict[str, Any]]:
        known, _ = await inventory.load_warehouses(store)
        return [_warehouse(w) for w in known.all()]

    @router.get("/warehouses/{code}")
    async def get_warehouse(code: str) -> dict[str, Any]:
        known, _ = await inventory.load_warehouses(store)
        return _warehouse(known.get(code))

    # -- SKUs -----------------------------------------------------------------------------------

    @router.post("/skus", status_code=201)
    async def register_sku(
        body: SkuIn, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        cmd = RegisterSku(**body.model_dump())
        c = cause(body.sku, actor, request_id)
        events = await command(lambda uow: inventory.register_sku(uow, cmd, c))
        return recorded(events, body.model_dump())

    @router.put("/skus/{sku}")
    async def change_sku(
        sku: Sku, body: SkuChange, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        (await inventory.load_stock(store, sku))[0].registered()
        cmd = RegisterSku(sku=sku, **body.model_dump(), replace=True)
        c = cause(sku, actor, request_id)
        events = await command(lambda uow: inventory.register_sku(uow, cmd, c))
        return JSONResponse({"sku": sku, **body.model_dump(), "recorded": _types(events)})

    @router.get("/skus/{sku}")
    async def get_sku(sku: str) -> dict[str, Any]:
        state, _ = await inventory.load_stock(store, sku)
        info = state.registered()
        return {
            "sku": info.sku,
            "name": info.name,
            "weight_grams": info.weight_grams,
            "length_mm": info.length_mm,
            "width_mm": info.width_mm,
            "height_mm": info.height_mm,
        }

    # -- stock ----------------------------------------------------------------------------------

    @router.post("/stock/receipts", status_code=201)
    async def receive(
        body: ReceiptIn, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        cmd = ReceiveStock(body.sku, body.warehouse, body.quantity, body.reference)
        c = cause(body.sku, actor, request_id)
        events = await command(lambda uow: inventory.receive_stock(uow, cmd, c))
        return recorded(events, await level_of(body.sku, body.warehouse))

    @router.post("/stock/adjustments", status_code=201)
    async def adjust(
        body: AdjustmentIn, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        cmd = AdjustStock(body.sku, body.warehouse, body.counted_quantity, body.reason)
        c = cause(body.sku, actor, request_id)
        events = await command(lambda uow: inventory.adjust_stock(uow, cmd, c))
        return recorded(events, await level_of(body.sku, body.warehouse))

    @router.post("/stock/transfers", status_code=201)
    async def transfer(
        body: TransferIn, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        cmd = TransferStock(body.sku, body.from_warehouse, body.to_warehouse, body.quantity)
        c = cause(body.sku, actor, request_id)
        events = await command(lambda uow: inventory.transfer_stock(uow, cmd, c))
        state, _ = await inventory.load_stock(store, body.sku)
        levels = [_level(w, state.level(w)) for w in (body.from_warehouse, body.to_warehouse)]
        return recorded(events, {"sku": body.sku, "warehouses": levels})

    @router.put("/stock/{sku}/{warehouse}/threshold")
    async def set_threshold(
        sku: Sku,
        warehouse: Code,
        body: ThresholdIn,
        actor: Actor = None,
        request_id: RequestId = None,
    ) -> JSONResponse:
        cmd = SetLowStockThreshold(sku, warehouse, body.low_stock_threshold)
        c = cause(sku, actor, request_id)
        events = await command(lambda uow: inventory.set_threshold(uow, cmd, c))
        body_out = await level_of(sku, warehouse)
        return JSONResponse({**body_out, "recorded": _types(events)})

    @router.get("/stock/{sku}")
    async def get_stock(sku: str) -> dict[str, Any]:
        state, _ = await inventory.load_stock(store, sku)
        info = state.registered()
        levels = [_level(w, lvl) for w, lvl in sorted(state.levels.items())]
        return {"sku": sku, "name": info.name, "warehouses": levels, "totals": _totals(state)}

    @router.get("/stock")
    async def list_stock(low: bool = False) -> list[dict[str, Any]]:
        """Every SKU x warehouse from the read model (``low=true``: only those running low)."""
        assert engine is not None
        async with engine.connect() as conn:
            return await all_levels(conn, low_only=low)

    async def level_of(sku: str, warehouse: str) -> dict[str, Any]:
        state, _ = await inventory.load_stock(store, sku)
        return {"sku": sku, **_level(warehouse, state.level(warehouse))}

    # -- reservations -------------------------------------------------------------------------

    @router.get("/reservations/{order_id}")
    async def get_reservation(order_id: str) -> dict[str, Any]:
        state, version = await inventory.load_reservation(store, order_id)
        if version == 0:
            raise NotFound(f"no reservation for order {order_id!r}", field="order_id")
        return _reservation(state)

    @router.post("/allocations/preview")
    async def preview_allocation(body: PreviewIn) -> dict[str, Any]:
        """What allocation would decide for these lines now, without reserving anything."""
        known, _ = await inventory.load_warehouses(store)
        snapshot = {}
        for sku in {ln.sku for ln in body.lines}:
            state, _ = await inventory.load_stock(store, sku)
            snapshot[sku] = state.available() if state.info else {}
        lines = [LineRequest(ln.line_id, ln.sku, ln.quantity) for ln in body.lines]
        strategy = body.strategy or default_strategy
        result = allocate(snapshot, lines, body.country, known.all(), strategy)
        if isinstance(result, AllocationFailure):
            shortages = [
                {"sku": x.sku, "requested": x.requested, "available": x.available}
                for x in result.shortages
            ]
            return {"feasible": False, "reasoning": result.summary, "shortages": shortages}
        reasons = {r.line_id: r.reason for r in result.reasons}
        return {
            "feasible": True,
            "strategy": strategy.value,
            "reasoning": result.summary,
            "parcels": len(result.warehouses),
            "allocations": [
                {**_allocation(a), "reason": reasons[a.line_id]} for a in result.allocations
            ],
        }

    # -- promotions -----------------------------------------------------------------------------

    @router.post("/promotions", status_code=201)
    async def plan_promotion(
        body: PromotionIn, actor: Actor = None, request_id: RequestId = None
    ) -> JSONResponse:
        promotion_id = body.promotion_id or f"promo-{uuid.uuid4().hex[:12]}"
        cmd = PlanPromotion(
            promotion_id,
            body.name,
            tuple(dict.fromkeys(body.skus)),
            body.starts_at,
            body.ends_at,
            body.expected_uplift,
        )
        c = cause(promotion_id, actor, request_id)
        events = await command(lambda uow: inventory.plan_promotion(uow, cmd, c))
        out = {**body.model_dump(mode="json"), "promotion_id": promotion_id}
        return recorded(events, out)

    @router.get("/promotions/{promotion_id}")
    async def get_promotion(promotion_id: str) -> dict[str, Any]:
        promotion, _ = await inventory.load_promotion(store, promotion_id)
        if promotion is None:
            raise NotFound(f"no promotion {promotion_id!r}", field="promotion_id")
        return _promotion(promotion)

    @router.get("/promotions/{promotion_id}/readiness")
    async def readiness(
        promotion_id: str,
        as_of: Annotated[AwareDatetime | None, Query(description="Default: now.")] = None,
    ) -> dict[str, Any]:
        promotion, _ = await inventory.load_promotion(store, promotion_id)
        if promotion is None:
            raise NotFound(f"no promotion {promotion_id!r}", field="promotion_id")
        now = as_of or datetime.now(UTC)
        known, _ = await inventory.load_warehouses(store)
        active = {w.code for w in known.all() if w.active}
        available = {}
        for sku in promotion.skus:
            state, _ = await inventory.load_stock(store, sku)
            available[sku] = {w: max(0, q) for w, q in state.available().items() if w in active}
        assert engine is not None
        async with engine.connect() as conn:
            sold = await units_sold(
                conn, list(promotion.skus), until=now, days=velocity_window_days
            )
        return _readiness(
            assess(promotion, available, sold, window_days=velocity_window_days, now=now)
        )

    return router


def _types(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


def _warehouse(w: Any) -> dict[str, Any]:
    return {
        "code": w.code,
        "name": w.name,
        "country": w.country,
        "priority": w.priority,
        "active": w.active,
    }


def _level(warehouse: str, lvl: Level) -> dict[str, Any]:
    return {
        "warehouse": warehouse,
        "on_hand": lvl.on_hand,
        "reserved": lvl.reserved,
        "available": lvl.available,
        "low_stock_threshold": lvl.threshold,
        "low": lvl.threshold > 0 and lvl.below_threshold,
    }


def _totals(state: SkuStock) -> dict[str, int]:
    levels = state.levels.values()
    on_hand = sum(x.on_hand for x in levels)
    reserved = sum(x.reserved for x in levels)
    return {"on_hand": on_hand, "reserved": reserved, "available": on_hand - reserved}


def _reservation(r: Reservation) -> dict[str, Any]:
    reasons = {(d.line_id, d.sku): d.reason for d in r.decisions}
    released = r.status is ReservationStatus.RELEASED
    return {
        "order_id": r.order_id,
        "reservation_id": r.reservation_id,
        "status": r.status.value,
        "strategy": r.strategy,
        "reasoning": r.reasoning,
        "allocations": [
            {**_allocation(a), "reason": reasons.get((a.line_id, a.sku))} for a in r.allocations
        ],
        "outstanding": [_allocation(a) for a in ([] if released else r.outstanding())],
        "shipments": sorted(r.shipments),
        "shortages": [s.model_dump() for s in r.shortages],
    }


def _allocation(a: LineAllocation) -> dict[str, Any]:
    return {"line_id": a.line_id, "sku": a.sku, "warehouse": a.warehouse_id, "quantity": a.quantity}


def _promotion(p: Any) -> dict[str, Any]:
    return {
        "promotion_id": p.promotion_id,
        "name": p.name,
        "skus": list(p.skus),
        "starts_at": p.starts_at.isoformat(),
        "ends_at": p.ends_at.isoformat(),
        "expected_uplift": format(p.expected_uplift, "f"),
    }


def _readiness(r: Readiness) -> dict[str, Any]:
    def num(d: Decimal) -> float:
        return float(d)

    return {
        **_promotion(r.promotion),
        "as_of": r.as_of.isoformat(),
        "velocity_window_days": r.window_days,
        "ready": r.ready,
        "skus": [
            {
                "sku": s.sku,
                "available": s.available,
                "velocity_per_day": num(s.velocity_per_day),
                "promotion_demand": num(s.promotion_demand),
                "shortfall": s.shortfall,
                "suggested_reorder_quantity": s.suggested_reorder_quantity,
                "warehouses": [
                    {
                        "warehouse": w.warehouse,
                        "available": w.available,
                        "velocity_per_day": num(w.velocity_per_day),
                        "demand_before_start": num(w.demand_before_start),
                        "projected_available_at_start": num(w.projected_available_at_start),
                        "promotion_demand": num(w.promotion_demand),
                        "shortfall": w.shortfall,
                        "suggested_reorder_quantity": w.suggested_reorder_quantity,
                    }
                    for w in s.warehouses
                ],
            }
            for s in r.skus
        ],
    }
