"""A shipment (one parcel): booked and dispatched, scanned on its way, and how it ended.

Stream ``shipment-<id>``. ``BookShipment`` shops the rates (``rates``), draws the
tracking number (``tracking``) and decides ``ShipmentBooked`` (the choice and its
explanation, the charged price, the promise) then ``ShipmentDispatched`` (the committed
v1 fact payments and inventory act on, with the parcel's real cost). Booking and
collection are one step here: the parcel is packed and ready when it is booked.

Carrier updates (``RecordCarrierUpdate``) then move it on:

- ``in_transit`` → ``ShipmentInTransit`` (again for each new scan), ``delivery_failed``
  → ``ShipmentDeliveryFailed`` with the attempt number (a later ``in_transit`` or
  ``delivered`` is the next attempt), and the final three: ``delivered`` →
  ``ShipmentDelivered``, ``returned_to_sender`` → ``ShipmentReturnedToSender``, ``lost`` →
  ``ShipmentLost``.
- **Duplicates** (an update id already recorded) decide nothing: carriers redeliver.
- **Out of order**: carriers' webhooks arrive in any order, so each update is placed by
  the time the carrier says it happened, not by when it arrived. A non-final update
  older than the latest one recorded is stale and decides nothing (a late "in transit"
  must not undo a "delivery failed"). A final update is never stale: it is applied
  even when a later-stamped scan came first (the carrier's clocks differ; the end of a
  parcel's journey is the fact that matters).
- **After the end** (delivered, returned to sender, lost are final): the same final
  status again, or any update stamped at or before the end, decides nothing (late
  deliveries of old news, which a carrier must be able to send without an error).
  A *different* status stamped after the end is refused, ``shipment_closed`` (409): it
  contradicts a fact payments and the order have acted on (delivered means cash on
  delivery is complete; lost means a refund), so it is dead-lettered for a person
  rather than silently dropped or applied.

Refusals: ``shipment_already_booked`` (409, a second booking with other details),
``no_carrier_service`` / ``unknown_origin_country`` (422, from rate shopping),
``invalid_tracking_sequence`` (422), ``shipment_not_found`` (404, an update before the
booking), ``tracking_number_mismatch`` (422), ``shipment_closed`` (409).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import assert_never

from oms_events.base import Event
from oms_events.contracts.shipping import (
    PassedOverCandidate,
    ShipmentBooked,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentDispatched,
    ShipmentInTransit,
    ShipmentLost,
    ShipmentReturnedToSender,
)
from oms_platform.decider import Decider, Decision
from oms_platform.refusal import Refusal
from oms_shipping.domain.commands import BookShipment, RecordCarrierUpdate, ShipmentCommand
from oms_shipping.domain.rates import PassedOver, shop_rates
from oms_shipping.domain.tracking import tracking_number
from oms_shipping.domain.webhooks import CarrierStatus, CarrierUpdate


class ShipmentStatus(StrEnum):
    NONE = "none"
    DISPATCHED = "dispatched"
    IN_TRANSIT = "in_transit"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNED_TO_SENDER = "returned_to_sender"
    LOST = "lost"

    @property
    def final(self) -> bool:
        return self in (
            ShipmentStatus.DELIVERED,
            ShipmentStatus.RETURNED_TO_SENDER,
            ShipmentStatus.LOST,
        )


@dataclass(frozen=True, slots=True)
class Shipment:
    """What the decisions need to know of a shipment's events."""

    status: ShipmentStatus = ShipmentStatus.NONE
    shipment_id: str = ""
    order_id: str = ""
    fulfilment_id: str = ""
    carrier: str = ""
    tracking_number: str = ""
    last_reported_at: datetime | None = None
    """The latest carrier time of a recorded update (ordering out-of-order scans)."""
    ended_at: datetime | None = None
    """The carrier time of the final update, once there is one."""
    failed_attempts: int = 0
    updates: frozenset[str] = frozenset()
    """The carrier update ids recorded (for duplicates)."""


def stream_id(shipment_id: str) -> str:
    return f"shipment-{shipment_id}"


_STATUS_OF: dict[type[Event], ShipmentStatus] = {
    ShipmentInTransit: ShipmentStatus.IN_TRANSIT,
    ShipmentDeliveryFailed: ShipmentStatus.DELIVERY_FAILED,
    ShipmentDelivered: ShipmentStatus.DELIVERED,
    ShipmentReturnedToSender: ShipmentStatus.RETURNED_TO_SENDER,
    ShipmentLost: ShipmentStatus.LOST,
}


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def evolve(state: Shipment, event: Event) -> Shipment:
    match event:
        case ShipmentBooked():
            return replace(
                state,
                status=ShipmentStatus.DISPATCHED,
                shipment_id=event.shipment_id,
                order_id=event.order_id,
                fulfilment_id=event.fulfilment_id,
                carrier=event.carrier,
                tracking_number=event.tracking_number,
            )
        case ShipmentDispatched():
            return replace(
                state,
                status=ShipmentStatus.DISPATCHED,
                shipment_id=event.shipment_id,
                order_id=event.order_id,
                fulfilment_id=event.fulfilment_id,
                carrier=event.carrier,
                tracking_number=event.tracking_number,
            )
        case ShipmentDelivered():
            return replace(
                state,
                status=ShipmentStatus.DELIVERED,
                last_reported_at=_later(state.last_reported_at, event.delivered_at),
                ended_at=event.delivered_at,
            )
        case (
            ShipmentInTransit()
            | ShipmentDeliveryFailed()
            | ShipmentReturnedToSender()
            | ShipmentLost()
        ):
            status = _STATUS_OF[type(event)]
            return replace(
                state,
                status=status,
                last_reported_at=_later(state.last_reported_at, event.reported_at),
                ended_at=event.reported_at if status.final else state.ended_at,
                failed_attempts=state.failed_attempts + isinstance(event, ShipmentDeliveryFailed),
                updates=state.updates | {event.update_id},
            )
    return state


class ShipmentDecider:
    def initial_state(self) -> Shipment:
        return Shipment()

    def evolve(self, state: Shipment, event: Event) -> Shipment:
        return evolve(state, event)

    def decide(self, command: ShipmentCommand, state: Shipment) -> Decision:
        match command:
            case BookShipment():
                return _book(command, state)
            case RecordCarrierUpdate():
                return _record(command, state)
            case _:
                assert_never(command)


SHIPMENT: Decider[ShipmentCommand, Shipment] = ShipmentDecider()


def _book(cmd: BookShipment, state: Shipment) -> list[Event]:
    if state.status is not ShipmentStatus.NONE:
        if (state.order_id, state.fulfilment_id) == (cmd.order_id, cmd.fulfilment_id):
            return []  # the same parcel booked again (a redelivered message)
        raise Refusal(
            "shipment_already_booked",
            f"shipment {cmd.shipment_id!r} is already booked for another fulfilment",
            "shipment_id",
        )
    choice = shop_rates(cmd.parcel, cmd.promise, cmd.ready_at, cmd.candidates)
    chosen = choice.chosen
    try:
        tracking = tracking_number(chosen.carrier, chosen.service, cmd.tracking_sequence)
    except ValueError as err:
        raise Refusal.invalid("invalid_tracking_sequence", str(err), "tracking_sequence") from None
    cost = chosen.cost.total
    booked = ShipmentBooked(
        shipment_id=cmd.shipment_id,
        order_id=cmd.order_id,
        fulfilment_id=cmd.fulfilment_id,
        warehouse_id=cmd.warehouse_id,
        carrier=chosen.carrier,
        service=chosen.service.value,
        tracking_number=tracking,
        weight_grams=cmd.parcel.weight_grams,
        destination_country=cmd.parcel.destination_country,
        shipping_cost=cost,
        shipping_charged=cmd.shipping_charged,
        promised_method=cmd.promise.method,
        promised_delivery_date=cmd.promise.delivery_date,
        estimated_delivery_date=chosen.delivery_date,
        collection_date=chosen.collection_date,
        passed_over=tuple(_passed_over(p) for p in choice.passed_over),
        explanation=choice.explanation,
    )
    dispatched = ShipmentDispatched(
        shipment_id=cmd.shipment_id,
        order_id=cmd.order_id,
        fulfilment_id=cmd.fulfilment_id,
        warehouse_id=cmd.warehouse_id,
        carrier=chosen.carrier,
        service=chosen.service.value,
        tracking_number=tracking,
        weight_grams=cmd.parcel.weight_grams,
        shipping_cost=cost,
        lines=cmd.lines,
    )
    return [booked, dispatched]


def _passed_over(p: PassedOver) -> PassedOverCandidate:
    return PassedOverCandidate(
        carrier=p.carrier,
        service=p.service.value,
        reason=p.reason,
        cost=p.quote.cost.total if p.quote else None,
        estimated_delivery=p.quote.delivery_date if p.quote else None,
        explanation=p.explanation,
    )


def _record(cmd: RecordCarrierUpdate, state: Shipment) -> list[Event]:
    update = cmd.update
    if state.status is ShipmentStatus.NONE:
        raise Refusal.not_found(
            "shipment_not_found", f"no shipment {cmd.shipment_id!r} was booked", "shipment_id"
        )
    if (update.carrier, update.tracking_number) != (state.carrier, state.tracking_number):
        raise Refusal.invalid(
            "tracking_number_mismatch",
            f"the update is for {update.carrier} {update.tracking_number}, not this "
            f"shipment's {state.carrier} {state.tracking_number}",
            "tracking_number",
        )
    if update.update_id in state.updates:
        return []
    if state.status.final:
        assert state.ended_at is not None, "a final status has its time"
        if update.status.value == state.status.value or update.occurred_at <= state.ended_at:
            return []
        raise Refusal(
            "shipment_closed",
            f"shipment {cmd.shipment_id!r} ended {state.status.value} at "
            f"{state.ended_at.isoformat()}; a later {update.status.value} contradicts it",
            "status",
        )
    stale = state.last_reported_at is not None and update.occurred_at < state.last_reported_at
    if stale and not update.status.final:
        return []
    return [_event_for(update, state)]


def _event_for(update: CarrierUpdate, state: Shipment) -> Event:
    common = {
        "shipment_id": state.shipment_id,
        "order_id": state.order_id,
        "carrier": state.carrier,
        "tracking_number": state.tracking_number,
    }
    scan = {**common, "update_id": update.update_id, "reported_at": update.occurred_at}
    match update.status:
        case CarrierStatus.IN_TRANSIT:
            return ShipmentInTransit(**scan, location=update.location)
        case CarrierStatus.DELIVERY_FAILED:
            return ShipmentDeliveryFailed(
                **scan, attempt=state.failed_attempts + 1, reason=update.reason
            )
        case CarrierStatus.DELIVERED:
            return ShipmentDelivered(**common, delivered_at=update.occurred_at)
        case CarrierStatus.RETURNED_TO_SENDER:
            return ShipmentReturnedToSender(**scan, reason=update.reason)
        case CarrierStatus.LOST:
            return ShipmentLost(**scan, reason=update.reason)
        case _:
            assert_never(update.status)
