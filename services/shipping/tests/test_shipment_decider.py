"""A shipment: given events, when a command, then events (or a refusal)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from oms_events import decode_envelope, encode_envelope
from oms_events.base import Event
from oms_events.contracts.common import SkuQuantity
from oms_events.contracts.shipping import (
    PassedOverReason,
    ShipmentBooked,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentDispatched,
    ShipmentInTransit,
    ShipmentLost,
    ShipmentReturnedToSender,
    ShippingMethod,
)
from oms_events.money import Money
from oms_events.registry import envelope_for, registry
from oms_events.topics import topic_for
from oms_platform.testing.decider_spec import DeciderSpec
from oms_shipping.domain.carriers import DPD, POSTNL
from oms_shipping.domain.commands import BookShipment, RecordCarrierUpdate
from oms_shipping.domain.rates import Parcel, Promise
from oms_shipping.domain.shipment import SHIPMENT, ShipmentStatus, stream_id
from oms_shipping.domain.webhooks import CarrierStatus, CarrierUpdate

spec = DeciderSpec(SHIPMENT)
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINES = (SkuQuantity(sku="TSHIRT-BLU-M", quantity=2),)
TRACKING = "3SOMSN000000042"


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def book(**changes: object) -> BookShipment:
    fields: dict[str, object] = {
        "shipment_id": "shp-1",
        "order_id": "ord-1",
        "fulfilment_id": "ful-1",
        "warehouse_id": "AMS",
        "parcel": Parcel(780, "NL", "NL", postal_code="1016 GV"),
        "lines": LINES,
        "promise": Promise(ShippingMethod.STANDARD, date(2026, 3, 4)),
        "shipping_charged": eur("4.95"),
        "ready_at": MONDAY,
        "tracking_sequence": 42,
    }
    fields.update(changes)
    return BookShipment(**fields)  # type: ignore[arg-type]


def booked_events() -> list[Event]:
    return spec.given().when(book()).then_matches(lambda events: len(events) == 2)


BOOKED = tuple(booked_events())


def update(
    status: CarrierStatus, at: datetime, update_id: str = "u1", **changes: object
) -> RecordCarrierUpdate:
    fields: dict[str, object] = {
        "carrier": "postnl",
        "update_id": update_id,
        "tracking_number": TRACKING,
        "status": status,
        "occurred_at": at,
    }
    fields.update(changes)
    return RecordCarrierUpdate("shp-1", CarrierUpdate(**fields))  # type: ignore[arg-type]


SCAN = {"shipment_id": "shp-1", "order_id": "ord-1", "carrier": "postnl"}
T1 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=12)
T3 = T2 + timedelta(hours=6)


def in_transit(at: datetime, update_id: str = "u1", location: str | None = None) -> Event:
    return ShipmentInTransit(
        **SCAN,
        tracking_number=TRACKING,
        update_id=update_id,
        reported_at=at,
        location=location,
    )


def failed(at: datetime, update_id: str, attempt: int) -> Event:
    return ShipmentDeliveryFailed(
        **SCAN, tracking_number=TRACKING, update_id=update_id, reported_at=at, attempt=attempt
    )


def delivered(at: datetime) -> Event:
    return ShipmentDelivered(**SCAN, tracking_number=TRACKING, delivered_at=at)


# -- booking ---------------------------------------------------------------------------------


def test_booking_decides_booked_then_dispatched_with_the_real_cost() -> None:
    booked, dispatched = BOOKED
    assert isinstance(booked, ShipmentBooked) and isinstance(dispatched, ShipmentDispatched)
    assert dispatched == ShipmentDispatched(
        shipment_id="shp-1",
        order_id="ord-1",
        fulfilment_id="ful-1",
        warehouse_id="AMS",
        carrier="postnl",
        service="standard",
        tracking_number=TRACKING,
        weight_grams=780,
        shipping_cost=eur("4.37"),  # 4.10 + 6.5 % fuel; not the 4.95 charged
        lines=LINES,
    )
    assert booked.shipping_cost == eur("4.37")
    assert booked.shipping_charged == eur("4.95")
    assert booked.promised_method is ShippingMethod.STANDARD
    assert booked.promised_delivery_date == date(2026, 3, 4)
    assert booked.collection_date == date(2026, 3, 2)
    assert booked.estimated_delivery_date == date(2026, 3, 3)
    assert booked.tracking_number == dispatched.tracking_number
    assert len(booked.passed_over) == 7
    assert {p.reason for p in booked.passed_over} == {PassedOverReason.MORE_EXPENSIVE}
    assert all(p.cost is not None and p.cost > booked.shipping_cost for p in booked.passed_over)
    assert booked.explanation.startswith("postnl/standard: cheapest")


def test_the_same_booking_again_decides_nothing() -> None:
    spec.given(*BOOKED).when(book(tracking_sequence=43)).then_nothing()


def test_a_booking_for_another_fulfilment_on_the_same_shipment_is_refused() -> None:
    spec.given(*BOOKED).when(book(fulfilment_id="ful-2")).then_refused(
        "shipment_already_booked", status=409
    )


def test_a_parcel_no_candidate_can_take_is_refused() -> None:
    spec.given().when(book(parcel=Parcel(80000, "NL", "NL"))).then_refused(
        "no_carrier_service", status=422
    )
    only_postnl = ((POSTNL, POSTNL.services[0]),)
    spec.given().when(book(parcel=Parcel(780, "DE", "NL"), candidates=only_postnl)).then_refused(
        "no_carrier_service"
    )
    spec.given().when(book(parcel=Parcel(780, "ZZ", "NL"))).then_refused("unknown_origin_country")


def test_a_tracking_sequence_out_of_the_carriers_range_is_refused() -> None:
    spec.given().when(book(tracking_sequence=10**9)).then_refused(
        "invalid_tracking_sequence", status=422
    )


def test_the_tracking_number_is_in_the_chosen_carriers_format() -> None:
    only_dpd = ((DPD, DPD.services[0]),)
    events = spec.given().when(book(candidates=only_dpd)).then_matches(lambda e: len(e) == 2)
    dispatched = events[1]
    assert isinstance(dispatched, ShipmentDispatched)
    assert (dispatched.carrier, dispatched.tracking_number) == ("dpd", "05300000000042")


# -- carrier updates -----------------------------------------------------------------------


def test_an_update_before_the_booking_is_not_found() -> None:
    spec.given().when(update(CarrierStatus.IN_TRANSIT, T1)).then_refused(
        "shipment_not_found", status=404
    )


def test_an_update_for_another_parcel_is_refused() -> None:
    spec.given(*BOOKED).when(
        update(CarrierStatus.DELIVERED, T1, tracking_number="3SOMSN000000099")
    ).then_refused("tracking_number_mismatch", status=422)
    spec.given(*BOOKED).when(update(CarrierStatus.DELIVERED, T1, carrier="dhl")).then_refused(
        "tracking_number_mismatch"
    )


def test_in_transit_then_delivered() -> None:
    spec.given(*BOOKED).when(update(CarrierStatus.IN_TRANSIT, T1, location="Nieuwegein hub")).then(
        in_transit(T1, location="Nieuwegein hub")
    )
    state = spec.given(*BOOKED, in_transit(T1)).when(update(CarrierStatus.DELIVERED, T2, "u2"))
    state.then(delivered(T2))
    after = state.state_after()
    assert after.status is ShipmentStatus.DELIVERED and after.ended_at == T2


def test_failed_attempts_are_numbered_and_a_later_attempt_can_deliver() -> None:
    spec.given(*BOOKED).when(update(CarrierStatus.DELIVERY_FAILED, T1)).then(failed(T1, "u1", 1))
    spec.given(*BOOKED, failed(T1, "u1", 1)).when(
        update(CarrierStatus.DELIVERY_FAILED, T2, "u2")
    ).then(failed(T2, "u2", 2))
    spec.given(*BOOKED, failed(T1, "u1", 1)).when(update(CarrierStatus.IN_TRANSIT, T2, "u2")).then(
        in_transit(T2, "u2")
    )
    spec.given(*BOOKED, failed(T1, "u1", 1), failed(T2, "u2", 2)).when(
        update(CarrierStatus.DELIVERED, T3, "u3")
    ).then(delivered(T3))


def test_returned_to_sender_and_lost_are_recorded_with_their_reason() -> None:
    spec.given(*BOOKED, failed(T1, "u1", 1)).when(
        update(CarrierStatus.RETURNED_TO_SENDER, T2, "u2", reason="address unknown")
    ).then(
        ShipmentReturnedToSender(
            **SCAN,
            tracking_number=TRACKING,
            update_id="u2",
            reported_at=T2,
            reason="address unknown",
        )
    )
    spec.given(*BOOKED).when(update(CarrierStatus.LOST, T2, "u9")).then(
        ShipmentLost(**SCAN, tracking_number=TRACKING, update_id="u9", reported_at=T2)
    )


def test_a_duplicate_update_decides_nothing() -> None:
    spec.given(*BOOKED, in_transit(T1, "u1")).when(
        update(CarrierStatus.IN_TRANSIT, T1, "u1")
    ).then_nothing()
    # Even with a later time: the id is the carrier's identity of the update.
    spec.given(*BOOKED, failed(T1, "u1", 1)).when(
        update(CarrierStatus.DELIVERY_FAILED, T2, "u1")
    ).then_nothing()


def test_a_stale_scan_arriving_late_decides_nothing() -> None:
    # "delivery failed" at T2 came first; the "in transit" of T1 arrives afterwards.
    spec.given(*BOOKED, failed(T2, "u2", 1)).when(
        update(CarrierStatus.IN_TRANSIT, T1, "u1")
    ).then_nothing()


def test_a_final_update_is_applied_even_when_a_later_stamped_scan_came_first() -> None:
    spec.given(*BOOKED, in_transit(T3, "u3")).when(update(CarrierStatus.DELIVERED, T2, "u2")).then(
        delivered(T2)
    )


def test_after_delivery_repeats_and_older_news_are_ignored() -> None:
    done = (*BOOKED, in_transit(T1, "u1"), delivered(T2))
    # The carrier repeats "delivered" under a new id.
    spec.given(*done).when(update(CarrierStatus.DELIVERED, T3, "u9")).then_nothing()
    # A scan from before delivery arrives late.
    spec.given(*done).when(update(CarrierStatus.IN_TRANSIT, T1, "u0")).then_nothing()
    spec.given(*done).when(update(CarrierStatus.DELIVERY_FAILED, T2, "u5")).then_nothing()


def test_a_contradicting_update_after_the_end_is_refused() -> None:
    done = (*BOOKED, delivered(T2))
    spec.given(*done).when(update(CarrierStatus.IN_TRANSIT, T3, "u3")).then_refused(
        "shipment_closed", status=409
    )
    spec.given(*done).when(update(CarrierStatus.LOST, T3, "u3")).then_refused("shipment_closed")
    lost = (
        *BOOKED,
        ShipmentLost(**SCAN, tracking_number=TRACKING, update_id="u2", reported_at=T2),
    )
    spec.given(*lost).when(update(CarrierStatus.DELIVERED, T3, "u3")).then_refused(
        "shipment_closed"
    )
    spec.given(*lost).when(update(CarrierStatus.LOST, T3, "u4")).then_nothing()


def test_the_state_follows_the_events() -> None:
    state = spec.given(*BOOKED).state
    assert state.status is ShipmentStatus.DISPATCHED
    assert (state.carrier, state.tracking_number, state.order_id) == ("postnl", TRACKING, "ord-1")
    state = spec.given(*BOOKED, failed(T1, "u1", 1), in_transit(T2, "u2")).state
    assert state.status is ShipmentStatus.IN_TRANSIT
    assert state.failed_attempts == 1
    assert state.last_reported_at == T2
    assert state.updates == {"u1", "u2"}
    assert stream_id("shp-1") == "shipment-shp-1"


def test_every_decided_event_survives_the_wire() -> None:
    """The decider's events are valid contracts: encoded and parsed back, they are equal."""
    decided = [
        *BOOKED,
        *spec.given(*BOOKED)
        .when(update(CarrierStatus.DELIVERY_FAILED, T1, reason="closed"))
        .then_matches(bool),
        *spec.given(*BOOKED).when(update(CarrierStatus.LOST, T1)).then_matches(bool),
    ]
    for i, event in enumerate(decided):
        envelope = envelope_for(
            event,
            stream_id=stream_id("shp-1"),
            stream_version=i + 1,
            correlation_id="ord-1",
            causation_id=None,
            actor="svc:shipping",
            producer="shipping",
        )
        assert registry.parse(decode_envelope(encode_envelope(envelope))) == event
        assert topic_for(event.event_type) == "oms.shipping.events"
