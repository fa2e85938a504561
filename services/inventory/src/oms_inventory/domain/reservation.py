"""An order's reservation: reserve, release on cancel, book out on dispatch.

The reservation's own stream (``reservation-<order id>``) holds the public facts
(``StockReserved`` / ``StockReservationFailed`` / ``StockReleased`` / ``StockShipped``);
each decision also yields the per-SKU events for the ``stock-<sku>`` streams it touches.
The caller appends both in one atomic append, so a decision taken on stale stock is
refused by the store and taken again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

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
)
from oms_inventory.domain.allocation import (
    AllocationFailure,
    LineAllocation,
    Shortfall,
    allocate,
    clip,
)
from oms_inventory.domain.commands import ReleaseStock, ReserveStock, ShipStock
from oms_inventory.domain.errors import Conflict
from oms_inventory.domain.stock import SkuStock, with_low_stock_checks
from oms_inventory.domain.warehouses import Warehouses


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

    order_id: str
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


@dataclass(frozen=True, slots=True)
class Decision:
    """Events for the reservation stream and, per SKU, for the ``stock-<sku>`` streams."""

    reservation: list[Event] = field(default_factory=list)
    stock: dict[str, list[Event]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.reservation or any(self.stock.values()))


def reserve(
    cmd: ReserveStock,
    state: Reservation,
    warehouses: Warehouses,
    stocks: Mapping[str, SkuStock],
) -> Decision:
    """Reserve every line, or fail with the shortages; an order is decided only once."""
    if state.status is not ReservationStatus.NONE:
        return Decision()
    # A SKU that was never registered has no stock anywhere: it is simply short.
    unknown = sorted({ln.sku for ln in cmd.lines if stocks[ln.sku].info is None})
    snapshot = {sku: ({} if sku in unknown else s.available()) for sku, s in stocks.items()}
    result = allocate(snapshot, cmd.lines, cmd.delivery_country, warehouses.all(), cmd.strategy)
    if isinstance(result, AllocationFailure):
        note = f"; not registered: {', '.join(unknown)}" if unknown else ""
        return _failed(cmd.order_id, result.shortages, result.summary + note)
    res_id = reservation_id(cmd.order_id)
    allocations = tuple(_to_contract(a) for a in result.allocations)
    reserved = StockReserved(
        order_id=cmd.order_id,
        reservation_id=res_id,
        allocations=allocations,
        strategy=result.strategy,
        reasoning=result.summary,
        decisions=tuple(
            LineDecision(line_id=r.line_id, sku=r.sku, reason=r.reason) for r in result.reasons
        ),
    )
    per_sku: dict[str, list[Event]] = {}
    for sku in dict.fromkeys(a.sku for a in allocations):
        allocated = StockAllocated(
            order_id=cmd.order_id,
            reservation_id=res_id,
            sku=sku,
            allocations=tuple(a for a in allocations if a.sku == sku),
        )
        per_sku[sku] = with_low_stock_checks(stocks[sku], [allocated])
    return Decision([reserved], per_sku)


def release(cmd: ReleaseStock, state: Reservation) -> Decision:
    """Give back whatever is reserved and not shipped; block a reservation still to come."""
    if state.status is ReservationStatus.NONE:
        return Decision([StockReservationCancelled(order_id=cmd.order_id, reason=cmd.reason)])
    outstanding = state.outstanding()
    if state.status not in _HOLDING or not outstanding or state.reservation_id is None:
        return Decision()
    allocations = tuple(_to_contract(a) for a in outstanding)
    per_sku: dict[str, list[Event]] = {
        sku: [
            StockDeallocated(
                order_id=cmd.order_id,
                reservation_id=state.reservation_id,
                sku=sku,
                allocations=tuple(a for a in allocations if a.sku == sku),
            )
        ]
        for sku in dict.fromkeys(a.sku for a in allocations)
    }
    released = StockReleased(
        order_id=cmd.order_id, reservation_id=state.reservation_id, allocations=allocations
    )
    return Decision([released], per_sku)


def ship(cmd: ShipStock, state: Reservation) -> Decision:
    """Book reserved units out of the warehouse; each shipment is booked once."""
    if cmd.shipment_id in state.shipments:
        return Decision()
    if state.status not in _HOLDING:
        raise Conflict(
            f"shipment {cmd.shipment_id}: order {cmd.order_id} has no open reservation "
            f"(status {state.status.value})"
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
            raise Conflict(
                f"shipment {cmd.shipment_id} ships {qty} x {sku} from {cmd.warehouse}, but "
                f"order {cmd.order_id} holds {held} reserved there"
            )
    lines = tuple(SkuQuantity(sku=sku, quantity=q) for sku, q in wanted.items())
    shipped = StockShipped(
        order_id=cmd.order_id, shipment_id=cmd.shipment_id, warehouse_id=cmd.warehouse, lines=lines
    )
    per_sku: dict[str, list[Event]] = {
        sku: [
            StockIssued(
                order_id=cmd.order_id,
                shipment_id=cmd.shipment_id,
                sku=sku,
                warehouse_id=cmd.warehouse,
                quantity=q,
            )
        ]
        for sku, q in wanted.items()
    }
    return Decision([shipped], per_sku)


_HOLDING = (ReservationStatus.RESERVED, ReservationStatus.PARTIALLY_SHIPPED)


def _failed(order_id: str, shortages: Iterable[Shortfall], reason: str) -> Decision:
    failed = StockReservationFailed(
        order_id=order_id,
        shortages=tuple(
            Shortage(sku=s.sku, requested=s.requested, available=s.available) for s in shortages
        ),
        reason=clip(reason),
    )
    return Decision([failed])


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
