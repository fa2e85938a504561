"""``ops_orders``: one row per order, from the order service's events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from oms_events.base import Event
from oms_events.contracts.order import (
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderReturnRecorded,
    OrderShipped,
    OrderShortShipped,
)
from oms_events.envelope import Envelope

HANDLED: tuple[type[Event], ...] = (
    OrderPlaced,
    OrderConfirmed,
    OrderCancelled,
    OrderShipped,
    OrderDelivered,
    OrderReturnRecorded,
    OrderShortShipped,
)  # FeedbackReceived: its own read model (feedback.py), same consumer

# A status only moves forward along this rank; a late or replayed event never takes an
# order back (a confirmation seen after its shipment changes nothing).
RANK = {
    "placed": 0,
    "confirmed": 1,
    "cancelled": 2,
    "shipped": 3,
    "delivered": 4,
    "partially_returned": 5,
    "returned": 6,
}
STATUSES = tuple(RANK)


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    status: str = "placed"
    platform_ref: str | None = None
    sales_channel: str | None = None
    customer_email: str | None = None
    currency: str | None = None
    order_value: Decimal | None = None
    """The goods plus the shipping charge, as placed."""
    lines: tuple[tuple[str, int], ...] = ()
    """(SKU, units) as placed."""
    placed_at: datetime | None = None
    confirmed_at: datetime | None = None
    dispatched_at: datetime | None = None
    """The first parcel's dispatch."""
    delivered_at: datetime | None = None
    """The last parcel's delivery."""
    cancelled_at: datetime | None = None
    warehouses: tuple[str, ...] = ()
    """Allocated at confirmation (sorted)."""
    shipped_from: tuple[str, ...] = ()
    shipments: tuple[str, ...] = ()
    short_shipped: tuple[str, ...] = ()
    """Warehouses that shipped less than allocated."""


def _advance(row: OrderRow, status: str) -> OrderRow:
    if RANK[status] > RANK[row.status]:
        return replace(row, status=status)
    return row


def _add(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(sorted({*values, value}))


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def apply(row: OrderRow | None, env: Envelope, event: Event) -> OrderRow:
    """The order's row after ``event`` (published in ``env``)."""
    order_id = getattr(event, "order_id")  # noqa: B009 - every handled event names it
    row = row or OrderRow(order_id=order_id)
    match event:
        case OrderPlaced():
            value = sum((line.line_total for line in event.lines), event.shipping_charge)
            units: dict[str, int] = {}
            for line in event.lines:
                units[line.sku] = units.get(line.sku, 0) + line.quantity
            return replace(
                row,
                platform_ref=event.platform_order_ref,
                sales_channel=event.sales_channel,
                customer_email=str(event.customer.email),
                currency=value.currency,
                order_value=value.amount,
                lines=tuple(sorted(units.items())),
                placed_at=event.placed_at,
            )
        case OrderConfirmed():
            warehouses = tuple(sorted({a.warehouse_id for a in event.allocations}))
            row = replace(row, confirmed_at=row.confirmed_at or env.occurred_at)
            return _advance(replace(row, warehouses=warehouses), "confirmed")
        case OrderCancelled():
            if RANK[row.status] >= RANK["shipped"]:
                return row  # never both shipped and cancelled
            return replace(row, status="cancelled", cancelled_at=env.occurred_at)
        case OrderShipped():
            row = replace(
                row,
                dispatched_at=_earliest(row.dispatched_at, env.occurred_at),
                shipped_from=_add(row.shipped_from, event.warehouse_id),
                shipments=_add(row.shipments, event.shipment_id),
            )
            return _advance(row, "shipped")
        case OrderDelivered():
            row = replace(row, delivered_at=_latest(row.delivered_at, event.delivered_at))
            return _advance(row, "delivered")
        case OrderReturnRecorded():
            return _advance(row, event.status.value) if event.status is not None else row
        case OrderShortShipped():
            return replace(row, short_shipped=_add(row.short_shipped, event.warehouse_id))
    return row
