"""What the shipping service is asked to do, one immutable command per intent.

Both belong to the shipment decider (:data:`~oms_shipping.domain.shipment.SHIPMENT`,
stream ``shipment-<id>``). A command carries everything the decision needs beyond the
shipment's own events: the candidates to shop among, the time the parcel is ready, the
sequence number its tracking number is made from, so the decider stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from oms_events.contracts.common import SkuQuantity
from oms_events.money import Money
from oms_shipping.domain.carriers import all_services
from oms_shipping.domain.rates import Candidate, Parcel, Promise
from oms_shipping.domain.webhooks import CarrierUpdate


@dataclass(frozen=True, slots=True)
class BookShipment:
    """Book a packed parcel with the cheapest carrier service that keeps the promise.

    ``shipping_charged`` is the share of the order's shipping charge this parcel carries
    (recorded next to its real cost); ``tracking_sequence`` is drawn by the handler and
    becomes the tracking number in the chosen carrier's format.
    """

    shipment_id: str
    order_id: str
    fulfilment_id: str
    warehouse_id: str
    parcel: Parcel
    lines: tuple[SkuQuantity, ...]
    promise: Promise
    shipping_charged: Money
    ready_at: datetime
    tracking_sequence: int
    candidates: tuple[Candidate, ...] = field(default_factory=lambda: tuple(all_services()))


@dataclass(frozen=True, slots=True)
class RecordCarrierUpdate:
    """A verified, parsed carrier status update for the shipment it was matched to."""

    shipment_id: str
    update: CarrierUpdate


ShipmentCommand = BookShipment | RecordCarrierUpdate
