"""Contracts published by the shipping service on ``oms.shipping.events``.

Stream: one per shipment (one parcel), keyed by ``shipment_id``.
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from oms_events.base import Event
from oms_events.contracts.common import Grams, Id, Name, SkuQuantity
from oms_events.limits import MAX_LINES
from oms_events.money import Money
from oms_events.registry import registry


@registry.register
class ShipmentDispatched(Event, type_name="ShipmentDispatched", version=1):
    """A carrier collected a packed parcel; payments capture and inventory books it out."""

    shipment_id: Id
    order_id: Id
    fulfilment_id: Id
    warehouse_id: Id
    carrier: Name = Field(description="Carrier code, e.g. 'postnl' or 'dhl'.")
    service: Name = Field(description="The carrier's service level, e.g. 'standard'.")
    tracking_number: Id
    weight_grams: Grams
    shipping_cost: Money = Field(description="What the carrier charges the merchant.")
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class ShipmentDelivered(Event, type_name="ShipmentDelivered", version=1):
    """The carrier reports the parcel as delivered."""

    shipment_id: Id
    order_id: Id
    carrier: Name
    tracking_number: Id
    delivered_at: AwareDatetime = Field(
        description="Delivery time reported by the carrier (the envelope has when we heard)."
    )
