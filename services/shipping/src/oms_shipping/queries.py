"""Shipping's reads: a shipment, an order's shipments, as JSON-ready dicts.

Read from the shipment streams (``shipment-<id>``), so they reflect a booking or carrier
update as soon as it is committed; an order's shipments are found through the tracking
table (``directory``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oms_events.contracts.shipping import (
    ReturnLabelBooked,
    ShipmentBooked,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentDispatched,
    ShipmentInTransit,
    ShipmentLost,
    ShipmentReturnedToSender,
)
from oms_events.registry import registry
from oms_platform.eventstore import EventStore
from oms_platform.refusal import Refusal
from oms_shipping.directory import Directory
from oms_shipping.domain import return_labels
from oms_shipping.domain.shipment import SHIPMENT, stream_id

Json = dict[str, Any]


@dataclass(frozen=True)
class ShippingQueries:
    store: EventStore
    directory: Directory

    async def shipment(self, shipment_id: str) -> Json:
        view = await self._view(shipment_id)
        if view is None:
            raise Refusal.not_found(
                "shipment_not_found", f"no shipment {shipment_id!r}", "shipment_id"
            )
        return view

    async def order_shipments(self, order_id: str) -> Json:
        views = [await self._view(sid) for sid in await self.directory.shipments_of(order_id)]
        return {"order_id": order_id, "shipments": [v for v in views if v is not None]}

    async def return_label(self, return_id: str) -> Json:
        """The label booked for return ``return_id`` (``ReturnLabelBooked``, as JSON)."""
        for rec in await self.store.read_stream(return_labels.stream_id(return_id)):
            event = registry.parse(rec.envelope)
            if isinstance(event, ReturnLabelBooked):
                return {**event.model_dump(mode="json"), "booked_at": rec.recorded_at.isoformat()}
        raise Refusal.not_found(
            "return_label_not_found", f"no label is booked for return {return_id!r}", "return_id"
        )

    async def _view(self, shipment_id: str) -> Json | None:
        records = await self.store.read_stream(stream_id(shipment_id))
        if not records:
            return None
        state = SHIPMENT.initial_state()
        view: Json = {"shipment_id": shipment_id, "timeline": []}
        for rec in records:
            event = registry.parse(rec.envelope)
            state = SHIPMENT.evolve(state, event)
            at = rec.envelope.occurred_at.isoformat()
            entry: Json = {"type": event.event_type, "recorded_at": at}
            match event:
                case ShipmentBooked():
                    view |= {
                        "order_id": event.order_id,
                        "fulfilment_id": event.fulfilment_id,
                        "warehouse_id": event.warehouse_id,
                        "carrier": event.carrier,
                        "service": event.service,
                        "tracking_number": event.tracking_number,
                        "weight_grams": event.weight_grams,
                        "destination_country": event.destination_country,
                        "shipping_cost": event.shipping_cost.model_dump(mode="json"),
                        "shipping_charged": event.shipping_charged.model_dump(mode="json"),
                        "promised_method": event.promised_method.value,
                        "promised_delivery_date": _date(event.promised_delivery_date),
                        "collection_date": event.collection_date.isoformat(),
                        "estimated_delivery_date": event.estimated_delivery_date.isoformat(),
                        "explanation": event.explanation,
                        "passed_over": [p.model_dump(mode="json") for p in event.passed_over],
                    }
                case ShipmentDispatched():
                    view["lines"] = [ln.model_dump(mode="json") for ln in event.lines]
                    view["dispatched_at"] = at
                case ShipmentDelivered():
                    entry["reported_at"] = event.delivered_at.isoformat()
                    view["delivered_at"] = event.delivered_at.isoformat()
                case ShipmentInTransit():
                    entry |= {"reported_at": event.reported_at.isoformat()}
                    entry["location"] = event.location
                case ShipmentDeliveryFailed():
                    entry |= {"reported_at": event.reported_at.isoformat()}
                    entry |= {"attempt": event.attempt, "reason": event.reason}
                case ShipmentReturnedToSender() | ShipmentLost():
                    entry |= {"reported_at": event.reported_at.isoformat()}
                    entry["reason"] = event.reason
            view["timeline"].append(entry)
        view["status"] = state.status.value
        return view


def _date(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())
