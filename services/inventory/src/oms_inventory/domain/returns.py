"""Returned goods: resellable units go back on the shelf, the rest is written off.

The return's own stream (``return-<return id>``) holds ``StockRestocked`` and/or
``StockWrittenOff``, so a return is booked once; restocked units are also a
``StockReceived`` (reference ``return:<return id>``) in each SKU's stream. Written-off
units never re-entered stock, so they change no level.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.base import Event
from oms_events.contracts import (
    ItemCondition,
    ReturnedLine,
    SkuQuantity,
    StockReceived,
    StockRestocked,
    StockWrittenOff,
)


@dataclass(frozen=True, slots=True)
class BookReturn:
    return_id: str
    order_id: str
    warehouse: str
    lines: tuple[ReturnedLine, ...]


def book(cmd: BookReturn, already_booked: bool) -> tuple[list[Event], dict[str, list[Event]]]:
    """Events for the return's stream and, per SKU, for the ``stock-<sku>`` streams."""
    if already_booked:
        return [], {}
    resellable: dict[str, int] = {}
    for line in cmd.lines:
        if line.condition is ItemCondition.RESELLABLE:
            resellable[line.sku] = resellable.get(line.sku, 0) + line.quantity
    damaged = tuple(ln for ln in cmd.lines if ln.condition is not ItemCondition.RESELLABLE)
    own: list[Event] = []
    if resellable:
        own.append(
            StockRestocked(
                return_id=cmd.return_id,
                order_id=cmd.order_id,
                warehouse_id=cmd.warehouse,
                lines=tuple(SkuQuantity(sku=s, quantity=q) for s, q in resellable.items()),
            )
        )
    if damaged:
        own.append(
            StockWrittenOff(
                return_id=cmd.return_id,
                order_id=cmd.order_id,
                warehouse_id=cmd.warehouse,
                lines=damaged,
            )
        )
    per_sku: dict[str, list[Event]] = {
        sku: [
            StockReceived(
                sku=sku, warehouse_id=cmd.warehouse, quantity=q, reference=f"return:{cmd.return_id}"
            )
        ]
        for sku, q in resellable.items()
    }
    return own, per_sku
