"""Read model: stock per SKU and warehouse, for listings and the low-stock overview."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_events.base import Event
from oms_events.contracts import (
    LowStockDetected,
    LowStockThresholdSet,
    StockAdjusted,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockReceived,
    StockTransferred,
)
from oms_events.contracts.inventory import StockWrittenDown
from oms_events.registry import registry
from oms_platform.eventstore import RecordedEvent

TABLE = """
CREATE TABLE IF NOT EXISTS inventory_stock_levels (
    sku           text NOT NULL,
    warehouse_id  text NOT NULL,
    on_hand       integer NOT NULL DEFAULT 0,
    reserved      integer NOT NULL DEFAULT 0,
    threshold     integer NOT NULL DEFAULT 0,
    low_since     timestamptz,
    PRIMARY KEY (sku, warehouse_id)
)
"""

_TYPES = {
    cls.event_type
    for cls in (
        StockReceived,
        StockAdjusted,
        StockTransferred,
        StockAllocated,
        StockDeallocated,
        StockIssued,
        StockWrittenDown,
        LowStockThresholdSet,
        LowStockDetected,
    )
}


@dataclass(frozen=True, slots=True)
class LevelChange:
    """What one event does to one row: deltas, or a new threshold, or a low-stock mark."""

    sku: str
    warehouse_id: str
    on_hand: int = 0
    reserved: int = 0
    threshold: int | None = None
    low: bool = False


def changes(event: Event) -> list[LevelChange]:
    """The row changes ``event`` causes (pure; the projection applies them)."""
    match event:
        case StockReceived():
            return [LevelChange(event.sku, event.warehouse_id, on_hand=event.quantity)]
        case StockAdjusted():
            return [LevelChange(event.sku, event.warehouse_id, on_hand=event.delta)]
        case StockTransferred():
            return [
                LevelChange(event.sku, event.from_warehouse_id, on_hand=-event.quantity),
                LevelChange(event.sku, event.to_warehouse_id, on_hand=event.quantity),
            ]
        case StockAllocated():
            return [
                LevelChange(event.sku, a.warehouse_id, reserved=a.quantity)
                for a in event.allocations
            ]
        case StockDeallocated():
            return [
                LevelChange(event.sku, a.warehouse_id, reserved=-a.quantity)
                for a in event.allocations
            ]
        case StockIssued():
            q = event.quantity
            return [LevelChange(event.sku, event.warehouse_id, on_hand=-q, reserved=-q)]
        case StockWrittenDown():
            return [
                LevelChange(
                    event.sku, event.warehouse_id, on_hand=-event.quantity, reserved=-event.reserved
                )
            ]
        case LowStockThresholdSet():
            return [LevelChange(event.sku, event.warehouse_id, threshold=event.threshold)]
        case LowStockDetected():
            return [LevelChange(event.sku, event.warehouse_id, low=True)]
    return []


class StockLevelsProjection:
    """``inventory_stock_levels``; ``low_since`` is cleared once available >= threshold."""

    name = "inventory_stock_levels"

    async def setup(self, conn: AsyncConnection) -> None:
        await conn.execute(text(TABLE))

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(text("DELETE FROM inventory_stock_levels"))

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None:
        await self.apply_batch(conn, [rec])

    async def apply_batch(self, conn: AsyncConnection, records: Sequence[RecordedEvent]) -> None:
        """Every change of ``records``, in their order, in one round trip (executemany)."""
        rows = [
            {
                "sku": c.sku,
                "wh": c.warehouse_id,
                "on_hand": c.on_hand,
                "reserved": c.reserved,
                "threshold": c.threshold,
                "low": c.low,
                "at": rec.envelope.occurred_at,
            }
            for rec in records
            if rec.envelope.type in _TYPES
            for c in changes(registry.parse(rec.envelope))
        ]
        if rows:
            await conn.execute(_APPLY, rows)


# One change to one row. ``low_since`` ends as it would after the change: cleared while
# available >= threshold, else set by a low-stock mark, else kept (SET sees the old row).
_APPLY = text(
    "INSERT INTO inventory_stock_levels AS l "
    "(sku, warehouse_id, on_hand, reserved, threshold, low_since) "
    "VALUES (:sku, :wh, :on_hand, :reserved, coalesce(:threshold, 0), "
    "CASE WHEN :on_hand - :reserved >= coalesce(:threshold, 0) THEN NULL "
    "WHEN :low THEN CAST(:at AS timestamptz) END) "
    "ON CONFLICT (sku, warehouse_id) DO UPDATE SET "
    "on_hand = l.on_hand + :on_hand, reserved = l.reserved + :reserved, "
    "threshold = coalesce(:threshold, l.threshold), "
    "low_since = CASE WHEN (l.on_hand + :on_hand) - (l.reserved + :reserved) "
    ">= coalesce(:threshold, l.threshold) THEN NULL "
    "WHEN :low THEN CAST(:at AS timestamptz) ELSE l.low_since END"
)


async def all_levels(conn: AsyncConnection, *, low_only: bool = False) -> list[dict[str, object]]:
    """Every SKU x warehouse row (``low_only``: those flagged low), sorted."""
    where = "WHERE low_since IS NOT NULL " if low_only else ""
    rows = await conn.execute(
        text(
            "SELECT sku, warehouse_id, on_hand, reserved, threshold, low_since "
            f"FROM inventory_stock_levels {where}ORDER BY sku, warehouse_id"
        )
    )
    return [
        {
            "sku": r.sku,
            "warehouse": r.warehouse_id,
            "on_hand": r.on_hand,
            "reserved": r.reserved,
            "available": r.on_hand - r.reserved,
            "low_stock_threshold": r.threshold,
            "low_since": r.low_since.isoformat() if r.low_since else None,
        }
        for r in rows
    ]
