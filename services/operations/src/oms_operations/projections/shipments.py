"""``ops_shipments``: one row per parcel, from the shipping service's events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from oms_events.base import Event
from oms_events.contracts.shipping import (
    ShipmentBooked,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentDispatched,
    ShipmentLost,
    ShipmentReturnedToSender,
)
from oms_events.envelope import Envelope

HANDLED: tuple[type[Event], ...] = (
    ShipmentBooked,
    ShipmentDispatched,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentLost,
    ShipmentReturnedToSender,
)

# Forward only, as for orders; delivered, lost and returned to sender are ends.
RANK = {
    "booked": 0,
    "dispatched": 1,
    "delivery_failed": 2,
    "delivered": 3,
    "lost": 3,
    "returned_to_sender": 3,
}


@dataclass(frozen=True)
class ShipmentRow:
    shipment_id: str
    order_id: str
    status: str = "booked"
    carrier: str | None = None
    service: str | None = None
    warehouse_id: str | None = None
    tracking_number: str | None = None
    currency: str | None = None
    cost: Decimal | None = None
    """What the carrier charges the shop."""
    charged: Decimal | None = None
    """What the customer was charged for it."""
    promised_date: date | None = None
    """The promised delivery date, else the carrier's estimate at booking."""
    booked_at: datetime | None = None
    dispatched_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_attempts: int = 0
    failure: str | None = None
    """``lost`` or ``returned_to_sender``, once it is."""

    @property
    def late(self) -> bool | None:
        """Delivered after the promised date (``None`` until delivered or without one)."""
        if self.delivered_at is None or self.promised_date is None:
            return None
        return self.delivered_at.date() > self.promised_date


def _advance(row: ShipmentRow, status: str) -> ShipmentRow:
    if RANK[status] > RANK[row.status]:
        return replace(row, status=status)
    return row


def apply(row: ShipmentRow | None, env: Envelope, event: Event) -> ShipmentRow:
    shipment_id: str = getattr(event, "shipment_id")  # noqa: B009 - every handled event has it
    order_id: str = getattr(event, "order_id")  # noqa: B009
    row = row or ShipmentRow(shipment_id=shipment_id, order_id=order_id)
    match event:
        case ShipmentBooked():
            return replace(
                row,
                carrier=event.carrier,
                service=event.service,
                warehouse_id=event.warehouse_id,
                tracking_number=event.tracking_number,
                currency=event.shipping_cost.currency,
                cost=event.shipping_cost.amount,
                charged=event.shipping_charged.amount,
                promised_date=event.promised_delivery_date or event.estimated_delivery_date,
                booked_at=env.occurred_at,
            )
        case ShipmentDispatched():
            row = replace(
                row,
                carrier=row.carrier or event.carrier,
                service=row.service or event.service,
                warehouse_id=row.warehouse_id or event.warehouse_id,
                tracking_number=row.tracking_number or event.tracking_number,
                currency=row.currency or event.shipping_cost.currency,
                cost=event.shipping_cost.amount,
                dispatched_at=row.dispatched_at or env.occurred_at,
            )
            return _advance(row, "dispatched")
        case ShipmentDelivered():
            return _advance(replace(row, delivered_at=event.delivered_at), "delivered")
        case ShipmentDeliveryFailed():
            attempts = max(row.failed_attempts, event.attempt)
            return _advance(replace(row, failed_attempts=attempts), "delivery_failed")
        case ShipmentLost():
            return _advance(replace(row, failure="lost"), "lost")
        case ShipmentReturnedToSender():
            return _advance(replace(row, failure="returned_to_sender"), "returned_to_sender")
    return row
