"""What the order service keeps besides events, as one protocol with two implementations.

:class:`~oms_order.projections.tables.SqlReadModels` is the real thing (tables in the
service's database, written in the unit of work's transaction);
:class:`~oms_order.projections.derived.DerivedReadModels` computes the same answers from
the event store on every query, for a host on the in-memory store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from oms_order.domain.state import OrderState
from oms_platform.eventstore.base import UnitOfWork

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Filters of an order lookup; ``None`` leaves a filter out."""

    platform_order_ref: str | None = None
    sales_channel: str | None = None
    status: str | None = None
    customer_id: str | None = None
    stalled: bool | None = None
    """True: only stalled orders; false: only orders that are not stalled."""
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Stalled:
    """Orders in ``placed`` for longer than the stall threshold."""

    count: int
    oldest: list[str]
    """The ids of the longest-waiting ones, oldest first."""
    oldest_waiting_s: float | None

    def as_dict(self) -> Doc:
        waited = None if self.oldest_waiting_s is None else round(self.oldest_waiting_s, 1)
        return {"count": self.count, "oldest": self.oldest, "oldest_waiting_s": waited}


class ReadModels(Protocol):
    """What the handlers write and the queries read besides events."""

    async def save_order(self, uow: UnitOfWork, state: OrderState) -> None: ...

    async def unknown_skus(self, uow: UnitOfWork, skus: Iterable[str]) -> set[str]: ...

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None: ...

    async def find_orders(self, query: OrderQuery) -> list[Doc]: ...

    async def stalled(self, limit: int = 5) -> Stalled: ...


def summary_doc(row: Mapping[str, Any]) -> Doc:
    """An order summary as ``GET /v1/orders`` lists it, from an ``orders`` row."""
    recorded_at: datetime = row["recorded_at"]
    return {
        "order_id": row["order_id"],
        "platform_order_ref": row["platform_order_ref"],
        "sales_channel": row["sales_channel"],
        "status": row["status"],
        "customer": {"customer_id": row["customer_id"], "email": row["customer_email"]},
        "total": {"amount": format(row["total_amount"], "f"), "currency": row["currency"]},
        "placed_at": row["placed_at"].isoformat(),
        "recorded_at": recorded_at.isoformat(),
        "version": row["version"],
        "updated_at": row["updated_at"].isoformat(),
    }
