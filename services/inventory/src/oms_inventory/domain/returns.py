"""Returned goods: resellable units go back on the shelf, the rest is written off.

A return is an aggregate of its own: its stream (``return-<return id>``) holds
``StockRestocked`` and/or ``StockWrittenOff``, so a return is booked once. Restocked units
are also a ``StockReceived`` (reference ``return:<return id>``) for each SKU, which belongs
to that SKU's ``stock-<sku>`` stream: :data:`RETURN_BOOKING` returns them in the same
list, and the handler records each on its stream in one atomic append (as reservations
do). Written-off units never re-entered stock, so they change no level. Booking a return
refuses nothing: the goods are back whatever the books say.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.base import Event
from oms_events.contracts import (
    ItemCondition,
    SkuQuantity,
    StockReceived,
    StockRestocked,
    StockWrittenOff,
)
from oms_inventory.domain.commands import BookReturn
from oms_platform.decider import Decider, Decision


@dataclass(frozen=True, slots=True)
class ReturnBooking:
    """What a return's stream says: whether it was booked already."""

    booked: bool = False


class ReturnBookingDecider:
    def initial_state(self) -> ReturnBooking:
        return ReturnBooking()

    def evolve(self, state: ReturnBooking, event: Event) -> ReturnBooking:
        if isinstance(event, StockRestocked | StockWrittenOff):
            return ReturnBooking(booked=True)
        return state

    def decide(self, command: BookReturn, state: ReturnBooking) -> Decision:
        if state.booked:
            return []
        resellable = restocked(command)
        damaged = tuple(ln for ln in command.lines if ln.condition is not ItemCondition.RESELLABLE)
        events: list[Event] = []
        if resellable:
            lines = tuple(SkuQuantity(sku=s, quantity=q) for s, q in resellable.items())
            events.append(
                StockRestocked(
                    return_id=command.return_id,
                    order_id=command.order_id,
                    warehouse_id=command.warehouse,
                    lines=lines,
                )
            )
        if damaged:
            events.append(
                StockWrittenOff(
                    return_id=command.return_id,
                    order_id=command.order_id,
                    warehouse_id=command.warehouse,
                    lines=damaged,
                )
            )
        events += [
            StockReceived(
                sku=sku,
                warehouse_id=command.warehouse,
                quantity=q,
                reference=f"return:{command.return_id}",
            )
            for sku, q in resellable.items()
        ]
        return events


def restocked(cmd: BookReturn) -> dict[str, int]:
    """Resellable units per SKU: what goes back into stock."""
    units: dict[str, int] = {}
    for line in cmd.lines:
        if line.condition is ItemCondition.RESELLABLE:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


RETURN_BOOKING: Decider[BookReturn, ReturnBooking] = ReturnBookingDecider()
