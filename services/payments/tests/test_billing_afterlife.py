"""The rest of an order's life, as billing decides it (pure): short picks waived and the
unbilled remainder released, failed parcels paid back, returns refunded per payment.

The order of :mod:`support`: TSHIRT 2 x 19.95 (line 1), MUG 1 x 12.50 (line 2),
shipping 4.95; 57.35 in all.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.base import Event
from oms_events.contracts import (
    PaymentCaptured,
    PaymentCaptureRequested,
    PaymentRefundRequested,
    SkuQuantity,
)
from oms_events.contracts.order import ShipmentFailure
from oms_events.contracts.payments import (
    PaymentReleaseRequested,
    ShipmentBillingReversed,
    UnitsWaived,
)
from oms_events.contracts.returns import MethodRefund
from oms_events.examples import eur
from oms_payments.domain.commands import (
    CancelBilling,
    CollectOnDelivery,
    RefundReturn,
    ReverseShipment,
    WaiveUnits,
)
from oms_payments.domain.settlement import derived_id
from services.payments.tests.support import payment
from services.payments.tests.test_billing import ORDER, bill, decided, opened, spec

CARD = payment("p-card", "card", "37.35")
GIFT = payment("p-gift", "gift_card", "20.00", "GC-1")
IDEAL = payment("p-ideal", "ideal", "20.00")
COD = payment("p-cod", "cash_on_delivery", "37.35")
WHOLE_CARD = payment("p-card", "card", "57.35")


def units(*lines: tuple[str, int]) -> tuple[SkuQuantity, ...]:
    return tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines)


def waive(fulfilment: str, *lines: tuple[str, int]) -> WaiveUnits:
    return WaiveUnits(ORDER, fulfilment, units(*lines))


def captured(events: list[Event]) -> list[Event]:
    """``events`` with each capture requested in them recorded as done by the worker."""
    done: list[Event] = []
    for e in events:
        if isinstance(e, PaymentCaptureRequested):
            ids = {"order_id": e.order_id, "payment_id": e.payment_id, "method": e.method}
            done.append(
                PaymentCaptured(
                    **ids, amount=e.amount, shipment_id=e.shipment_id, provider_reference="c"
                )
            )
    return events + done


def releases(events: list[Event]) -> dict[str, tuple[str, Decimal]]:
    return {
        e.payment_id: (e.release_id, e.amount.amount)
        for e in events
        if isinstance(e, PaymentReleaseRequested)
    }


def refunds(events: list[Event]) -> dict[str, tuple[str, Decimal]]:
    return {
        e.payment_id: (e.refund_id, e.amount.amount)
        for e in events
        if isinstance(e, PaymentRefundRequested)
    }


# -- short picks -------------------------------------------------------------------------


def test_a_short_pick_on_a_split_order_releases_exactly_the_unshipped_share() -> None:
    # Gift card covers first (20.00), the card the rest. The T-shirts and shipping ship
    # (44.85: gift 20.00, card 24.85); the mug (12.50) is short: the card's unbilled 12.50
    # is voided, the gift card has nothing left.
    given = opened(CARD, GIFT)
    given = captured(given + bill(given, "shp-1", ("TSHIRT", 2)))
    events = decided(given, waive("ful-1", ("MUG", 1)))
    assert events[0] == UnitsWaived(
        order_id=ORDER, fulfilment_id="ful-1", lines=units(("MUG", 1)), amount=eur("12.50")
    )
    assert releases(events) == {"p-card": ("short", Decimal("12.50"))}
    assert refunds(events) == {}


def test_the_release_waits_until_every_unit_is_billed_or_waived() -> None:
    # The short pick reaches payments before the dispatch of the rest: it is recorded,
    # and the remainder is released when the shipment that settles the order is billed.
    given = opened(CARD, GIFT)
    first = decided(given, waive("ful-1", ("MUG", 1)))
    assert [type(e).__name__ for e in first] == ["UnitsWaived"]
    events = bill(given + first, "shp-1", ("TSHIRT", 2))
    billed = events[0]
    assert billed.amount == eur("44.85")  # type: ignore[attr-defined]
    assert releases(events) == {"p-card": ("short", Decimal("12.50"))}


def test_up_front_money_of_the_unshipped_share_is_refunded() -> None:
    # iDEAL (up front) covers first. The mug ships (17.45, all on iDEAL); both T-shirts
    # are short (39.90): iDEAL's unbilled 2.55 is refunded, the card's 37.35 voided.
    given = opened(IDEAL, CARD)
    given += bill(given, "shp-1", ("MUG", 1))
    events = decided(given, waive("ful-2", ("TSHIRT", 2)))
    assert refunds(events) == {"p-ideal": ("rfd-short-p-ideal", Decimal("2.55"))}
    assert releases(events) == {"p-card": ("short", Decimal("37.35"))}
    assert Decimal("2.55") + Decimal("37.35") == Decimal("39.90")


def test_cash_on_delivery_takes_the_short_share_first_and_is_never_collected_for_it() -> None:
    # Gift card 20.00 first, then cash on delivery. One T-shirt ships (24.90: gift 20.00,
    # COD 4.90); a T-shirt and the mug are short (32.45): all of it off the COD.
    cod = payment("p-cod", "cash_on_delivery", "37.35")
    given = opened(GIFT, cod)
    given = captured(given + bill(given, "shp-1", ("TSHIRT", 1)))
    events = decided(given, waive("ful-1", ("TSHIRT", 1), ("MUG", 1)))
    assert releases(events) == {"p-cod": ("short", Decimal("32.45"))}
    # The COD share of the shipment (4.90) is still collected on delivery.
    state_events = given + events
    collect = decided(state_events, CollectOnDelivery(ORDER, "shp-1"))
    assert [e.amount.amount for e in collect if isinstance(e, PaymentCaptureRequested)] == [
        Decimal("4.90")
    ]


def test_a_wholly_short_order_releases_everything_including_shipping() -> None:
    given = opened(IDEAL, CARD)
    events = decided(given, waive("ful-1", ("TSHIRT", 2), ("MUG", 1)))
    assert events[0].amount == eur("52.40")  # type: ignore[attr-defined]
    assert refunds(events) == {"p-ideal": ("rfd-short-p-ideal", Decimal("20.00"))}
    assert releases(events) == {"p-card": ("short", Decimal("37.35"))}


def test_a_shipment_after_a_waiver_bills_only_units_still_owed() -> None:
    given = opened(WHOLE_CARD)
    given += decided(given, waive("ful-1", ("TSHIRT", 1)))
    events = bill(given, "shp-1", ("TSHIRT", 2), ("MUG", 1))
    assert events[0].amount == eur("37.40")  # type: ignore[attr-defined]  # 19.95+12.50+4.95
    assert releases(events) == {"p-card": ("short", Decimal("19.95"))}


def test_a_short_pick_is_waived_once_per_fulfilment() -> None:
    given = opened(WHOLE_CARD)
    given += decided(given, waive("ful-1", ("MUG", 1)))
    spec.given(*given).when(waive("ful-1", ("MUG", 1))).then_nothing()
    # Units already waived (or billed) are not waived again by another fulfilment.
    spec.given(*given).when(waive("ful-2", ("MUG", 1))).then_nothing()


def test_a_short_pick_of_a_cancelled_order_changes_nothing() -> None:
    given = opened(WHOLE_CARD)
    given += decided(given, CancelBilling(ORDER, "customer_request"))
    spec.given(*given).when(waive("ful-1", ("MUG", 1))).then_nothing()


def test_a_short_pick_of_an_order_payments_does_not_know_is_refused() -> None:
    spec.given().when(waive("ful-1", ("MUG", 1))).then_refused("order_not_billed")


# -- failed parcels ----------------------------------------------------------------------


def reverse(shipment: str) -> ReverseShipment:
    return ReverseShipment(ORDER, shipment, ShipmentFailure.LOST)


def test_a_lost_parcel_refunds_each_captured_share() -> None:
    given = opened(CARD, GIFT)
    given = captured(given + bill(given, "shp-1", ("TSHIRT", 2), ("MUG", 1)))
    events = decided(given, reverse("shp-1"))
    assert events[0] == ShipmentBillingReversed(
        order_id=ORDER, shipment_id="shp-1", failure=ShipmentFailure.LOST
    )
    assert refunds(events) == {
        "p-gift": ("rfd-shp-1-p-gift", Decimal("20.00")),
        "p-card": ("rfd-shp-1-p-card", Decimal("37.35")),
    }
    spec.given(*given, *events).when(reverse("shp-1")).then_nothing()


def test_only_the_failed_parcels_shares_are_refunded() -> None:
    # Two parcels: the T-shirts with shipping (44.85: gift 20.00, card 24.85), then the
    # mug (12.50, all card). The mug's parcel is lost: 12.50 back to the card.
    given = opened(CARD, GIFT)
    given = captured(given + bill(given, "shp-1", ("TSHIRT", 2)))
    given = captured(given + bill(given, "shp-2", ("MUG", 1)))
    assert refunds(decided(given, reverse("shp-2"))) == {
        "p-card": ("rfd-shp-2-p-card", Decimal("12.50"))
    }


def test_a_share_whose_capture_is_still_requested_is_refunded_after_it() -> None:
    given = opened(WHOLE_CARD)
    given += bill(given, "shp-1", ("TSHIRT", 2), ("MUG", 1))  # capture requested, not done
    assert refunds(decided(given, reverse("shp-1"))) == {
        "p-card": ("rfd-shp-1-p-card", Decimal("57.35"))
    }


def test_a_failure_before_the_billing_reverses_the_shipment_once_billed() -> None:
    given = opened(CARD, GIFT)
    first = decided(given, reverse("shp-1"))
    assert [type(e).__name__ for e in first] == ["ShipmentBillingReversed"]
    events = bill(given + first, "shp-1", ("TSHIRT", 2), ("MUG", 1))
    names = [type(e).__name__ for e in events]
    assert names.index("PaymentCaptureRequested") < names.index("PaymentRefundRequested")
    assert refunds(events) == {
        "p-gift": ("rfd-shp-1-p-gift", Decimal("20.00")),
        "p-card": ("rfd-shp-1-p-card", Decimal("37.35")),
    }


def test_an_uncollected_cash_on_delivery_share_is_released_and_never_collected() -> None:
    given = opened(GIFT, COD)
    given += bill(given, "shp-1", ("TSHIRT", 2), ("MUG", 1))
    given = captured(given)  # the gift card's 20.00
    events = decided(given, reverse("shp-1"))
    assert refunds(events) == {"p-gift": ("rfd-shp-1-p-gift", Decimal("20.00"))}
    assert releases(events) == {"p-cod": ("fail-shp-1", Decimal("37.35"))}
    spec.given(*given, *events).when(CollectOnDelivery(ORDER, "shp-1")).then_nothing()


def test_a_collected_cash_on_delivery_share_is_refunded() -> None:
    given = opened(COD, GIFT)
    given += bill(given, "shp-1", ("TSHIRT", 2), ("MUG", 1))
    given = captured(given + decided(given, CollectOnDelivery(ORDER, "shp-1")))
    assert refunds(decided(given, reverse("shp-1")))["p-cod"] == (
        "rfd-shp-1-p-cod",
        Decimal("37.35"),
    )


# -- returns -----------------------------------------------------------------------------


def resolved(*refunds: tuple[str, str, str], return_id: str = "RMA-1") -> RefundReturn:
    return RefundReturn(
        ORDER,
        return_id,
        tuple(MethodRefund(payment_id=p, method=m, amount=eur(a)) for p, m, a in refunds),  # type: ignore[arg-type]
    )


def test_a_return_refunds_each_payment_exactly_its_part() -> None:
    given = opened(CARD, GIFT)
    given = captured(given + bill(given, "shp-1", ("TSHIRT", 2), ("MUG", 1)))
    cmd = resolved(("p-card", "card", "19.95"), ("p-gift", "gift_card", "12.50"))
    events = decided(given, cmd)
    assert refunds(events) == {
        "p-card": ("rfd-RMA-1-p-card", Decimal("19.95")),
        "p-gift": ("rfd-RMA-1-p-gift", Decimal("12.50")),
    }
    assert all(e.return_id == "RMA-1" for e in events)  # type: ignore[attr-defined]
    spec.given(*given, *events).when(cmd).then_nothing()


def test_a_return_refund_a_payment_cannot_take_is_refused() -> None:
    given = opened(CARD, GIFT)
    given = captured(given + bill(given, "shp-1", ("TSHIRT", 1)))  # card captured 4.90
    spec.given(*given).when(resolved(("p-card", "card", "19.95"))).then_refused("amount_exceeded")
    spec.given(*given).when(resolved(("p-other", "card", "1.00"))).then_refused(
        "payment_not_of_order"
    )


@pytest.mark.parametrize("length", [10, 100])
def test_derived_ids_fit_an_id(length: int) -> None:
    long_id = "r" * length
    refund_id = derived_id("rfd", long_id, "p" * length)
    assert len(refund_id) <= 100
    assert refund_id != derived_id("rfd", long_id, "q" * length)
