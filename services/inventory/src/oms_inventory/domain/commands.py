"""What the inventory is asked to do: one immutable command per intent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from oms_events.contracts import AllocationStrategy
from oms_inventory.domain.allocation import LineRequest


@dataclass(frozen=True, slots=True)
class RegisterWarehouse:
    code: str
    name: str
    country: str
    priority: int
    active: bool
    replace: bool = False
    """False: refuse different details for an existing code; True: change them."""


@dataclass(frozen=True, slots=True)
class RegisterSku:
    sku: str
    name: str
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int
    replace: bool = False


@dataclass(frozen=True, slots=True)
class ReceiveStock:
    sku: str
    warehouse: str
    quantity: int
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class AdjustStock:
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
class PlanPromotion:
    promotion_id: str
    name: str
    skus: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    expected_uplift: Decimal
