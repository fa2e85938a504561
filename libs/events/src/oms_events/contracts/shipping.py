"""Contracts published by the shipping service on ``oms.shipping.events``.

Stream: one per shipment (one parcel), keyed by ``shipment_id``. A shipment is booked and
dispatched (``ShipmentBooked`` then ``ShipmentDispatched``), scanned on its way
(``ShipmentInTransit``, ``ShipmentDeliveryFailed``) and ends delivered
(``ShipmentDelivered``), returned to sender (``ShipmentReturnedToSender``) or lost
(``ShipmentLost``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import AwareDatetime, Field

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import CountryCode, Grams, Id, Name, SkuQuantity, Text
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


# -- what booking and the carrier's scans add (ShipmentBooked and the status events) ---------
# Kept apart from the v1 events above, whose schemas are committed: they carry what those
# cannot (the charged price, the promise, the rate-shopping explanation, the scans between
# dispatch and delivery) without changing a field of theirs.


class ShippingMethod(StrEnum):
    """The shipping method the customer chose (and was promised) at checkout."""

    STANDARD = "standard"
    EXPRESS = "express"
    """Faster than standard; an express service also meets a standard promise."""


class PassedOverReason(StrEnum):
    """Why rate shopping did not choose a carrier service."""

    BELOW_PROMISED_METHOD = "below_promised_method"
    """A standard service, for a parcel promised express."""
    TOO_SLOW = "too_slow"
    """It would deliver after the promised delivery date."""
    NO_SERVICE_TO_ZONE = "no_service_to_zone"
    """The carrier does not offer this service to the destination country."""
    NO_COLLECTION_AT_ORIGIN = "no_collection_at_origin"
    """The carrier does not collect in the warehouse's country."""
    OVER_WEIGHT_LIMIT = "over_weight_limit"
    """The parcel is heavier than the carrier's heaviest weight band."""
    MORE_EXPENSIVE = "more_expensive"
    """It meets the promise but another service does so for less (or as cheap and sooner)."""


class PassedOverCandidate(ContractModel):
    """A carrier service rate shopping considered and did not choose, and why."""

    carrier: Name
    service: Name
    reason: PassedOverReason
    cost: Money | None = Field(
        default=None, description="What it would have cost, when it could carry the parcel."
    )
    estimated_delivery: date | None = Field(
        default=None, description="When it would have delivered, when it could carry it."
    )
    explanation: Text


@registry.register
class ShipmentBooked(Event, type_name="ShipmentBooked", version=1):
    """A parcel was booked with the carrier service rate shopping chose, and why that one.

    Published right before the parcel's ``ShipmentDispatched`` (same shipment stream), it
    holds what that v1 contract has no field for: what the customer was charged for
    shipping next to what the parcel really costs, the promise and the estimated delivery
    date, and every candidate passed over with its reason, so the choice is explainable.
    """

    shipment_id: Id
    order_id: Id
    fulfilment_id: Id
    warehouse_id: Id
    carrier: Name
    service: Name
    tracking_number: Id
    weight_grams: Grams
    destination_country: CountryCode
    shipping_cost: Money = Field(description="What the carrier charges the merchant.")
    shipping_charged: Money = Field(
        description="What the customer was charged for shipping this parcel."
    )
    promised_method: ShippingMethod
    promised_delivery_date: date | None = Field(
        default=None, description="The delivery date promised to the customer, if any."
    )
    estimated_delivery_date: date = Field(
        description="Collection day plus the service's transit days, weekends skipped."
    )
    collection_date: date = Field(
        description="The day the carrier collects (after the cut-off: the next working day)."
    )
    passed_over: tuple[PassedOverCandidate, ...] = Field(
        default=(), max_length=MAX_LINES, description="Every other candidate, with its reason."
    )
    explanation: Text = Field(description="One sentence: why this carrier service.")


class _CarrierScan(Event):
    """What every status event after dispatch repeats (abstract)."""

    shipment_id: Id
    order_id: Id
    carrier: Name
    tracking_number: Id
    update_id: Id = Field(description="The carrier's id of the status update (deduplication).")
    reported_at: AwareDatetime = Field(
        description="When the carrier says it happened (the envelope has when we heard)."
    )


@registry.register
class ShipmentInTransit(_CarrierScan, type_name="ShipmentInTransit", version=1):
    """The carrier scanned the parcel on its way (a hub, a van); may occur several times."""

    location: Name | None = None


@registry.register
class ShipmentDeliveryFailed(_CarrierScan, type_name="ShipmentDeliveryFailed", version=1):
    """A delivery attempt failed (nobody home, address not found); the carrier tries again."""

    attempt: int = Field(strict=True, ge=1, le=100, description="1 for the first failure.")
    reason: Text | None = None


@registry.register
class ShipmentReturnedToSender(_CarrierScan, type_name="ShipmentReturnedToSender", version=1):
    """The carrier gave up and sends the parcel back; refund or reshipment follows."""

    reason: Text | None = None


@registry.register
class ShipmentLost(_CarrierScan, type_name="ShipmentLost", version=1):
    """The carrier declared the parcel lost; refund or reshipment follows."""

    reason: Text | None = None


@registry.register
class ReturnLabelBooked(Event, type_name="ReturnLabelBooked", version=1):
    """Shipping booked the return label of an authorised return (stream per return).

    The cheapest standard service that collects in the customer's country and delivers to
    the return warehouse; ``label_cost`` is what the carrier charges the shop for it.
    """

    return_id: Id
    order_id: Id
    warehouse_id: Id
    carrier: Name
    service: Name
    tracking_number: Id
    from_country: CountryCode
    weight_grams: Grams
    label_cost: Money = Field(description="What the carrier charges the shop for the label.")
    explanation: Text = Field(description="One sentence: why this carrier service.")
