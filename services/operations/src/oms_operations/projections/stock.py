"""``ops_stock`` (per SKU x warehouse) and ``ops_stock_daily`` (units reserved and shipped
per SKU x warehouse x day), from the inventory service's per-SKU events.

The arithmetic is the inventory service's own (its ``stock-<sku>`` streams and its stock
levels read model): received, counted (``StockAdjusted``'s delta) and transferred units
move on hand; ``StockAllocated`` / ``StockDeallocated`` move reserved; a shipment
(``StockIssued``) takes its units off both; a short pick booked lost
(``StockWrittenDown``) takes ``quantity`` off on hand and ``reserved`` off reserved.
Available = on hand - reserved; a row is low while available < its threshold (a
threshold of 0: never). The per-order events (``StockReserved``, ``StockReleased``,
``StockShipped``, ``StockLost``) are the same movements told per order and restocked
returns are also a ``StockReceived``, so they are not counted again here (written-off
returns never re-entered stock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from oms_events.base import Event
from oms_events.contracts.inventory import (
    LowStockThresholdSet,
    StockAdjusted,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockReceived,
    StockTransferred,
    StockWrittenDown,
)
from oms_events.envelope import Envelope

StockEvent = (
    StockReceived
    | StockAdjusted
    | StockTransferred
    | StockAllocated
    | StockDeallocated
    | StockIssued
    | StockWrittenDown
    | LowStockThresholdSet
)
HANDLED: tuple[type[Event], ...] = StockEvent.__args__


@dataclass(frozen=True)
class StockRow:
    sku: str
    warehouse_id: str
    on_hand: int = 0
    reserved: int = 0
    available: int = 0
    threshold: int = 0
    low: bool = False
    threshold_set_at: datetime | None = None
    """When the threshold in force was set: the latest setting wins, whatever order two
    settings on different partitions are read in."""


def _warehouses(event: Event) -> list[str]:
    match event:
        case StockTransferred():
            return [event.from_warehouse_id, event.to_warehouse_id]
        case StockAllocated() | StockDeallocated():
            return sorted({a.warehouse_id for a in event.allocations})
        case (
            StockReceived()
            | StockAdjusted()
            | StockIssued()
            | StockWrittenDown()
            | LowStockThresholdSet()
        ):
            return [event.warehouse_id]
    return []


def keys(_env: Envelope, event: Event) -> Sequence[tuple[Any, ...]]:
    """(SKU, warehouse) of every row the event moves (a transfer: both ends)."""
    sku = getattr(event, "sku", None)
    return [(sku, wh) for wh in _warehouses(event)] if isinstance(sku, str) else []


def moves(row_warehouse: str, event: Event) -> tuple[int, int]:
    """(on hand, reserved) deltas ``event`` gives the row of ``row_warehouse``."""
    match event:
        case StockReceived():
            return event.quantity, 0
        case StockAdjusted():
            return event.delta, 0
        case StockTransferred():
            if row_warehouse == event.from_warehouse_id:
                return -event.quantity, 0
            return event.quantity, 0
        case StockAllocated():
            return 0, sum(a.quantity for a in event.allocations if a.warehouse_id == row_warehouse)
        case StockDeallocated():
            units = sum(a.quantity for a in event.allocations if a.warehouse_id == row_warehouse)
            return 0, -units
        case StockIssued():
            return -event.quantity, -event.quantity
        case StockWrittenDown():
            return -event.quantity, -event.reserved
    return 0, 0


def apply(row: StockRow | None, env: Envelope, event: Event) -> StockRow | None:
    """The row after ``event``; ``row`` is the blank row of its key before its first one."""
    if row is None or not isinstance(event, StockEvent):
        return row
    if isinstance(event, LowStockThresholdSet):
        if row.threshold_set_at is None or env.occurred_at >= row.threshold_set_at:
            row = replace(row, threshold=event.threshold, threshold_set_at=env.occurred_at)
    else:
        on_hand, reserved = moves(row.warehouse_id, event)
        row = replace(row, on_hand=row.on_hand + on_hand, reserved=row.reserved + reserved)
    available = row.on_hand - row.reserved
    return replace(row, available=available, low=available < row.threshold)


# -- sales per day, the basis of the promotions' demand ---------------------------------

SALES_HANDLED: tuple[type[Event], ...] = (StockAllocated, StockDeallocated, StockIssued)


@dataclass(frozen=True)
class SalesDayRow:
    sku: str
    warehouse_id: str
    day: date
    reserved: int = 0
    """Units reserved that day, net of releases (a cancelled order's units come off)."""
    shipped: int = 0


def sales_keys(env: Envelope, event: Event) -> Sequence[tuple[Any, ...]]:
    """The (SKU, warehouse, UTC day) rows an allocation, release or shipment counts in."""
    if not isinstance(event, SALES_HANDLED):
        return []
    day = env.occurred_at.astimezone(UTC).date()
    return [(sku, wh, day) for sku, wh in keys(env, event)]


def apply_sales(row: SalesDayRow | None, _env: Envelope, event: Event) -> SalesDayRow | None:
    if row is None:
        return row
    match event:
        case StockAllocated() | StockDeallocated():
            _, reserved = moves(row.warehouse_id, event)
            return replace(row, reserved=row.reserved + reserved)
        case StockIssued():
            return replace(row, shipped=row.shipped + event.quantity)
    return row
