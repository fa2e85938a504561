"""The stock of one SKU in every warehouse, as its stream (``stock-<sku>``) tells it.

On hand is what is physically there; reserved is promised to orders not yet shipped;
available = on hand - reserved is what new orders may take. The commands here never let
on hand or available go below zero; reservations (``reservation.py``) append to the same
stream, so an append made on a stale view of the stock is refused by the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from oms_events.base import Event
from oms_events.contracts import (
    LowStockDetected,
    LowStockThresholdSet,
    SkuRegistered,
    StockAdjusted,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockReceived,
    StockTransferred,
)
from oms_inventory.domain.commands import (
    AdjustStock,
    ReceiveStock,
    RegisterSku,
    SetLowStockThreshold,
    TransferStock,
)
from oms_inventory.domain.errors import Conflict, NotFound
from oms_inventory.domain.warehouses import Warehouses


@dataclass(frozen=True, slots=True)
class Level:
    """One SKU in one warehouse."""

    on_hand: int = 0
    reserved: int = 0
    threshold: int = 0
    low: bool = False
    """A ``LowStockDetected`` was raised and available has not recovered since."""

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def below_threshold(self) -> bool:
        return self.available < self.threshold


@dataclass(frozen=True, slots=True)
class SkuInfo:
    """Master data of a SKU: name, shipping weight, box dimensions."""

    sku: str
    name: str
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int


@dataclass(frozen=True, slots=True)
class SkuStock:
    """Everything the ``stock-<sku>`` stream says."""

    sku: str
    info: SkuInfo | None = None
    levels: dict[str, Level] = field(default_factory=dict)
    receipts: frozenset[tuple[str, str]] = frozenset()
    """(warehouse, reference) of receipts, so a delivery note is booked in once."""

    def level(self, warehouse: str) -> Level:
        return self.levels.get(warehouse, Level())

    def available(self) -> dict[str, int]:
        return {wh: lvl.available for wh, lvl in self.levels.items()}

    def registered(self) -> SkuInfo:
        """The SKU's master data; raises :class:`NotFound` if it was never registered."""
        if self.info is None:
            raise NotFound(f"SKU {self.sku!r} is not registered", field="sku")
        return self.info


def _with(state: SkuStock, warehouse: str, level: Level) -> SkuStock:
    # A low-stock warning re-arms once available is back at or above the threshold.
    if level.low and not level.below_threshold:
        level = replace(level, low=False)
    return replace(state, levels={**state.levels, warehouse: level})


def _moved(state: SkuStock, warehouse: str, on_hand: int = 0, reserved: int = 0) -> SkuStock:
    lvl = state.level(warehouse)
    return _with(
        state,
        warehouse,
        replace(lvl, on_hand=lvl.on_hand + on_hand, reserved=lvl.reserved + reserved),
    )


def evolve(state: SkuStock, event: Event) -> SkuStock:
    """The state after ``event`` (events of other kinds leave it unchanged)."""
    match event:
        case SkuRegistered():
            info = SkuInfo(
                event.sku,
                event.name,
                event.weight_grams,
                event.length_mm,
                event.width_mm,
                event.height_mm,
            )
            return replace(state, info=info)
        case StockReceived():
            state = _moved(state, event.warehouse_id, on_hand=event.quantity)
            if event.reference:
                state = replace(
                    state, receipts=state.receipts | {(event.warehouse_id, event.reference)}
                )
            return state
        case StockAdjusted():
            return _moved(state, event.warehouse_id, on_hand=event.delta)
        case StockTransferred():
            state = _moved(state, event.from_warehouse_id, on_hand=-event.quantity)
            return _moved(state, event.to_warehouse_id, on_hand=event.quantity)
        case LowStockThresholdSet():
            lvl = replace(state.level(event.warehouse_id), threshold=event.threshold)
            return _with(state, event.warehouse_id, lvl)
        case LowStockDetected():
            lvl = replace(state.level(event.warehouse_id), low=True)
            return replace(state, levels={**state.levels, event.warehouse_id: lvl})
        case StockAllocated():
            for a in event.allocations:
                state = _moved(state, a.warehouse_id, reserved=a.quantity)
            return state
        case StockDeallocated():
            for a in event.allocations:
                state = _moved(state, a.warehouse_id, reserved=-a.quantity)
            return state
        case StockIssued():
            return _moved(
                state, event.warehouse_id, on_hand=-event.quantity, reserved=-event.quantity
            )
    return state


def replay(sku: str, events: Iterable[Event]) -> SkuStock:
    state = SkuStock(sku)
    for event in events:
        state = evolve(state, event)
    return state


def with_low_stock_checks(state: SkuStock, events: list[Event]) -> list[Event]:
    """``events`` plus a ``LowStockDetected`` for each warehouse they push below threshold."""
    after = state
    for event in events:
        after = evolve(after, event)
    alerts: list[Event] = [
        LowStockDetected(
            sku=state.sku, warehouse_id=wh, available=max(0, lvl.available), threshold=lvl.threshold
        )
        for wh, lvl in sorted(after.levels.items())
        if lvl.threshold > 0 and lvl.below_threshold and not lvl.low
    ]
    return events + alerts


def register(cmd: RegisterSku, state: SkuStock) -> list[Event]:
    """Register the SKU; the same details again are a no-op."""
    wanted = SkuInfo(
        cmd.sku, cmd.name, cmd.weight_grams, cmd.length_mm, cmd.width_mm, cmd.height_mm
    )
    if state.info == wanted:
        return []
    if state.info is not None and not cmd.replace:
        raise Conflict(
            f"SKU {cmd.sku!r} is already registered with other details; "
            f"PUT /v1/skus/{cmd.sku} changes them",
            field="sku",
        )
    return [
        SkuRegistered(
            sku=cmd.sku,
            name=cmd.name,
            weight_grams=cmd.weight_grams,
            length_mm=cmd.length_mm,
            width_mm=cmd.width_mm,
            height_mm=cmd.height_mm,
        )
    ]


def receive(cmd: ReceiveStock, state: SkuStock, warehouses: Warehouses) -> list[Event]:
    """Book goods in; a receipt reference already booked for this warehouse is a no-op."""
    state.registered()
    warehouses.get(cmd.warehouse)
    if cmd.reference and (cmd.warehouse, cmd.reference) in state.receipts:
        return []
    event = StockReceived(
        sku=cmd.sku, warehouse_id=cmd.warehouse, quantity=cmd.quantity, reference=cmd.reference
    )
    return with_low_stock_checks(state, [event])


def adjust(cmd: AdjustStock, state: SkuStock, warehouses: Warehouses) -> list[Event]:
    """Set on hand to a counted quantity; refused if that is less than is reserved."""
    state.registered()
    warehouses.get(cmd.warehouse)
    lvl = state.level(cmd.warehouse)
    if cmd.counted_quantity < lvl.reserved:
        raise Conflict(
            f"{cmd.counted_quantity} counted but {lvl.reserved} units of {cmd.sku} are "
            f"reserved in {cmd.warehouse}: release or ship reservations first",
            field="counted_quantity",
        )
    delta = cmd.counted_quantity - lvl.on_hand
    event = StockAdjusted(
        sku=cmd.sku,
        warehouse_id=cmd.warehouse,
        delta=delta,
        counted_quantity=cmd.counted_quantity,
        reason=cmd.reason,
    )
    return with_low_stock_checks(state, [event])


def transfer(cmd: TransferStock, state: SkuStock, warehouses: Warehouses) -> list[Event]:
    """Move available units between two warehouses."""
    state.registered()
    warehouses.get(cmd.from_warehouse)
    warehouses.get(cmd.to_warehouse)
    if cmd.from_warehouse == cmd.to_warehouse:
        raise Conflict("a transfer needs two different warehouses", field="to_warehouse")
    available = state.level(cmd.from_warehouse).available
    if cmd.quantity > available:
        raise Conflict(
            f"only {available} units of {cmd.sku} are available in {cmd.from_warehouse}, "
            f"{cmd.quantity} asked",
            field="quantity",
        )
    event = StockTransferred(
        sku=cmd.sku,
        from_warehouse_id=cmd.from_warehouse,
        to_warehouse_id=cmd.to_warehouse,
        quantity=cmd.quantity,
    )
    return with_low_stock_checks(state, [event])


def set_threshold(
    cmd: SetLowStockThreshold, state: SkuStock, warehouses: Warehouses
) -> list[Event]:
    """Set the low-stock threshold; raises the alert at once if stock is already below it."""
    state.registered()
    warehouses.get(cmd.warehouse)
    if state.level(cmd.warehouse).threshold == cmd.threshold:
        return []
    event = LowStockThresholdSet(sku=cmd.sku, warehouse_id=cmd.warehouse, threshold=cmd.threshold)
    return with_low_stock_checks(state, [event])
