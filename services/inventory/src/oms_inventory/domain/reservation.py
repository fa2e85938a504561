"""An order's reservation: reserve, release on cancel, book out on dispatch.

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

Refusals (only for shipments, which cannot get better on retry): ``no_open_reservation``
and ``shipment_exceeds_reservation`` (409). An order is decided once: a second
``ReserveStock`` for it decides nothing.
"""

from __future__ import annotations

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
    StockReleased,
    StockReservationCancelled,
    StockReservationFailed,
    StockReserved,
    StockShipped,
    WarehouseRegistered,
)
from oms_inventory.domain import stock, warehouses
from oms_inventory.domain.allocation import (
    AllocationFailure,
    LineAllocation,
    Shortfall,
    allocate,
    clip,
)
from oms_inventory.domain.commands import (
    ReleaseStock,
    ReservationCommand,
    ReserveStock,
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
        """Reserved units not yet shipped, per line and warehouse."""
        left: dict[tuple[str, str, str], int] = {}
        for a in self.allocations:
            key = (a.line_id, a.sku, a.warehouse_id)
            left[key] = left.get(key, 0) + a.quantity
        for s in self.shipped:
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
            )
            done = not state.outstanding()
            status = ReservationStatus.SHIPPED if done else ReservationStatus.PARTIALLY_SHIPPED
            return replace(state, status=status)
    return state


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
