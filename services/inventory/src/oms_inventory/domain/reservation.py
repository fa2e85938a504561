"""An order's reservation: reserve, release on cancel, book out on dispatch, book lost
units of a short pick.

The reservation's own stream (``reservation-<order id>``) holds the public facts
(``StockReserved`` / ``StockReservationFailed`` / ``StockReservationCancelled`` /
``StockReleased`` / ``StockShipped``). Each decision also moves the stock of the SKUs it
touches (``StockAllocated`` / ``StockDeallocated`` / ``StockIssued``, and
``LowStockDetected`` when a reservation pushes a warehouse below its threshold), and those
events belong to the ``stock-<sku>`` streams.

Why one decider across several streams: the no-oversell guarantee is that a reservation
is decided on the stock of every SKU it takes and is refused by the store if any of them
moved meanwhile. So :data:`RESERVATION` decides on a :class:`ReservationView` (the
reservation, the warehouses and the stock of each SKU concerned, each loaded from its own
stream) and returns ONE list: the reservation events and the per-SKU events together, in
the order they happen. The handler records each event on its stream (per-SKU events by
their ``sku``, see ``oms_inventory.streams.stream_for``) and appends them all in one
atomic append, each stream checked against the version it was read at; on a conflict the
whole unit of work is run again on fresh stock. Splitting this into a reservation decider
and a stock decider would need a second step between them that could fail halfway.

A short pick (``BookShortPick``, once per fulfilment) books the units not found as lost
at that warehouse: ``StockLost`` on the reservation, ``StockWrittenDown`` per SKU (on hand
down by the missing units, never below zero; reserved down by those of them the order
still held there). The held ones leave the reservation, so a later release or shipment
of the order releases or ships nothing it no longer has. If the reservation was released
first (a cancellation handled before the short pick), the units are still gone: on hand
goes down, and nothing is taken out of the (empty) reservation.

A parcel returned to sender (``RestockReturnedShipment``) puts the units its
``StockShipped`` booked out back on the shelf of that warehouse: a ``StockReceived`` per
SKU with reference ``returned-to-sender:<shipment id>`` (so once per shipment: a
receipt reference is booked once per warehouse). The reservation does not change; the
units are available to any order.

Refusals (only for shipments and short picks, which cannot get better on retry):
``no_open_reservation``, ``shipment_exceeds_reservation`` (409), ``no_reservation``
(a short pick of an order that never held stock) and ``shipment_not_shipped`` (a parcel
returned to sender whose dispatch was never booked). An order is decided once: a second
``ReserveStock`` for it decides nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import assert_never

from oms_events.base import Event
from oms_events.contracts import (
    Allocation,
    LineDecision,
    Shortage,
    SkuQuantity,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockReceived,
    StockReleased,
    StockReservationCancelled,
    StockReservationFailed,
    StockReserved,
    StockShipped,
    WarehouseRegistered,
)
from oms_events.contracts.inventory import StockLost, StockWrittenDown
from oms_inventory.domain import stock, warehouses
from oms_inventory.domain.allocation import (
    AllocationFailure,
    LineAllocation,
    Shortfall,
    allocate,
    clip,
)
from oms_inventory.domain.commands import (
    BookShortPick,
    ReleaseStock,
    ReservationCommand,
    ReserveStock,
    RestockReturnedShipment,
    ShipStock,
)
from oms_inventory.domain.stock import STOCK_EVENTS, SkuStock, with_low_stock_checks
from oms_inventory.domain.warehouses import Warehouses
from oms_platform.decider import Decider, Decision
from oms_platform.refusal import Refusal


class ReservationStatus(StrEnum):
    NONE = "none"
    RESERVED = "reserved"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    RELEASED = "released"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """The order was cancelled before anything was reserved."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """What the ``reservation-<order id>`` stream says."""

    status: ReservationStatus = ReservationStatus.NONE
    reservation_id: str | None = None
    allocations: tuple[LineAllocation, ...] = ()
    shipped: tuple[LineAllocation, ...] = ()
    """Units booked out, per line and warehouse (a shipment names SKUs, not lines)."""
    shipments: frozenset[str] = frozenset()
    shipped_from: Mapping[str, tuple[str, tuple[SkuQuantity, ...]]] = field(default_factory=dict)
    """Shipment id -> (warehouse, units) as its ``StockShipped`` booked them out."""
    lost: tuple[LineAllocation, ...] = ()
    """Reserved units booked lost by short picks, per line and warehouse."""
    short_picks: frozenset[str] = frozenset()
    """Fulfilments whose short pick was booked."""
    strategy: str | None = None
    reasoning: str | None = None
    """The allocation's summary, or why it failed or was cancelled."""
    decisions: tuple[LineDecision, ...] = ()
    shortages: tuple[Shortage, ...] = ()

    @property
    def decided(self) -> bool:
        """Reserved, failed or cancelled already: a placement decides nothing more."""
        return self.status is not ReservationStatus.NONE

    def skus(self) -> list[str]:
        """The SKUs this reservation holds or held stock of."""
        return sorted({a.sku for a in self.allocations})

    def outstanding(self) -> list[LineAllocation]:
        """Reserved units neither shipped nor lost, per line and warehouse."""
        left: dict[tuple[str, str, str], int] = {}
        for a in self.allocations:
            key = (a.line_id, a.sku, a.warehouse_id)
            left[key] = left.get(key, 0) + a.quantity
        for s in (*self.shipped, *self.lost):
            left[(s.line_id, s.sku, s.warehouse_id)] -= s.quantity
        return [LineAllocation(ln, sku, wh, q) for (ln, sku, wh), q in left.items() if q > 0]


def reservation_id(order_id: str) -> str:
    """One reservation per order, so its id follows from the order id."""
    return f"res-{order_id}"


def evolve(state: Reservation, event: Event) -> Reservation:
    """The reservation after ``event`` (events of other kinds leave it unchanged)."""
    match event:
        case StockReserved():
            allocations = tuple(_from_contract(a) for a in event.allocations)
            return replace(
                state,
                status=ReservationStatus.RESERVED,
                reservation_id=event.reservation_id,
                allocations=allocations,
                strategy=event.strategy.value,
                reasoning=event.reasoning,
                decisions=event.decisions,
            )
        case StockReservationFailed():
            return replace(
                state,
                status=ReservationStatus.FAILED,
                shortages=event.shortages,
                reasoning=event.reason,
            )
        case StockReservationCancelled():
            return replace(state, status=ReservationStatus.CANCELLED, reasoning=event.reason)
        case StockReleased():
            return replace(state, status=ReservationStatus.RELEASED)
        case StockShipped():
            state = replace(
                state,
                shipped=state.shipped + _take(state, event.warehouse_id, event.lines),
                shipments=state.shipments | {event.shipment_id},
                shipped_from={
                    **state.shipped_from,
                    event.shipment_id: (event.warehouse_id, event.lines),
                },
            )
            return replace(state, status=_shipping_status(state))
        case StockLost():
            state = replace(
                state,
                lost=state.lost + _take(state, event.warehouse_id, event.unreserved),
                short_picks=state.short_picks | {event.fulfilment_id},
            )
            if state.status in _HOLDING and state.shipped:
                return replace(state, status=_shipping_status(state))
            return state
    return state


def _shipping_status(state: Reservation) -> ReservationStatus:
    done = not state.outstanding()
    return ReservationStatus.SHIPPED if done else ReservationStatus.PARTIALLY_SHIPPED


# -- the decider -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReservationView:
    """What a reservation command decides on (see the module doc).

    ``stocks`` holds the SKUs the handler loaded for the command: those of a placement's
    lines, of a shipment's lines, or those the reservation holds; a SKU missing from it
    has no stock.
    """

    reservation: Reservation = field(default_factory=Reservation)
    warehouses: Warehouses = field(default_factory=Warehouses)
    stocks: Mapping[str, SkuStock] = field(default_factory=dict)

    def stock_of(self, sku: str) -> SkuStock:
        return self.stocks.get(sku, SkuStock())


class ReservationDecider:
    def initial_state(self) -> ReservationView:
        return ReservationView()

    def evolve(self, state: ReservationView, event: Event) -> ReservationView:
        if isinstance(event, WarehouseRegistered):
            return replace(state, warehouses=warehouses.evolve(state.warehouses, event))
        if isinstance(event, STOCK_EVENTS):
            moved = stock.evolve(state.stock_of(event.sku), event)
            return replace(state, stocks={**state.stocks, event.sku: moved})
        return replace(state, reservation=evolve(state.reservation, event))

    def decide(self, command: ReservationCommand, state: ReservationView) -> Decision:
        match command:
            case ReserveStock():
                return _reserve(command, state)
            case ReleaseStock():
                return _release(command, state.reservation)
            case ShipStock():
                return _ship(command, state.reservation)
            case BookShortPick():
                return _book_short_pick(command, state)
            case RestockReturnedShipment():
                return _restock_returned(command, state)
            case _:
                assert_never(command)


RESERVATION: Decider[ReservationCommand, ReservationView] = ReservationDecider()


def _reserve(cmd: ReserveStock, view: ReservationView) -> list[Event]:
    """Reserve every line, or fail with the shortages; an order is decided only once."""
    if view.reservation.decided:
        return []
    skus = list(dict.fromkeys(ln.sku for ln in cmd.lines))
    # A SKU that was never registered has no stock anywhere: it is simply short.
    unknown = sorted(sku for sku in skus if view.stock_of(sku).info is None)
    snapshot = {sku: ({} if sku in unknown else view.stock_of(sku).available()) for sku in skus}
    result = allocate(
        snapshot, cmd.lines, cmd.delivery_country, view.warehouses.all(), cmd.strategy
    )
    if isinstance(result, AllocationFailure):
        note = f"; not registered: {', '.join(unknown)}" if unknown else ""
        return [_failed(cmd.order_id, result.shortages, result.summary + note)]
    res_id = reservation_id(cmd.order_id)
    allocations = tuple(_to_contract(a) for a in result.allocations)
    events: list[Event] = [
        StockReserved(
            order_id=cmd.order_id,
            reservation_id=res_id,
            allocations=allocations,
            strategy=result.strategy,
            reasoning=result.summary,
            decisions=tuple(
                LineDecision(line_id=r.line_id, sku=r.sku, reason=r.reason) for r in result.reasons
            ),
        )
    ]
    for sku in dict.fromkeys(a.sku for a in allocations):
        allocated = StockAllocated(
            order_id=cmd.order_id,
            reservation_id=res_id,
            sku=sku,
            allocations=tuple(a for a in allocations if a.sku == sku),
        )
        events += with_low_stock_checks(view.stock_of(sku), sku, [allocated])
    return events


def _release(cmd: ReleaseStock, state: Reservation) -> list[Event]:
    """Give back whatever is reserved and not shipped; block a reservation still to come."""
    if state.status is ReservationStatus.NONE:
        return [StockReservationCancelled(order_id=cmd.order_id, reason=cmd.reason)]
    outstanding = state.outstanding()
    if state.status not in _HOLDING or not outstanding or state.reservation_id is None:
        return []
    allocations = tuple(_to_contract(a) for a in outstanding)
    events: list[Event] = [
        StockReleased(
            order_id=cmd.order_id, reservation_id=state.reservation_id, allocations=allocations
        )
    ]
    events += [
        StockDeallocated(
            order_id=cmd.order_id,
            reservation_id=state.reservation_id,
            sku=sku,
            allocations=tuple(a for a in allocations if a.sku == sku),
        )
        for sku in dict.fromkeys(a.sku for a in allocations)
    ]
    return events


def _ship(cmd: ShipStock, state: Reservation) -> list[Event]:
    """Book reserved units out of the warehouse; each shipment is booked once."""
    if cmd.shipment_id in state.shipments:
        return []
    if state.status not in _HOLDING:
        raise Refusal(
            "no_open_reservation",
            f"shipment {cmd.shipment_id}: order {cmd.order_id} has no open reservation "
            f"(status {state.status.value})",
        )
    wanted: dict[str, int] = {}
    for sku, qty in cmd.lines:
        wanted[sku] = wanted.get(sku, 0) + qty
    for sku, qty in wanted.items():
        held = sum(
            a.quantity
            for a in state.outstanding()
            if a.sku == sku and a.warehouse_id == cmd.warehouse
        )
        if qty > held:
            raise Refusal(
                "shipment_exceeds_reservation",
                f"shipment {cmd.shipment_id} ships {qty} x {sku} from {cmd.warehouse}, but "
                f"order {cmd.order_id} holds {held} reserved there",
            )
    lines = tuple(SkuQuantity(sku=sku, quantity=q) for sku, q in wanted.items())
    events: list[Event] = [
        StockShipped(
            order_id=cmd.order_id,
            shipment_id=cmd.shipment_id,
            warehouse_id=cmd.warehouse,
            lines=lines,
        )
    ]
    events += [
        StockIssued(
            order_id=cmd.order_id,
            shipment_id=cmd.shipment_id,
            sku=sku,
            warehouse_id=cmd.warehouse,
            quantity=q,
        )
        for sku, q in wanted.items()
    ]
    return events


_HOLDING = (ReservationStatus.RESERVED, ReservationStatus.PARTIALLY_SHIPPED)
_NEVER_HELD = (ReservationStatus.NONE, ReservationStatus.FAILED, ReservationStatus.CANCELLED)


def returned_to_sender_reference(shipment_id: str) -> str:
    """The receipt reference that books a returned parcel in once (an id: <= 100 chars)."""
    reference = f"returned-to-sender:{shipment_id}"
    if len(reference) <= 100:
        return reference
    return "returned-to-sender:" + hashlib.sha256(shipment_id.encode()).hexdigest()[:40]


def _restock_returned(cmd: RestockReturnedShipment, view: ReservationView) -> list[Event]:
    """Put a returned parcel's units back on its warehouse's shelf; once per shipment."""
    shipped = view.reservation.shipped_from.get(cmd.shipment_id)
    if shipped is None:
        raise Refusal(
            "shipment_not_shipped",
            f"shipment {cmd.shipment_id} of order {cmd.order_id} was returned to sender, but "
            "its dispatch was never booked out; replay the dispatch first",
        )
    warehouse, lines = shipped
    reference = returned_to_sender_reference(cmd.shipment_id)
    events: list[Event] = []
    for line in lines:
        stock_of = view.stock_of(line.sku)
        if (warehouse, reference) in stock_of.receipts:
            continue
        received = StockReceived(
            sku=line.sku, warehouse_id=warehouse, quantity=line.quantity, reference=reference
        )
        events += with_low_stock_checks(stock_of, line.sku, [received])
    return events


def _book_short_pick(cmd: BookShortPick, view: ReservationView) -> list[Event]:
    """Book a fulfilment's missing units lost at its warehouse; each fulfilment once."""
    state = view.reservation
    if cmd.fulfilment_id in state.short_picks:
        return []
    if state.status in _NEVER_HELD:
        raise Refusal(
            "no_reservation",
            f"short pick of fulfilment {cmd.fulfilment_id}: order {cmd.order_id} holds no "
            f"stock (reservation {state.status.value})",
        )
    missing: dict[str, int] = {}
    for sku, qty in cmd.missing:
        missing[sku] = missing.get(sku, 0) + qty
    held: dict[str, int] = {}
    if state.status in _HOLDING:
        for a in state.outstanding():
            if a.warehouse_id == cmd.warehouse:
                held[a.sku] = held.get(a.sku, 0) + a.quantity
    lost: list[SkuQuantity] = []
    unreserved: list[SkuQuantity] = []
    per_sku: list[Event] = []
    for sku, qty in missing.items():
        # Units the books do not have cannot be lost: never below zero on hand.
        on_hand = view.stock_of(sku).level(cmd.warehouse).on_hand
        quantity = min(qty, on_hand)
        if quantity <= 0:
            continue
        reserved = min(quantity, held.get(sku, 0))
        lost.append(SkuQuantity(sku=sku, quantity=quantity))
        if reserved:
            unreserved.append(SkuQuantity(sku=sku, quantity=reserved))
        written_down = StockWrittenDown(
            order_id=cmd.order_id,
            fulfilment_id=cmd.fulfilment_id,
            sku=sku,
            warehouse_id=cmd.warehouse,
            quantity=quantity,
            reserved=reserved,
            reason=f"short pick: not found at {cmd.warehouse} (fulfilment {cmd.fulfilment_id})",
        )
        per_sku += with_low_stock_checks(view.stock_of(sku), sku, [written_down])
    if not lost:
        return []
    booked = StockLost(
        order_id=cmd.order_id,
        fulfilment_id=cmd.fulfilment_id,
        warehouse_id=cmd.warehouse,
        lines=tuple(lost),
        unreserved=tuple(unreserved),
    )
    return [booked, *per_sku]


def _failed(order_id: str, shortages: Iterable[Shortfall], reason: str) -> Event:
    return StockReservationFailed(
        order_id=order_id,
        shortages=tuple(
            Shortage(sku=s.sku, requested=s.requested, available=s.available) for s in shortages
        ),
        reason=clip(reason),
    )


def _take(
    state: Reservation, warehouse: str, lines: Iterable[SkuQuantity]
) -> tuple[LineAllocation, ...]:
    """Attribute shipped units of each SKU to the order lines reserved in that warehouse."""
    taken: list[LineAllocation] = []
    outstanding = state.outstanding()
    for line in lines:
        need = line.quantity
        for a in outstanding:
            if need == 0:
                break
            if a.sku != line.sku or a.warehouse_id != warehouse:
                continue
            q = min(need, a.quantity)
            taken.append(LineAllocation(a.line_id, a.sku, warehouse, q))
            need -= q
    return tuple(taken)


def _to_contract(a: LineAllocation) -> Allocation:
    return Allocation(
        line_id=a.line_id, sku=a.sku, warehouse_id=a.warehouse_id, quantity=a.quantity
    )


def _from_contract(a: Allocation) -> LineAllocation:
    return LineAllocation(a.line_id, a.sku, a.warehouse_id, a.quantity)
