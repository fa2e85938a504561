"""Contracts published by the inventory service on ``oms.inventory.events``.

Reservations live in a stream per order (``reservation-<order id>``). Everything that
moves the stock of one SKU, in any warehouse, is also recorded in that SKU's stream
(``stock-<sku>``): registration, receipts, adjustments, transfers, thresholds, and the
per-SKU side of each reservation, release and shipment (``StockAllocated``,
``StockDeallocated``, ``StockIssued``). Appending a reservation to every SKU stream it
touches in one atomic append is what makes concurrent reservations unable to oversell.
Warehouses live in one stream (``warehouses``), promotions in ``promotion-<id>``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import (
    Allocation,
    CountryCode,
    Grams,
    Id,
    Name,
    ReturnedLine,
    Sku,
    SkuQuantity,
    StockLevel,
    Text,
    Units,
)
from oms_events.limits import (
    MAX_ALLOCATIONS,
    MAX_LINES,
    MAX_MILLIMETRES,
    MAX_PROMOTION_SKUS,
    MAX_STOCK_LEVEL,
    MAX_UPLIFT,
    MAX_UPLIFT_DECIMALS,
    MAX_WAREHOUSE_PRIORITY,
)
from oms_events.registry import registry


class AllocationStrategy(StrEnum):
    """How inventory chose the warehouses for an order."""

    SINGLE_WAREHOUSE = "single_warehouse"
    """Everything from one warehouse, so one parcel."""
    NEAREST_WAREHOUSE = "nearest_warehouse"
    LOWEST_COST = "lowest_cost"
    SPLIT = "split"
    """No single warehouse had everything: lines are spread over several."""
    BY_PRIORITY = "by_priority"
    """Warehouses in order of their configured priority (1 first)."""
    NEAREST = "nearest"
    """Warehouses in the delivery country first, then by distance to it."""
    FEWEST_PARCELS = "fewest_parcels"
    """As few warehouses (so parcels) as possible; ties go to the nearest."""


class LineDecision(ContractModel):
    """Why one order line is served from the warehouse(s) it was allocated to."""

    line_id: Id
    sku: Sku
    reason: Text


@registry.register
class StockReserved(Event, type_name="StockReserved", version=1):
    """Every line of an order is reserved, possibly across several warehouses."""

    order_id: Id
    reservation_id: Id
    allocations: tuple[Allocation, ...] = Field(min_length=1, max_length=MAX_ALLOCATIONS)
    strategy: AllocationStrategy
    reasoning: Text = Field(
        description="Why this allocation was chosen, for people investigating an order."
    )
    decisions: tuple[LineDecision, ...] = Field(
        default=(), max_length=MAX_LINES, description="Per order line: which warehouse(s) and why."
    )


class Shortage(ContractModel):
    """A SKU of which fewer units are available than the order asks for."""

    sku: Sku
    requested: Units = Field(description="All the order's units of this SKU together.")
    available: StockLevel


@registry.register
class StockReservationFailed(Event, type_name="StockReservationFailed", version=1):
    """The order cannot be reserved in full; nothing was reserved for it."""

    order_id: Id
    shortages: tuple[Shortage, ...] = Field(min_length=1, max_length=MAX_LINES)
    reason: Text | None = Field(default=None, description="The shortages in words.")


@registry.register
class StockReleased(Event, type_name="StockReleased", version=1):
    """A reservation was given back (the order was cancelled)."""

    order_id: Id
    reservation_id: Id
    allocations: tuple[Allocation, ...] = Field(min_length=1, max_length=MAX_ALLOCATIONS)


@registry.register
class StockShipped(Event, type_name="StockShipped", version=1):
    """Reserved units left a warehouse in a shipment and are no longer on hand."""

    order_id: Id
    shipment_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class StockRestocked(Event, type_name="StockRestocked", version=1):
    """Returned units in resellable condition were put back into available stock."""

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class StockWrittenOff(Event, type_name="StockWrittenOff", version=1):
    """Returned units that cannot be sold again were removed from stock."""

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[ReturnedLine, ...] = Field(min_length=1, max_length=MAX_LINES)


Millimetres = Annotated[int, Field(strict=True, gt=0, le=MAX_MILLIMETRES)]
"""A length in whole millimetres."""

UPLIFT_PATTERN = rf"^[0-9]{{1,{len(str(MAX_UPLIFT))}}}(\.[0-9]{{1,{MAX_UPLIFT_DECIMALS}}})?$"
_UPLIFT_RE = re.compile(UPLIFT_PATTERN)


def _plain_uplift_string(value: Any) -> Any:
    if isinstance(value, str) and not _UPLIFT_RE.fullmatch(value):
        raise ValueError("expected_uplift must be a plain decimal string such as '2.5'")
    return value


def _bounded_uplift(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "pydantic refuses NaN and infinity before this"
    if exponent > 0:
        # 1E+2 is a whole number of at most MAX_UPLIFT here: write it as 100, exactly.
        return value.quantize(Decimal(1))
    if -exponent > MAX_UPLIFT_DECIMALS:
        raise ValueError(f"expected_uplift must have at most {MAX_UPLIFT_DECIMALS} decimal places")
    return value


Uplift = Annotated[
    Decimal,
    BeforeValidator(_plain_uplift_string),
    Field(gt=0, le=MAX_UPLIFT),
    AfterValidator(_bounded_uplift),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": UPLIFT_PATTERN, "examples": ["2.5"]}),
]
"""A sales multiplier as a decimal string: ``"2.5"`` means 2.5 times the normal rate.

More than 0, at most ``MAX_UPLIFT``, at most ``MAX_UPLIFT_DECIMALS`` decimal places."""


@registry.register
class WarehouseRegistered(Event, type_name="WarehouseRegistered", version=1):
    """A warehouse that can hold stock; ``priority`` 1 is the most preferred."""

    warehouse_id: Id = Field(description="The warehouse code, e.g. 'AMS'.")
    name: Name
    country: CountryCode
    priority: Annotated[int, Field(strict=True, ge=0, le=MAX_WAREHOUSE_PRIORITY)]
    active: bool = Field(description="Inactive warehouses keep their stock but never ship.")


@registry.register
class SkuRegistered(Event, type_name="SkuRegistered", version=1):
    """A stock keeping unit the shop sells, with its shipping weight and box dimensions."""

    sku: Sku
    name: Name
    weight_grams: Grams
    length_mm: Millimetres
    width_mm: Millimetres
    height_mm: Millimetres


@registry.register
class StockReceived(Event, type_name="StockReceived", version=1):
    """Goods arrived in a warehouse (a purchase delivery, a return put back on the shelf)."""

    sku: Sku
    warehouse_id: Id
    quantity: Units
    reference: Id | None = Field(default=None, description="Delivery note or purchase order.")


@registry.register
class StockAdjusted(Event, type_name="StockAdjusted", version=1):
    """A count (cycle count, damage found) set the units on hand to ``counted_quantity``."""

    sku: Sku
    warehouse_id: Id
    delta: Annotated[int, Field(strict=True, ge=-MAX_STOCK_LEVEL, le=MAX_STOCK_LEVEL)] = Field(
        description="counted - previous on hand"
    )
    counted_quantity: StockLevel
    reason: Text


@registry.register
class StockTransferred(Event, type_name="StockTransferred", version=1):
    """Units moved from one warehouse to another (booked in at once, no transit stock)."""

    sku: Sku
    from_warehouse_id: Id
    to_warehouse_id: Id
    quantity: Units

    @model_validator(mode="after")
    def _two_warehouses(self) -> StockTransferred:
        if self.from_warehouse_id == self.to_warehouse_id:
            raise ValueError("a transfer needs two different warehouses")
        return self


@registry.register
class LowStockThresholdSet(Event, type_name="LowStockThresholdSet", version=1):
    """Below ``threshold`` available units, this SKU is low in this warehouse (0: never)."""

    sku: Sku
    warehouse_id: Id
    threshold: StockLevel


@registry.register
class LowStockDetected(Event, type_name="LowStockDetected", version=1):
    """Available stock fell below the threshold (raised once per crossing)."""

    sku: Sku
    warehouse_id: Id
    available: StockLevel
    threshold: Annotated[int, Field(strict=True, gt=0, le=MAX_STOCK_LEVEL)]


@registry.register
class StockAllocated(Event, type_name="StockAllocated", version=1):
    """The per-SKU side of a reservation: these units are now reserved for the order."""

    order_id: Id
    reservation_id: Id
    sku: Sku
    allocations: tuple[Allocation, ...] = Field(min_length=1, max_length=MAX_ALLOCATIONS)


@registry.register
class StockDeallocated(Event, type_name="StockDeallocated", version=1):
    """The per-SKU side of a release: these reserved units are available again."""

    order_id: Id
    reservation_id: Id
    sku: Sku
    allocations: tuple[Allocation, ...] = Field(min_length=1, max_length=MAX_ALLOCATIONS)


@registry.register
class StockIssued(Event, type_name="StockIssued", version=1):
    """The per-SKU side of a shipment: reserved units left the warehouse."""

    order_id: Id
    shipment_id: Id
    sku: Sku
    warehouse_id: Id
    quantity: Units


@registry.register
class StockLost(Event, type_name="StockLost", version=1):
    """Units of the order were not found at the warehouse (a short pick): booked as lost.

    ``lines`` are the units missing from the fulfilment's pick list, per SKU, booked off
    the warehouse's stock (``StockWrittenDown`` on each SKU's stream); ``unreserved`` are
    those of them that the order's reservation still held there, taken out of it, so a
    later release or shipment of the order no longer counts them. ``unreserved`` is less
    than ``lines`` only when the reservation was released first (a cancellation handled
    before the short pick).
    """

    order_id: Id
    fulfilment_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)
    unreserved: tuple[SkuQuantity, ...] = Field(default=(), max_length=MAX_LINES)


@registry.register
class StockWrittenDown(Event, type_name="StockWrittenDown", version=1):
    """The per-SKU side of ``StockLost``: ``quantity`` units are no longer on hand in the
    warehouse, ``reserved`` of them (at most ``quantity``) were reserved for the order."""

    order_id: Id
    fulfilment_id: Id
    sku: Sku
    warehouse_id: Id
    quantity: Units
    reserved: Annotated[int, Field(strict=True, ge=0, le=MAX_STOCK_LEVEL)] = 0
    reason: Text


@registry.register
class StockReservationCancelled(Event, type_name="StockReservationCancelled", version=1):
    """The order was cancelled before inventory reserved anything: it never will."""

    order_id: Id
    reason: Text


@registry.register
class PromotionPlanned(Event, type_name="PromotionPlanned", version=1):
    """A sale is coming: these SKUs are expected to sell ``expected_uplift`` times faster."""

    promotion_id: Id
    name: Name
    skus: tuple[Sku, ...] = Field(min_length=1, max_length=MAX_PROMOTION_SKUS)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    expected_uplift: Uplift

    @model_validator(mode="after")
    def _window(self) -> PromotionPlanned:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self
