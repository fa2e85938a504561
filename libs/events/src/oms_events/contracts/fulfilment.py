"""Contracts published by the fulfilment service on ``oms.fulfilment.events``.

A confirmed order becomes one fulfilment per warehouse it was allocated to; each has its
own stream, keyed by ``fulfilment_id``.
"""

from __future__ import annotations

from pydantic import Field

from oms_events.base import Event
from oms_events.contracts.common import Address, Grams, Id, SkuQuantity
from oms_events.limits import MAX_LINES
from oms_events.registry import registry


class _FulfilmentEvent(Event):
    """Fields shared by every fulfilment event (abstract)."""

    fulfilment_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class FulfilmentRequested(_FulfilmentEvent, type_name="FulfilmentRequested", version=1):
    """A warehouse is asked to pick and pack its share of a confirmed order."""

    shipping_address: Address


@registry.register
class OrderPicked(_FulfilmentEvent, type_name="OrderPicked", version=1):
    """The warehouse picked the lines of this fulfilment from its shelves."""


@registry.register
class OrderPacked(_FulfilmentEvent, type_name="OrderPacked", version=1):
    """The picked lines are packed in one parcel, ready for a carrier.

    Carries the address and weight shipping needs to book the carrier.
    """

    weight_grams: Grams
    shipping_address: Address
