"""Billing an order: valuing shipments and splitting them over the payments (pure)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from oms_events.base import Event
from oms_events.contracts import (
    DeclineReason,
    OrderBillingCancelled,
    OrderLine,
    Payment,
    PaymentAuthorizationRequested,
    PaymentAuthorized,
    PaymentCancellationRequested,
    PaymentCancelled,
    PaymentCaptured,
    PaymentCaptureRequested,
    PaymentDeclined,
    ShipmentBilled,
    SkuQuantity,
)
from oms_events.examples import eur
from oms_payments.domain.billing import billing_decider
from oms_payments.domain.commands import (
    BillingCommand,
    BillShipment,
    CancelBilling,
    CollectOnDelivery,
    OpenBilling,
)
from oms_payments.domain.methods import CaptureMoment, capture_moment
from oms_platform.decider import fold
from oms_platform.testing.decider_spec import DeciderSpec
from services.payments.tests.support import LINES, SHIPPING, payment

ORDER = "ord-1"
spec = DeciderSpec(billing_decider)


def decided(given: list[Event], cmd: BillingCommand) -> list[Event]:
    """What ``cmd`` decides given ``given`` (for tests that look into the events)."""
    return billing_decider.decide(cmd, fold(billing_decider, given))


def open_cmd(*payments: Payment, lines: tuple[OrderLine, ...] = LINES) -> OpenBilling:
    return OpenBilling(ORDER, "a@example.com", lines, SHIPPING, payments)


def opened(*payments: Payment, lines: tuple[OrderLine, ...] = LINES) -> list[Event]:
    """The events of a billing opened for ``payments``, each of them then authorized (and
    captured, for methods paid up front), as the provider worker would record them."""
    events = decided([], open_cmd(*payments, lines=lines))
    for e in list(events):
        if isinstance(e, PaymentAuthorizationRequested):
            ids = {"order_id": e.order_id, "payment_id": e.payment_id, "method": e.method}
            events.append(
                PaymentAuthorized(**ids, amount=e.amount, provider="x", provider_reference="r")
            )
            if capture_moment(e.method) is CaptureMoment.AT_ORDER:
                events.append(PaymentCaptured(**ids, amount=e.amount, provider_reference="r"))
    return events


def bill(events: list[Event], shipment: str, *lines: tuple[str, int]) -> list[Event]:
    cmd = BillShipment(ORDER, shipment, tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines))
    return decided(events, cmd)


def captures(events: list[Event]) -> dict[str, Decimal]:
    return {e.payment_id: e.amount.amount for e in events if isinstance(e, PaymentCaptureRequested)}


def test_opening_requests_every_payment_once() -> None:
    card, gift = payment("p1", "card", "37.35"), payment("p2", "gift_card", "20.00", "GC-1")
    events = decided([], open_cmd(card, gift))
    assert [type(e).__name__ for e in events] == [
        "OrderBillingOpened",
        "PaymentAuthorizationRequested",
        "PaymentAuthorizationRequested",
    ]
    spec.given(*events).when(open_cmd(card, gift)).then_nothing()


def test_a_payment_id_of_another_order_is_refused() -> None:
    other = PaymentAuthorizationRequested(
        order_id="ord-2",
        payment_id="p1",
        method=payment("p1", "card", "1").method,
        amount=eur("57.35"),
        customer_email="b@example.com",
    )
    spec.given(other).when(open_cmd(payment("p1", "card", "57.35"))).then_refused(
        "payment_id_in_use"
    )


def test_opening_after_the_cancellation_cancels_each_payment() -> None:
    cancelled = OrderBillingCancelled(order_id=ORDER, reason="customer_request")
    events = decided([cancelled], open_cmd(payment("p1", "card", "57.35")))
    assert isinstance(events[-1], PaymentCancelled)
    assert events[-1].reason == "order cancelled before authorization: customer_request"


def test_cancelling_asks_each_live_payment_to_be_released() -> None:
    events = opened(payment("p1", "card", "37.35"), payment("p2", "invoice", "20.00"))
    events = [e for e in events if not (isinstance(e, PaymentAuthorized) and e.payment_id == "p2")]
    requested = next(
        e for e in events if isinstance(e, PaymentAuthorizationRequested) and e.payment_id == "p2"
    )
    declined = PaymentDeclined(
        order_id=ORDER,
        payment_id="p2",
        method=requested.method,
        amount=requested.amount,
        reason=DeclineReason.REFUSED,
    )
    out = decided([*events, declined], CancelBilling(ORDER, "payment_declined"))
    assert [type(e).__name__ for e in out] == [
        "OrderBillingCancelled",
        "PaymentCancellationRequested",
    ]
    assert isinstance(out[1], PaymentCancellationRequested) and out[1].payment_id == "p1"
    spec.given(*events, declined, *out).when(CancelBilling(ORDER, "again")).then_nothing()


def test_the_first_shipment_carries_the_shipping_charge() -> None:
    events = opened(payment("p1", "card", "57.35"))
    first = bill(events, "s1", ("MUG", 1))
    assert captures(first) == {"p1": Decimal("17.45")}
    second = bill(events + first, "s2", ("TSHIRT", 2))
    assert captures(second) == {"p1": Decimal("39.90")}
    assert isinstance(second[0], ShipmentBilled) and second[0].shipping_charge.is_zero()
    assert bill(events + first, "s1", ("MUG", 1)) == []  # a redelivered dispatch


def test_units_beyond_the_order_are_not_charged() -> None:
    events = opened(payment("p1", "card", "57.35"))
    out = bill(events, "s1", ("MUG", 3), ("POSTER", 1))
    assert captures(out) == {"p1": Decimal("17.45")}


def test_up_front_money_covers_shipments_first_then_gift_cards_then_cards() -> None:
    events = opened(
        payment("card", "card", "20.00"),
        payment("gift", "gift_card", "17.35", "GC-1"),
        payment("ideal", "ideal", "20.00"),
    )
    first = bill(events, "s1", ("MUG", 1), ("TSHIRT", 1))  # 12.50 + 19.95 + 4.95 = 37.40
    assert captures(first) == {"gift": Decimal("17.35"), "card": Decimal("0.05")}
    second = bill(events + first, "s2", ("TSHIRT", 1))
    assert captures(second) == {"card": Decimal("19.95")}


def test_cash_on_delivery_is_billed_at_dispatch_and_captured_at_delivery() -> None:
    events = opened(
        payment("gift", "gift_card", "10.00", "GC-1"), payment("cod", "cash_on_delivery", "47.35")
    )
    out = bill(events, "s1", ("TSHIRT", 2), ("MUG", 1))
    assert captures(out) == {"gift": Decimal("10.00")}
    collected = decided(events + out, CollectOnDelivery(ORDER, "s1"))
    assert captures(collected) == {"cod": Decimal("47.35")}
    spec.given(*events, *out).when(CollectOnDelivery(ORDER, "s9")).then_refused(
        "shipment_not_billed"
    )


def test_a_shipment_is_billed_only_for_an_open_live_order_with_authorized_payments() -> None:
    cmd = BillShipment(ORDER, "s1", (SkuQuantity(sku="MUG", quantity=1),))
    spec.given().when(cmd).then_refused("order_not_billed")
    events = opened(payment("p1", "card", "57.35"))
    cancelled = OrderBillingCancelled(order_id=ORDER, reason="x")
    spec.given(*events, cancelled).when(cmd).then_refused("order_cancelled")
    unauthorized = [e for e in events if not isinstance(e, PaymentAuthorized)]
    spec.given(*unauthorized).when(cmd).then_refused("payment_not_authorized")


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
        payment(f"p{i}", methods[i], str(a), "GC-1" if methods[i] == "gift_card" else None)
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
