"""Contracts published by the inventory service on ``oms.inventory.events``.

Reservations live in a stream per order; stock movements caused by shipments and returns
are keyed by the shipment or return they belong to.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import (
    Allocation,
    Id,
    Quantity,
    ReturnedLine,
    Sku,
    SkuQuantity,
    StockLevel,
    Text,
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


@registry.register
class StockReserved(Event, type_name="StockReserved", version=1):
    """Every line of an order is reserved, possibly across several warehouses."""

    order_id: Id
    reservation_id: Id
    allocations: tuple[Allocation, ...] = Field(min_length=1)
    strategy: AllocationStrategy
    reasoning: Text = Field(
        description="Why this allocation was chosen, for people investigating an order."
    )


class Shortage(ContractModel):
    """A SKU of which fewer units are available than the order asks for."""

    sku: Sku
    requested: Quantity
    available: StockLevel


@registry.register
class StockReservationFailed(Event, type_name="StockReservationFailed", version=1):
    """The order cannot be reserved in full; nothing was reserved for it."""

    order_id: Id
    shortages: tuple[Shortage, ...] = Field(min_length=1)


@registry.register
class StockReleased(Event, type_name="StockReleased", version=1):
    """A reservation was given back (the order was cancelled)."""

    order_id: Id
    reservation_id: Id
    allocations: tuple[Allocation, ...] = Field(min_length=1)


@registry.register
class StockShipped(Event, type_name="StockShipped", version=1):
    """Reserved units left a warehouse in a shipment and are no longer on hand."""

    order_id: Id
    shipment_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1)


@registry.register
class StockRestocked(Event, type_name="StockRestocked", version=1):
    """Returned units in resellable condition were put back into available stock."""

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1)


@registry.register
class StockWrittenOff(Event, type_name="StockWrittenOff", version=1):
    """Returned units that cannot be sold again were removed from stock."""

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[ReturnedLine, ...] = Field(min_length=1)
