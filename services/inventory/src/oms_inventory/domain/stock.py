"""The stock of one SKU in every warehouse, as its stream (``stock-<sku>``) tells it.

On hand is what is physically there; reserved is promised to orders not yet shipped;
available = on hand - reserved is what new orders may take. The commands here never let
on hand or available go below zero; reservations (``reservation.py``) append to the same
stream, so an append made on a stale view of the stock is refused by the store.

:data:`SKU_STOCK` is the decider of one SKU's stream. Its commands also name warehouses,
so its state is a :class:`StockView`: the SKU's stock plus the registered warehouses (the
handler loads both streams; ``evolve`` sends each event to its part). Refusals:
``sku_not_found`` / ``warehouse_not_found`` (404), ``sku_exists``,
``count_below_reserved``, ``insufficient_stock``, ``stock_level_exceeded`` (409: more
than ``MAX_STOCK_LEVEL`` units of a SKU in one warehouse, which every contract and read
model column holds), ``same_warehouse`` (422).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import assert_never

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
    WarehouseRegistered,
)
from oms_events.contracts.inventory import StockWrittenDown
from oms_events.limits import MAX_STOCK_LEVEL
from oms_inventory.domain import warehouses
from oms_inventory.domain.commands import (
    AdjustStock,
    ChangeSku,
    ReceiveStock,
    RegisterSku,
    SetLowStockThreshold,
    StockCommand,
    TransferStock,
)
from oms_inventory.domain.refusals import sku_not_found
from oms_inventory.domain.warehouses import Warehouses
from oms_platform.decider import Decider, Decision
from oms_platform.refusal import Refusal

STOCK_EVENTS = (
    SkuRegistered,
    StockReceived,
    StockAdjusted,
    StockTransferred,
    LowStockThresholdSet,
    LowStockDetected,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockWrittenDown,
)
"""The events of a ``stock-<sku>`` stream; each names its ``sku``."""

StockEvent = (
    SkuRegistered
    | StockReceived
    | StockAdjusted
    | StockTransferred
    | LowStockThresholdSet
    | LowStockDetected
    | StockAllocated
    | StockDeallocated
    | StockIssued
    | StockWrittenDown
)


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

    info: SkuInfo | None = None
    levels: dict[str, Level] = field(default_factory=dict)
    receipts: frozenset[tuple[str, str]] = frozenset()
    """(warehouse, reference) of receipts, so a delivery note is booked in once."""

    def level(self, warehouse: str) -> Level:
        return self.levels.get(warehouse, Level())

    def available(self) -> dict[str, int]:
        return {wh: lvl.available for wh, lvl in self.levels.items()}

    def registered(self, sku: str) -> SkuInfo:
        """The SKU's master data; refuses ``sku_not_found`` (404) if never registered."""
        if self.info is None:
            raise sku_not_found(sku)
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
        case StockWrittenDown():
            return _moved(
                state, event.warehouse_id, on_hand=-event.quantity, reserved=-event.reserved
            )
    return state


def with_low_stock_checks(state: SkuStock, sku: str, events: list[Event]) -> list[Event]:
    """``events`` plus a ``LowStockDetected`` for each warehouse they push below threshold."""
    after = state
    for event in events:
        after = evolve(after, event)
    alerts: list[Event] = [
        LowStockDetected(
            sku=sku, warehouse_id=wh, available=max(0, lvl.available), threshold=lvl.threshold
        )
        for wh, lvl in sorted(after.levels.items())
        if lvl.threshold > 0 and lvl.below_threshold and not lvl.low
    ]
    return events + alerts


# -- the decider -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockView:
    """What a command on one SKU decides on: its stock and the registered warehouses."""

    stock: SkuStock = field(default_factory=SkuStock)
    warehouses: Warehouses = field(default_factory=Warehouses)


class SkuStockDecider:
    def initial_state(self) -> StockView:
        return StockView()

    def evolve(self, state: StockView, event: Event) -> StockView:
        if isinstance(event, WarehouseRegistered):
            return replace(state, warehouses=warehouses.evolve(state.warehouses, event))
        return replace(state, stock=evolve(state.stock, event))

    def decide(self, command: StockCommand, state: StockView) -> Decision:
        match command:
            case RegisterSku() | ChangeSku():
                return _register(command, state.stock)
            case ReceiveStock():
                return _receive(command, state)
            case AdjustStock():
                return _adjust(command, state)
            case TransferStock():
                return _transfer(command, state)
            case SetLowStockThreshold():
                return _set_threshold(command, state)
            case _:
                assert_never(command)


SKU_STOCK: Decider[StockCommand, StockView] = SkuStockDecider()


def _register(cmd: RegisterSku | ChangeSku, state: SkuStock) -> list[Event]:
    """Register (or change) the SKU; the same details again are a no-op."""
    wanted = SkuInfo(
        cmd.sku, cmd.name, cmd.weight_grams, cmd.length_mm, cmd.width_mm, cmd.height_mm
    )
    if isinstance(cmd, ChangeSku):
        state.registered(cmd.sku)
    if state.info == wanted:
        return []
    if state.info is not None and isinstance(cmd, RegisterSku):
        raise Refusal(
            "sku_exists",
            f"SKU {cmd.sku!r} is already registered with other details; "
            f"PUT /v1/skus/{cmd.sku} changes them",
            "sku",
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


def _receive(cmd: ReceiveStock, view: StockView) -> list[Event]:
    """Book goods in; a receipt reference already booked for this warehouse is a no-op."""
    view.stock.registered(cmd.sku)
    view.warehouses.get(cmd.warehouse)
    if cmd.reference and (cmd.warehouse, cmd.reference) in view.stock.receipts:
        return []
    _room_for(view.stock, cmd.sku, cmd.warehouse, cmd.quantity)
    event = StockReceived(
        sku=cmd.sku, warehouse_id=cmd.warehouse, quantity=cmd.quantity, reference=cmd.reference
    )
    return with_low_stock_checks(view.stock, cmd.sku, [event])


def _adjust(cmd: AdjustStock, view: StockView) -> list[Event]:
    """Set on hand to a counted quantity; refused if that is less than is reserved."""
    view.stock.registered(cmd.sku)
    view.warehouses.get(cmd.warehouse)
    lvl = view.stock.level(cmd.warehouse)
    if cmd.counted_quantity < lvl.reserved:
        raise Refusal(
            "count_below_reserved",
            f"{cmd.counted_quantity} counted but {lvl.reserved} units of {cmd.sku} are "
            f"reserved in {cmd.warehouse}: release or ship reservations first",
            "counted_quantity",
        )
    event = StockAdjusted(
        sku=cmd.sku,
        warehouse_id=cmd.warehouse,
        delta=cmd.counted_quantity - lvl.on_hand,
        counted_quantity=cmd.counted_quantity,
        reason=cmd.reason,
    )
    return with_low_stock_checks(view.stock, cmd.sku, [event])


def _transfer(cmd: TransferStock, view: StockView) -> list[Event]:
    """Move available units between two warehouses."""
    if cmd.from_warehouse == cmd.to_warehouse:
        raise Refusal.invalid(
            "same_warehouse", "a transfer needs two different warehouses", "to_warehouse"
        )
    view.stock.registered(cmd.sku)
    view.warehouses.get(cmd.from_warehouse, "from_warehouse")
    view.warehouses.get(cmd.to_warehouse, "to_warehouse")
    available = view.stock.level(cmd.from_warehouse).available
    if cmd.quantity > available:
        raise Refusal(
            "insufficient_stock",
            f"only {available} units of {cmd.sku} are available in {cmd.from_warehouse}, "
            f"{cmd.quantity} asked",
            "quantity",
        )
    _room_for(view.stock, cmd.sku, cmd.to_warehouse, cmd.quantity)
    event = StockTransferred(
        sku=cmd.sku,
        from_warehouse_id=cmd.from_warehouse,
        to_warehouse_id=cmd.to_warehouse,
        quantity=cmd.quantity,
    )
    return with_low_stock_checks(view.stock, cmd.sku, [event])


def _room_for(state: SkuStock, sku: str, warehouse: str, quantity: int) -> None:
    """Refuse a movement that would put more than ``MAX_STOCK_LEVEL`` units in a warehouse."""
    on_hand = state.level(warehouse).on_hand
    if on_hand + quantity > MAX_STOCK_LEVEL:
        raise Refusal(
            "stock_level_exceeded",
            f"{warehouse} holds {on_hand} units of {sku}: {quantity} more would exceed "
            f"{MAX_STOCK_LEVEL}",
            "quantity",
        )


def _set_threshold(cmd: SetLowStockThreshold, view: StockView) -> list[Event]:
    """Set the low-stock threshold; raises the alert at once if stock is already below it."""
    view.stock.registered(cmd.sku)
    view.warehouses.get(cmd.warehouse)
    if view.stock.level(cmd.warehouse).threshold == cmd.threshold:
        return []
    event = LowStockThresholdSet(sku=cmd.sku, warehouse_id=cmd.warehouse, threshold=cmd.threshold)
    return with_low_stock_checks(view.stock, cmd.sku, [event])
