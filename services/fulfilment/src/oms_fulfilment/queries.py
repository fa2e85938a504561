"""The fulfilment's reads: what the GET routes (and command answers) show, as JSON dicts.

One fulfilment is read from its stream, so it reflects a command as soon as it returns;
pick lists come from the read model (``projections.picklists``), a moment behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oms_events.contracts.common import SkuQuantity
from oms_fulfilment.domain.fulfilment import Fulfilment, FulfilmentStatus
from oms_fulfilment.handlers import Fulfilments
from oms_fulfilment.projections.picklists import Picklists
from oms_platform.eventstore.base import EventStore
from oms_platform.refusal import Refusal

Json = dict[str, Any]


@dataclass(frozen=True)
class FulfilmentQueries:
    store: EventStore
    fulfilments: Fulfilments
    picklists: Picklists

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
