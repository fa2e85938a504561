"""The inventory's reads: what the GET routes (and command answers) show, as JSON-ready dicts.

Stock, SKUs, warehouses, reservations and promotions are read from their streams, so they
reflect a command as soon as it returns; the stock listing and sales velocity come from
the read models (``projections``). An unknown SKU, warehouse, reservation or promotion is
refused 404 (``oms_inventory.domain.refusals``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.contracts import AllocationStrategy
from oms_inventory.domain.allocation import (
    AllocationFailure,
    LineAllocation,
    LineRequest,
    Warehouse,
    allocate,
)
from oms_inventory.domain.promotions import Promotion, Readiness, WarehouseOutlook, assess
from oms_inventory.domain.refusals import promotion_not_found, reservation_not_found
from oms_inventory.domain.reservation import Reservation, ReservationStatus
from oms_inventory.domain.stock import Level, SkuStock
from oms_inventory.handlers import Inventory
from oms_inventory.projections.demand import units_sold
from oms_inventory.projections.stock_levels import all_levels
from oms_platform.eventstore import EventStore

Json = dict[str, Any]


@dataclass(frozen=True)
class InventoryQueries:
    """Reads over ``store`` (streams) and ``engine`` (read models)."""

    store: EventStore
    engine: AsyncEngine
    inventory: Inventory
    velocity_window_days: int

    async def warehouses(self) -> list[Json]:
        return [warehouse_view(w) for w in (await self.inventory.load_warehouses(self.store)).all()]

    async def warehouse(self, code: str) -> Json:
        known = await self.inventory.load_warehouses(self.store)
        return warehouse_view(known.get(code, "code"))

    async def sku(self, sku: str) -> Json:
        info = (await self._stock(sku)).registered(sku)
        return {
            "sku": info.sku,
            "name": info.name,
            "weight_grams": info.weight_grams,
            "length_mm": info.length_mm,
            "width_mm": info.width_mm,
            "height_mm": info.height_mm,
        }

    async def stock(self, sku: str) -> Json:
        state = await self._stock(sku)
        info = state.registered(sku)
        levels = [level_view(w, lvl) for w, lvl in sorted(state.levels.items())]
        return {"sku": sku, "name": info.name, "warehouses": levels, "totals": totals(state)}

    async def level(self, sku: str, warehouse: str) -> Json:
        """One SKU in one warehouse: the answer to a receipt, count or threshold."""
        state = await self._stock(sku)
        return {"sku": sku, **level_view(warehouse, state.level(warehouse))}

    async def levels(self, sku: str, warehouses: Iterable[str]) -> Json:
        state = await self._stock(sku)
        return {"sku": sku, "warehouses": [level_view(w, state.level(w)) for w in warehouses]}

    async def stock_list(self, *, low_only: bool) -> list[dict[str, object]]:
        """Every SKU x warehouse from the read model (``low_only``: those running low)."""
        async with self.engine.connect() as conn:
            return await all_levels(conn, low_only=low_only)

    async def reservation(self, order_id: str) -> Json:
        state, version = await self.inventory.load_reservation(self.store, order_id)
        if version == 0:
            raise reservation_not_found(order_id)
        return reservation_view(order_id, state)

    async def preview(
        self, lines: Sequence[LineRequest], country: str, strategy: AllocationStrategy | None
    ) -> Json:
        """What allocation would decide for ``lines`` now, reserving nothing."""
        known = await self.inventory.load_warehouses(self.store)
        snapshot = {}
        for sku in {ln.sku for ln in lines}:
            state = await self._stock(sku)
            snapshot[sku] = state.available() if state.info else {}
        chosen = strategy or self.inventory.strategy
        result = allocate(snapshot, lines, country, known.all(), chosen)
        if isinstance(result, AllocationFailure):
            shortages = [
                {"sku": x.sku, "requested": x.requested, "available": x.available}
                for x in result.shortages
            ]
            return {"feasible": False, "reasoning": result.summary, "shortages": shortages}
        reasons = {r.line_id: r.reason for r in result.reasons}
        return {
            "feasible": True,
            "strategy": chosen.value,
            "reasoning": result.summary,
            "parcels": len(result.warehouses),
            "allocations": [
                {**allocation_view(a), "reason": reasons[a.line_id]} for a in result.allocations
            ],
        }

    async def promotion(self, promotion_id: str) -> Json:
        return promotion_view(await self._promotion(promotion_id))

    async def readiness(self, promotion_id: str, now: datetime) -> Json:
        promotion = await self._promotion(promotion_id)
        known = await self.inventory.load_warehouses(self.store)
        active = {w.code for w in known.all() if w.active}
        available = {}
        for sku in promotion.skus:
            state = await self._stock(sku)
            available[sku] = {w: max(0, q) for w, q in state.available().items() if w in active}
        days = self.velocity_window_days
        async with self.engine.connect() as conn:
            sold = await units_sold(conn, list(promotion.skus), until=now, days=days)
        return readiness_view(assess(promotion, available, sold, window_days=days, now=now))

    async def _stock(self, sku: str) -> SkuStock:
        return (await self.inventory.load_stock(self.store, sku))[0]

    async def _promotion(self, promotion_id: str) -> Promotion:
        promotion = await self.inventory.load_promotion(self.store, promotion_id)
        if promotion is None:
            raise promotion_not_found(promotion_id)
        return promotion


# -- views ---------------------------------------------------------------------------------------


def warehouse_view(w: Warehouse) -> Json:
    return {
        "code": w.code,
        "name": w.name,
        "country": w.country,
        "priority": w.priority,
        "active": w.active,
    }


def level_view(warehouse: str, lvl: Level) -> Json:
    return {
        "warehouse": warehouse,
        "on_hand": lvl.on_hand,
        "reserved": lvl.reserved,
        "available": lvl.available,
        "low_stock_threshold": lvl.threshold,
        "low": lvl.threshold > 0 and lvl.below_threshold,
    }


def totals(state: SkuStock) -> dict[str, int]:
    levels = state.levels.values()
    on_hand = sum(x.on_hand for x in levels)
    reserved = sum(x.reserved for x in levels)
    return {"on_hand": on_hand, "reserved": reserved, "available": on_hand - reserved}


def reservation_view(order_id: str, r: Reservation) -> Json:
    reasons = {(d.line_id, d.sku): d.reason for d in r.decisions}
    released = r.status is ReservationStatus.RELEASED
    return {
        "order_id": order_id,
        "reservation_id": r.reservation_id,
        "status": r.status.value,
        "strategy": r.strategy,
        "reasoning": r.reasoning,
        "allocations": [
            {**allocation_view(a), "reason": reasons.get((a.line_id, a.sku))} for a in r.allocations
        ],
        "outstanding": [allocation_view(a) for a in ([] if released else r.outstanding())],
        "shipments": sorted(r.shipments),
        "lost": [allocation_view(a) for a in r.lost],
        "short_picks": sorted(r.short_picks),
        "shortages": [s.model_dump() for s in r.shortages],
    }


def allocation_view(a: LineAllocation) -> Json:
    return {"line_id": a.line_id, "sku": a.sku, "warehouse": a.warehouse_id, "quantity": a.quantity}


def promotion_view(p: Promotion) -> Json:
    return {
        "promotion_id": p.promotion_id,
        "name": p.name,
        "skus": list(p.skus),
        "starts_at": p.starts_at.isoformat(),
        "ends_at": p.ends_at.isoformat(),
        "expected_uplift": format(p.expected_uplift, "f"),
    }


def readiness_view(r: Readiness) -> Json:
    return {
        **promotion_view(r.promotion),
        "as_of": r.as_of.isoformat(),
        "velocity_window_days": r.window_days,
        "ready": r.ready,
        "skus": [
            {
                "sku": s.sku,
                "available": s.available,
                "velocity_per_day": float(s.velocity_per_day),
                "promotion_demand": float(s.promotion_demand),
                "shortfall": s.shortfall,
                "suggested_reorder_quantity": s.suggested_reorder_quantity,
                "warehouses": [_outlook_view(w) for w in s.warehouses],
            }
            for s in r.skus
        ],
    }


def _outlook_view(w: WarehouseOutlook) -> Json:
    return {
        "warehouse": w.warehouse,
        "available": w.available,
        "velocity_per_day": float(w.velocity_per_day),
        "demand_before_start": float(w.demand_before_start),
        "projected_available_at_start": float(w.projected_available_at_start),
        "promotion_demand": float(w.promotion_demand),
        "shortfall": w.shortfall,
        "suggested_reorder_quantity": w.suggested_reorder_quantity,
    }
