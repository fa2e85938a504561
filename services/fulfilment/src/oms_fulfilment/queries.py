"""The fulfilment's reads: what the GET routes (and command answers) show, as JSON dicts.

One fulfilment is read from its stream, so it reflects a command as soon as it returns;
pick lists and backlogs come from the read models (``projections.picklists``,
``projections.backlog``), a moment behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oms_events.contracts.common import SkuQuantity
from oms_fulfilment.domain.capacity import CAPACITY, CapacityTable, hours_of_backlog
from oms_fulfilment.domain.fulfilment import Fulfilment, FulfilmentStatus
from oms_fulfilment.handlers import Fulfilments
from oms_fulfilment.projections.backlog import Backlog, WarehouseTotals
from oms_fulfilment.projections.picklists import Picklists
from oms_platform.eventstore.base import EventStore
from oms_platform.refusal import Refusal

Json = dict[str, Any]


@dataclass(frozen=True)
class FulfilmentQueries:
    store: EventStore
    fulfilments: Fulfilments
    picklists: Picklists
    backlog: Backlog
    capacity: CapacityTable = field(default_factory=lambda: CapacityTable(CAPACITY))

    async def fulfilment(self, fulfilment_id: str) -> Json:
        state, version = await self.fulfilments.load(self.store, fulfilment_id)
        if state.status is FulfilmentStatus.NONE:
            raise Refusal.not_found(
                "fulfilment_not_found", f"no fulfilment {fulfilment_id}", "fulfilment_id"
            )
        return {**fulfilment_view(state), "version": version}

    async def open_picklists(self, warehouse: str, status: str, limit: int) -> Json:
        page = await self.picklists.find(warehouse, status, limit)
        return {
            "warehouse": warehouse,
            "status": status,
            "picklists": page.picklists,
            "count": len(page.picklists),
            "more": page.more,
        }

    async def warehouse_backlog(self, warehouse: str) -> Json:
        now = self.fulfilments.clock()
        found = await self.backlog.totals(start_of_day(now), warehouse)
        return backlog_view(found.get(warehouse, WarehouseTotals(warehouse)), self.capacity, now)

    async def backlogs(self) -> Json:
        """Every warehouse with capacity listed, work open, or something packed today."""
        now = self.fulfilments.clock()
        found = await self.backlog.totals(start_of_day(now))
        codes = sorted(set(found) | set(self.capacity.by_warehouse))
        views = [backlog_view(found.get(c, WarehouseTotals(c)), self.capacity, now) for c in codes]
        return {"warehouses": views, "count": len(views), "as_of": now.isoformat()}


def start_of_day(now: datetime) -> datetime:
    """Midnight of ``now``'s day, in ``now``'s time zone (UTC from the service's clock)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def backlog_view(t: WarehouseTotals, table: CapacityTable, now: datetime) -> Json:
    """One warehouse as ``GET /v1/warehouses/{code}/backlog`` shows it."""
    capacity, default = table.of(t.warehouse)
    hours = hours_of_backlog(t.to_pick_units, t.to_pack_units, capacity)
    oldest = t.oldest_to_pick
    return {
        "warehouse": t.warehouse,
        "capacity": {
            "picks_per_hour": capacity.picks_per_hour,
            "packs_per_hour": capacity.packs_per_hour,
            "default": default,
        },
        "to_pick": {
            "fulfilments": t.to_pick_fulfilments,
            "units": t.to_pick_units,
            "oldest_requested_at": oldest.isoformat() if oldest is not None else None,
        },
        "to_pack": {"fulfilments": t.to_pack_fulfilments, "units": t.to_pack_units},
        "packed_today": {
            "fulfilments": t.packed_fulfilments,
            "units": t.packed_units,
            "since": start_of_day(now).isoformat(),
        },
        "hours": {"pick": hours.pick, "pack": hours.pack, "backlog": hours.backlog},
        "bottleneck": hours.bottleneck.value if hours.bottleneck is not None else None,
        "as_of": now.isoformat(),
    }


def _lines(lines: tuple[SkuQuantity, ...]) -> list[Json]:
    return [{"sku": ln.sku, "quantity": ln.quantity} for ln in lines]


def fulfilment_view(state: Fulfilment) -> Json:
    """One fulfilment as ``GET /v1/fulfilments/{id}`` shows it."""
    address = state.shipping_address
    cost = state.packaging_cost
    return {
        "fulfilment_id": state.fulfilment_id,
        "order_id": state.order_id,
        "warehouse": state.warehouse_id,
        "status": state.status.value,
        "lines": _lines(state.requested),
        "picked": _lines(state.picked),
        "missing": _lines(state.missing),
        "weight_grams": state.weight_grams or None,
        "parcels": [p.model_dump(mode="json") for p in state.parcels],
        "packaging_cost": cost.model_dump(mode="json") if cost is not None else None,
        "shipping_address": address.model_dump(mode="json") if address is not None else None,
        "cancel_reason": state.cancel_reason,
    }
