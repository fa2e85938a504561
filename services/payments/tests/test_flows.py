"""Whole payment flows through the handlers and the provider worker, on the in-memory store.

Given an order placed (and shipments, cancellations...), when the worker has done its
requests, then these events are in the payment's stream and the provider saw these calls.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.contracts import (
    DeclineReason,
    GiftCardCredited,
    GiftCardDebited,
    GiftCardIssued,
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentVoided,
    RefundIssued,
    ShipmentBilled,
)
from oms_events.examples import eur
from oms_payments.domain.commands import IssueGiftCard, RequestRefund
from oms_payments.handlers import RefundAccepted, issue_gift_card, request_refund
from oms_payments.streams import billing_stream, gift_card_stream, payment_stream
from oms_platform.refusal import Refusal
from services.payments.tests.support import (
    Payments,
    cancelled,
    delivered,
    dispatched,
    payment,
    placed,
    token,
)

EVERYTHING = (("TSHIRT", 2), ("MUG", 1))


async def amounts(service: Payments, pid: str, kind: type) -> list[Decimal]:
    return [e.amount.amount for e in await service.stream(payment_stream(pid)) if type(e) is kind]


async def test_card_is_authorized_at_order_and_captured_on_dispatch(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")))
    assert await service.types(payment_stream("pay-1")) == [
        "PaymentAuthorizationRequested",
        "PaymentAuthorized",
    ]
    await service.run(dispatched("shp-1", *EVERYTHING))
    assert await service.types(payment_stream("pay-1")) == [
        "PaymentAuthorizationRequested",
        "PaymentAuthorized",
        "PaymentCaptureRequested",
        "PaymentCaptured",
    ]
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("57.35")]
    assert service.provider.ops("authorize") == ["authorise-pay-1"]
    assert service.provider.ops("capture") == ["capture-pay-1-shp-1"]


@pytest.mark.parametrize("method", ["ideal", "bank_transfer"])
async def test_up_front_methods_are_captured_at_order_time(service: Payments, method: str) -> None:
    await service.run(placed(payment("pay-1", method, "57.35")))
    events = await service.stream(payment_stream("pay-1"))
    assert [type(e).__name__ for e in events][1:] == ["PaymentAuthorized", "PaymentCaptured"]
    assert isinstance(events[2], PaymentCaptured) and events[2].shipment_id is None
    await service.run(dispatched("shp-1", *EVERYTHING))
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("57.35")]
    assert service.provider.ops("capture") == []


async def test_a_provider_without_sales_gets_an_explicit_capture_for_up_front(
    service: Payments,
) -> None:
    service.provider.sales = False
    await service.run(placed(payment("pay-1", "ideal", "57.35")))
    assert service.provider.ops("capture") == ["capture-pay-1-at-order"]
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("57.35")]


async def test_cash_on_delivery_is_captured_when_delivered(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "cash_on_delivery", "57.35")))
    await service.run(dispatched("shp-1", *EVERYTHING))
    assert await amounts(service, "pay-1", PaymentCaptured) == []
    await service.run(delivered("shp-1"))
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("57.35")]
    await service.run(delivered("shp-1"))  # the carrier reports it twice
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("57.35")]


async def test_split_shipments_capture_their_lines_and_shipping_goes_first(
    service: Payments,
) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")))
    await service.run(dispatched("shp-1", ("MUG", 1)))
    await service.run(dispatched("shp-2", ("TSHIRT", 2)))
    # 12.50 + 4.95 shipping with the first parcel, 2 x 19.95 with the second.
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("17.45"), Decimal("39.90")]
    await service.run(dispatched("shp-2", ("TSHIRT", 2)))  # redelivered dispatch
    assert len(await amounts(service, "pay-1", PaymentCaptured)) == 2


async def test_a_decline_is_recorded_with_its_reason(service: Payments) -> None:
    service.provider.decline = DeclineReason.INSUFFICIENT_FUNDS
    await service.run(placed(payment("pay-1", "card", "57.35")))
    [*_, declined] = await service.stream(payment_stream("pay-1"))
    assert isinstance(declined, PaymentDeclined)
    assert declined.reason is DeclineReason.INSUFFICIENT_FUNDS


async def test_a_partial_approval_is_released_and_declined(service: Payments) -> None:
    service.provider.approve_only = eur("20.00")
    await service.run(placed(payment("pay-1", "card", "57.35")))
    [*_, declined] = await service.stream(payment_stream("pay-1"))
    assert isinstance(declined, PaymentDeclined)
    assert declined.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert "20.00" in (declined.provider_message or "")
    assert service.provider.ops("void") == ["void-pay-1"]
    assert service.provider.auths["REF-pay-1"].voided == Decimal("20.00")


async def test_cancelling_an_authorized_order_voids_it(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")), cancelled())
    assert await amounts(service, "pay-1", PaymentVoided) == [Decimal("57.35")]
    await service.run(cancelled())  # redelivered with a new event id
    assert service.provider.ops("void") == ["void-pay-1"]
    assert (await service.types(billing_stream("ord-000000000001")))[-1] == "OrderBillingCancelled"


async def test_cancelling_a_paid_up_front_order_refunds_it(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "ideal", "57.35")), cancelled())
    [*_, refund] = await service.stream(payment_stream("pay-1"))
    assert isinstance(refund, RefundIssued)
    assert refund.amount == eur("57.35") and refund.return_id is None
    assert service.provider.ops("void") == []


async def test_a_cancellation_before_authorization_prevents_it(service: Payments) -> None:
    await service.deliver(placed(payment("pay-1", "card", "57.35")))
    await service.deliver(cancelled())  # handled before the worker got to the payment
    await service.pump()
    [*_, prevented] = await service.stream(payment_stream("pay-1"))
    assert isinstance(prevented, PaymentCancelled)
    assert service.provider.calls == []


async def test_a_cancellation_handled_before_the_placement_cancels_every_payment(
    service: Payments,
) -> None:
    await service.run(cancelled(), placed(payment("pay-1", "card", "57.35")))
    assert await service.types(payment_stream("pay-1")) == [
        "PaymentAuthorizationRequested",
        "PaymentCancelled",
    ]
    assert service.provider.calls == []


async def test_gift_card_plus_card(service: Payments) -> None:
    await _gift_card(service, "GC-1", "50.00")
    gift, card = payment("pay-1", "gift_card", "20.00", "GC-1"), payment("pay-2", "card", "37.35")
    await service.run(placed(gift, card))
    assert await _balance(service, "GC-1") == Decimal("30.00")
    await service.run(dispatched("shp-1", ("MUG", 1)), dispatched("shp-2", ("TSHIRT", 2)))
    # The gift card pays first: 17.45 of the first parcel, then 2.55 + 37.35 of the card.
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("17.45"), Decimal("2.55")]
    assert await amounts(service, "pay-2", PaymentCaptured) == [Decimal("37.35")]
    billed = [e for e in await service.stream(billing_stream("ord-000000000001"))]
    assert sum(e.amount.amount for e in billed if isinstance(e, ShipmentBilled)) == Decimal("57.35")


async def test_a_cancelled_order_credits_the_gift_card_back(service: Payments) -> None:
    await _gift_card(service, "GC-1", "50.00")
    gift, card = payment("pay-1", "gift_card", "20.00", "GC-1"), payment("pay-2", "card", "37.35")
    await service.run(placed(gift, card), cancelled())
    assert await _balance(service, "GC-1") == Decimal("50.00")
    assert await amounts(service, "pay-1", PaymentVoided) == [Decimal("20.00")]
    assert await amounts(service, "pay-2", PaymentVoided) == [Decimal("37.35")]


async def test_a_gift_card_that_does_not_cover_the_payment_declines_it(service: Payments) -> None:
    await _gift_card(service, "GC-1", "10.00")
    await service.run(placed(payment("pay-1", "gift_card", "57.35", "GC-1")))
    [*_, declined] = await service.stream(payment_stream("pay-1"))
    assert isinstance(declined, PaymentDeclined)
    assert declined.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert await _balance(service, "GC-1") == Decimal("10.00")


async def test_an_unknown_gift_card_declines(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "gift_card", "57.35", "NOPE")))
    [*_, declined] = await service.stream(payment_stream("pay-1"))
    assert isinstance(declined, PaymentDeclined) and declined.reason is DeclineReason.REFUSED


async def test_a_gift_card_cannot_be_issued_twice(service: Payments) -> None:
    await _gift_card(service, "GC-1", "10.00")
    with pytest.raises(Refusal) as refused:
        await _gift_card(service, "GC-1", "10.00")
    assert refused.value.code == "refused"


async def test_partial_and_full_refunds_never_exceed_the_capture(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")), dispatched("shp-1", *EVERYTHING))
    await _refund(service, "rfd-1", "20.00")
    await service.pump()
    with pytest.raises(Refusal) as refused:
        await _refund(service, "rfd-2", "37.36")
    assert refused.value.code == "amount_exceeded"
    await _refund(service, "rfd-2", "37.35")
    await service.pump()
    assert await amounts(service, "pay-1", RefundIssued) == [Decimal("20.00"), Decimal("37.35")]
    assert service.provider.auths["REF-pay-1"].refunded == Decimal("57.35")


async def test_a_refund_request_with_a_known_id_is_not_repeated(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")), dispatched("shp-1", *EVERYTHING))
    first = await _refund(service, "rfd-1", "20.00")
    again = await _refund(service, "rfd-1", "20.00")
    assert first.new and not again.new
    with pytest.raises(Refusal) as refused:
        await _refund(service, "rfd-1", "21.00")
    assert refused.value.code == "refused"


async def test_nothing_can_be_refunded_before_capture(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")))
    with pytest.raises(Refusal) as refused:
        await _refund(service, "rfd-1", "1.00")
    assert refused.value.code == "amount_exceeded"


async def test_a_refunded_gift_card_payment_goes_back_on_the_card(service: Payments) -> None:
    await _gift_card(service, "GC-1", "60.00")
    await service.run(placed(payment("pay-1", "gift_card", "57.35", "GC-1")))
    await service.run(dispatched("shp-1", *EVERYTHING))
    await _refund(service, "rfd-1", "7.35")
    await service.pump()
    assert await _balance(service, "GC-1") == Decimal("10.00")


async def test_a_dispatch_of_an_order_payments_never_took_on_is_refused(
    service: Payments,
) -> None:
    """Causally a shipment follows the authorizations: waiting would only block the
    partition, so it is refused (dead-lettered, to replay after the placement)."""
    with pytest.raises(Refusal) as refused:
        await service.deliver(dispatched("shp-1", *EVERYTHING))
    assert refused.value.code == "order_not_billed"


async def test_a_delivery_of_a_shipment_never_billed_is_refused(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "cash_on_delivery", "57.35")))
    with pytest.raises(Refusal) as refused:
        await service.deliver(delivered("shp-1"))
    assert refused.value.code == "shipment_not_billed"


async def test_a_payment_id_cannot_belong_to_two_orders(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")))
    with pytest.raises(Refusal) as refused:
        await service.deliver(placed(payment("pay-1", "card", "57.35"), order_id="ord-2"))
    assert refused.value.code == "payment_id_in_use"


async def _gift_card(service: Payments, code: str, balance: str) -> None:
    async with service.store.unit_of_work() as uow:
        cmd = IssueGiftCard(token(code), eur(balance))
        await issue_gift_card(uow, cmd, actor="staff:test", cause=None)


async def _balance(service: Payments, code: str) -> Decimal:
    last = (await service.stream(gift_card_stream(token(code))))[-1]
    assert isinstance(last, GiftCardIssued | GiftCardDebited | GiftCardCredited)
    return last.balance.amount


async def _refund(service: Payments, refund_id: str, amount: str) -> RefundAccepted:
    async with service.store.unit_of_work() as uow:
        cmd = RequestRefund("pay-1", refund_id, Decimal(amount), "goodwill", currency="EUR")
        return await request_refund(uow, cmd, actor="staff:test", cause=None)
