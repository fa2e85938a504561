"""The returns' reads: one return, an order's returns, as JSON-ready dicts.

Read from the return streams (``return-<rma>``), so they reflect a command as soon as it
returns; an order's returns are found through ``returns_index``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oms_events.contracts.returns import (
    ReturnAuthorized,
    ReturnExpired,
    ReturnReceived,
    ReturnRequested,
    ReturnResolved,
)
from oms_events.registry import registry
from oms_platform.eventstore.base import EventStore
from oms_platform.refusal import Refusal
from oms_returns.domain.returns import RETURN
from oms_returns.domain.rma import stream_id
from oms_returns.tables import Tables

Json = dict[str, Any]


def _dump(items: Any) -> list[Json]:
    return [i.model_dump(mode="json") for i in items]


@dataclass(frozen=True)
class ReturnQueries:
    store: EventStore
    tables: Tables

    async def one(self, rma: str) -> Json:
        view = await self.view(rma)
        if view is None:
            raise Refusal.not_found("return_not_found", f"no return {rma}", "rma")
        return view

    async def of_order(self, order_id: str) -> Json:
        views = [await self.view(rma) for rma in await self.tables.returns_of(None, order_id)]
        return {"order_id": order_id, "returns": [v for v in views if v is not None]}

    async def view(self, rma: str) -> Json | None:
        records = await self.store.read_stream(stream_id(rma))
        if not records:
            return None
        state = RETURN.initial_state()
        view: Json = {
            "rma": rma,
            "received": [],
            "missing": [],
            "resolution": None,
            "expired_at": None,
            "timeline": [],
        }
        for rec in records:
            event = registry.parse(rec.envelope)
            state = RETURN.evolve(state, event)
            at = rec.envelope.occurred_at.isoformat()
            view["timeline"].append({"type": event.event_type, "recorded_at": at})
            match event:
                case ReturnRequested():
                    view |= {
                        "order_id": event.order_id,
                        "requested_at": at,
                        "lines": _dump(event.lines),
                    }
                case ReturnAuthorized():
                    cost = event.label_cost
                    view |= {
                        "warehouse": event.warehouse_id,
                        "authorized": _dump(event.lines),
                        "expires_at": event.expires_at.isoformat() if event.expires_at else None,
                        "label_cost": cost.model_dump(mode="json") if cost else None,
                    }
                case ReturnReceived():
                    view["received"] = _dump(event.lines)
                case ReturnResolved():
                    view["missing"] = _dump(event.missing)
                    view["resolution"] = {
                        "refund_lines": _dump(event.refund_lines),
                        "shipping_refund": event.shipping_refund.model_dump(mode="json"),
                        "refund_amount": event.refund_amount.model_dump(mode="json"),
                        "refunds": _dump(event.refunds),
                        "unallocated": event.unallocated.model_dump(mode="json"),
                        "order_status": event.order_status.value if event.order_status else None,
                    }
                case ReturnExpired():
                    view["expired_at"] = event.expired_at.isoformat()
        view["status"] = state.status.value
        view["version"] = len(records)
        return view
