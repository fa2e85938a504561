"""Read model: units reserved per SKU, warehouse and day, the basis of sales velocity.

Reservations count on the day they were made; a release (cancelled order) takes its
units off the day it happened, so the window's total is net demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_events.base import Event
from oms_events.contracts import StockAllocated, StockDeallocated
from oms_events.registry import registry
from oms_platform.eventstore import RecordedEvent

TABLE = """
CREATE TABLE IF NOT EXISTS inventory_daily_demand (
    sku           text NOT NULL,
    warehouse_id  text NOT NULL,
    day           date NOT NULL,
    units         integer NOT NULL,
    PRIMARY KEY (sku, warehouse_id, day)
)
"""

_TYPES = {StockAllocated.event_type, StockDeallocated.event_type}


@dataclass(frozen=True, slots=True)
class DemandChange:
    sku: str
    warehouse_id: str
    day: date
    units: int


def changes(event: Event, occurred_at: datetime) -> list[DemandChange]:
    """Units ``event`` adds to (or, for a release, takes from) a day's demand."""
    day = occurred_at.date()
    match event:
        case StockAllocated():
            return [
                DemandChange(event.sku, a.warehouse_id, day, a.quantity) for a in event.allocations
            ]
        case StockDeallocated():
            return [
                DemandChange(event.sku, a.warehouse_id, day, -a.quantity) for a in event.allocations
            ]
    return []


class DemandProjection:
    name = "inventory_daily_demand"

    async def setup(self, conn: AsyncConnection) -> None:
        await conn.execute(text(TABLE))

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(text("DELETE FROM inventory_daily_demand"))

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None:
        await self.apply_batch(conn, [rec])

    async def apply_batch(self, conn: AsyncConnection, records: Sequence[RecordedEvent]) -> None:
        """Every change of ``records`` in one round trip (executemany)."""
        rows = [
            {"sku": c.sku, "wh": c.warehouse_id, "day": c.day, "units": c.units}
            for rec in records
            if rec.envelope.type in _TYPES
            for c in changes(registry.parse(rec.envelope), rec.envelope.occurred_at)
        ]
        if rows:
            await conn.execute(_APPLY, rows)


_APPLY = text(
    "INSERT INTO inventory_daily_demand AS d (sku, warehouse_id, day, units) "
    "VALUES (:sku, :wh, :day, :units) ON CONFLICT (sku, warehouse_id, day) "
    "DO UPDATE SET units = d.units + :units"
)


async def units_sold(
    conn: AsyncConnection, skus: list[str], *, until: datetime, days: int
) -> dict[str, dict[str, int]]:
    """Net units reserved per SKU and warehouse in the ``days`` days up to ``until``."""
    last = until.date()
    rows = await conn.execute(
        text(
            "SELECT sku, warehouse_id, sum(units) AS units FROM inventory_daily_demand "
            "WHERE sku = ANY(:skus) AND day > :first AND day <= :last "
            "GROUP BY sku, warehouse_id"
        ),
        {"skus": skus, "first": last - timedelta(days=days), "last": last},
    )
    sold: dict[str, dict[str, int]] = {}
    for r in rows:
        sold.setdefault(r.sku, {})[r.warehouse_id] = max(0, int(r.units))
    return sold
