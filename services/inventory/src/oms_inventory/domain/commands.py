"""What the inventory is asked to do: one immutable command per intent, grouped per decider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from oms_events.contracts import AllocationStrategy, ReturnedLine
from oms_inventory.domain.allocation import LineRequest

# -- warehouses (the ``warehouses`` stream) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterWarehouse:
    """A new warehouse; the same details again are a no-op, other details a conflict."""

    code: str
    name: str
    country: str
    priority: int
    active: bool


@dataclass(frozen=True, slots=True)
class ChangeWarehouse:
    """New details for a registered warehouse (e.g. deactivate it)."""

    code: str
    name: str
    country: str
    priority: int
    active: bool


WarehouseCommand = RegisterWarehouse | ChangeWarehouse

# -- one SKU's stock (the ``stock-<sku>`` stream) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterSku:
    sku: str
    name: str
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int


@dataclass(frozen=True, slots=True)
class ChangeSku:
    """New master data for a registered SKU."""

    sku: str
    name: str
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int


@dataclass(frozen=True, slots=True)
class ReceiveStock:
    sku: str
    warehouse: str
    quantity: int
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class AdjustStock:
    """A count: on hand becomes ``counted_quantity``."""

    sku: str
    warehouse: str
    counted_quantity: int
    reason: str


@dataclass(frozen=True, slots=True)
class TransferStock:
    sku: str
    from_warehouse: str
    to_warehouse: str
    quantity: int


@dataclass(frozen=True, slots=True)
class SetLowStockThreshold:
    sku: str
    warehouse: str
    threshold: int


StockCommand = (
    RegisterSku | ChangeSku | ReceiveStock | AdjustStock | TransferStock | SetLowStockThreshold
)

# -- an order's reservation (``reservation-<order id>`` plus the SKU streams it touches) ---------


@dataclass(frozen=True, slots=True)
class ReserveStock:
    order_id: str
    lines: tuple[LineRequest, ...]
    delivery_country: str
    strategy: AllocationStrategy


@dataclass(frozen=True, slots=True)
class ReleaseStock:
    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ShipStock:
    order_id: str
    shipment_id: str
    warehouse: str
    lines: tuple[tuple[str, int], ...]
    """(sku, quantity) pairs."""


@dataclass(frozen=True, slots=True)
class BookShortPick:
    """Units on a fulfilment's pick list were not found at its warehouse: book them lost."""

    order_id: str
    fulfilment_id: str
    warehouse: str
    missing: tuple[tuple[str, int], ...]
    """(sku, quantity) pairs."""


@dataclass(frozen=True, slots=True)
class RestockReturnedShipment:
    """The carrier is bringing a dispatched parcel back: its units go back on the shelf."""

    order_id: str
    shipment_id: str


ReservationCommand = (
    ReserveStock | ReleaseStock | ShipStock | BookShortPick | RestockReturnedShipment
)

# -- a return (``return-<return id>`` plus the SKU streams it restocks) --------------------------


@dataclass(frozen=True, slots=True)
class BookReturn:
    return_id: str
    order_id: str
    warehouse: str
    lines: tuple[ReturnedLine, ...]


# -- a promotion (``promotion-<id>``) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanPromotion:
    promotion_id: str
    name: str
    skus: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    expected_uplift: Decimal
