"""Billing an order: valuing shipments and splitting them over the payments (pure)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms_events.base import Event
from oms_events.contracts import (
    OrderLine,
    Payment,
    PaymentCancellationRequested,
    PaymentCancelled,
    PaymentCaptureRequested,
    ShipmentBilled,
    SkuQuantity,
)
from oms_events.examples import eur
from oms_payments.domain import billing, fold
from oms_payments.domain import payment as pay
from oms_payments.domain.billing import Billing
from oms_payments.domain.commands import BillShipment, CancelBilling, CollectOnDelivery, OpenBilling
from oms_payments.domain.errors import NotReady, Refused
from oms_payments.domain.methods import CaptureMoment, capture_moment
from oms_payments.domain.payment import PaymentState
from services.payments.tests.support import LINES, SHIPPING, payment

ORDER = "ord-1"


def opened(*payments: Payment, lines: tuple[OrderLine, ...] = LINES) -> list[Event]:
    cmd = OpenBilling(ORDER, "a@example.com", lines, SHIPPING, payments)
    return billing.open_billing(cmd, Billing(ORDER), {})


def world(events: list[Event]) -> tuple[Billing, dict[str, PaymentState]]:
    """The billing and every payment after ``events``, all authorised (and up-front captured)."""
    order = fold(billing.evolve, events, Billing(ORDER))
    payments = {}
    for p in order.payments:
        state = fold(
            pay.evolve,
            [e for e in events if getattr(e, "payment_id", None) == p.payment_id],
            PaymentState(payment_id=p.payment_id),
        )
        up_front = capture_moment(p.method) is CaptureMoment.AT_ORDER
        state = fold(
            pay.evolve, pay.authorised(state, provider="x", reference="r", captured=up_front), state
        )
        payments[p.payment_id] = state
    return order, payments


def bill(events: list[Event], shipment: str, *lines: tuple[str, int]) -> list[Event]:
    order, payments = world(events)
    cmd = BillShipment(ORDER, shipment, tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines))
    return billing.bill_shipment(cmd, order, payments)


def captures(events: list[Event]) -> dict[str, Decimal]:
    return {e.payment_id: e.amount.amount for e in events if isinstance(e, PaymentCaptureRequested)}


def test_opening_requests_every_payment_once() -> None:
    events = opened(payment("p1", "card", "37.35"), payment("p2", "gift_card", "20.00", "GC"))
    assert [type(e).__name__ for e in events] == [
        "OrderBillingOpened",
        "PaymentAuthorizationRequested",
        "PaymentAuthorizationRequested",
    ]
    order = fold(billing.evolve, events, Billing(ORDER))
    again = OpenBilling(ORDER, "a@example.com", LINES, SHIPPING, order.payments)
    assert billing.open_billing(again, order, {}) == []


def test_opening_after_the_cancellation_cancels_each_payment() -> None:
    order = fold(
        billing.evolve,
        billing.cancel_billing(CancelBilling(ORDER, "customer_request"), Billing(ORDER), {}),
        Billing(ORDER),
    )
    cmd = OpenBilling(ORDER, "a@example.com", LINES, SHIPPING, (payment("p1", "card", "57.35"),))
    events = billing.open_billing(cmd, order, {})
    assert isinstance(events[-1], PaymentCancelled)


def test_cancelling_asks_each_live_payment_to_be_released() -> None:
    events = opened(payment("p1", "card", "37.35"), payment("p2", "invoice", "20.00"))
    order, payments = world(events)
    payments["p2"] = replace(payments["p2"], phase=pay.Phase.DECLINED)
    out = billing.cancel_billing(CancelBilling(ORDER, "payment_declined"), order, payments)
    assert [type(e).__name__ for e in out] == [
        "OrderBillingCancelled",
        "PaymentCancellationRequested",
    ]
    assert isinstance(out[1], PaymentCancellationRequested) and out[1].payment_id == "p1"


def test_the_first_shipment_carries_the_shipping_charge() -> None:
    events = opened(payment("p1", "card", "57.35"))
    first = bill(events, "s1", ("MUG", 1))
    assert captures(first) == {"p1": Decimal("17.45")}
    second = bill(events + first, "s2", ("TSHIRT", 2))
    assert captures(second) == {"p1": Decimal("39.90")}
    assert isinstance(second[0], ShipmentBilled) and second[0].shipping_charge.is_zero()


def test_units_beyond_the_order_are_not_charged() -> None:
    events = opened(payment("p1", "card", "57.35"))
    out = bill(events, "s1", ("MUG", 3), ("POSTER", 1))
    assert captures(out) == {"p1": Decimal("17.45")}


def test_up_front_money_covers_shipments_first_then_gift_cards_then_cards() -> None:
    events = opened(
        payment("card", "card", "20.00"),
        payment("gift", "gift_card", "17.35", "GC"),
        payment("ideal", "ideal", "20.00"),
    )
    first = bill(events, "s1", ("MUG", 1), ("TSHIRT", 1))  # 12.50 + 19.95 + 4.95 = 37.40
    assert captures(first) == {"gift": Decimal("17.35"), "card": Decimal("0.05")}
    second = bill(events + first, "s2", ("TSHIRT", 1))
    assert captures(second) == {"card": Decimal("19.95")}


def test_cash_on_delivery_is_billed_at_dispatch_and_captured_at_delivery() -> None:
    events = opened(
        payment("gift", "gift_card", "10.00", "GC"), payment("cod", "cash_on_delivery", "47.35")
    )
    out = bill(events, "s1", ("TSHIRT", 2), ("MUG", 1))
    assert captures(out) == {"gift": Decimal("10.00")}
    order, payments = world(events + out)
    collected = billing.collect_on_delivery(CollectOnDelivery(ORDER, "s1"), order, payments)
    assert captures(collected) == {"cod": Decimal("47.35")}
    with pytest.raises(NotReady):
        billing.collect_on_delivery(CollectOnDelivery(ORDER, "s9"), order, payments)


def test_a_cancelled_order_is_not_billed() -> None:
    events = opened(payment("p1", "card", "57.35"))
    order, payments = world(events)
    events += billing.cancel_billing(CancelBilling(ORDER, "x"), order, payments)
    with pytest.raises(Refused):
        bill(events, "s1", ("MUG", 1))


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)


@given(
    prices=st.lists(money, min_size=1, max_size=5),
    shares=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
    methods=st.lists(
        st.sampled_from(["card", "gift_card", "ideal", "paypal", "invoice"]), min_size=4, max_size=4
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=6), max_size=6),
)
def test_split_shipments_capture_exactly_what_each_payment_owes(
    prices: list[Decimal], shares: list[int], methods: list[str], cuts: list[int]
) -> None:
    """However the units are split over parcels, the shares add up to each payment's amount."""
    lines = tuple(
        OrderLine(line_id=str(i), sku=f"SKU-{i}", quantity=2, unit_price=eur(str(p)))
        for i, p in enumerate(prices)
    )
    total = sum((p * 2 for p in prices), SHIPPING.amount)
    weights = shares[: len(methods)]
    amounts = [(total * w / sum(weights)).quantize(Decimal("0.01")) for w in weights]
    amounts[-1] = total - sum(amounts[:-1])
    if any(a <= 0 for a in amounts):
        return
    payments = [
        payment(f"p{i}", methods[i], str(a), "GC" if methods[i] == "gift_card" else None)
        for i, a in enumerate(amounts)
    ]
    events = opened(*payments, lines=lines)
    units = [(f"SKU-{i}", 1) for i in range(len(prices)) for _ in range(2)]
    parcels: list[list[tuple[str, int]]] = [[]]
    for n, unit in enumerate(units):
        if n in cuts and parcels[-1]:
            parcels.append([])
        parcels[-1].append(unit)
    for n, parcel in enumerate(parcels):
        events += bill(events, f"s{n}", *parcel)
    billed = [e for e in events if isinstance(e, ShipmentBilled)]
    assert sum(e.amount.amount for e in billed) == total
    for p in payments:
        paid = sum(
            s.amount.amount for e in billed for s in e.payments if s.payment_id == p.payment_id
        )
        assert paid == p.amount.amount
