"""Short picks, failed parcels and returns through the routing table, the handlers and the
provider worker, on the in-memory store (as the consumers would deliver them)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.contracts import (
    PaymentCaptured,
    PaymentVoided,
    RefundIssued,
    SkuQuantity,
)
from oms_events.contracts.order import (
    OrderShipmentFailed,
    OrderShortShipped,
    ShipmentFailure,
    ShortShipRemedy,
)
from oms_events.contracts.returns import MethodRefund, ReturnResolved
from oms_events.examples import eur
from oms_payments.routing import BILLING, RETURNS
from oms_payments.streams import billing_stream, payment_stream
from oms_platform.refusal import Refusal
from services.payments.tests.support import (
    ORDER_ID,
    Payments,
    delivered,
    dispatched,
    payment,
    placed,
)
from services.payments.tests.test_flows import _balance, _gift_card, amounts


def short_shipped(
    fulfilment: str, *missing: tuple[str, int], remedy: ShortShipRemedy = ShortShipRemedy.REFUND
) -> OrderShortShipped:
    return OrderShortShipped(
        order_id=ORDER_ID,
        fulfilment_id=fulfilment,
        warehouse_id="wh-1",
        missing=tuple(SkuQuantity(sku=s, quantity=q) for s, q in missing),
        remedy=remedy,
    )


def failed(shipment: str, failure: ShipmentFailure = ShipmentFailure.LOST) -> OrderShipmentFailed:
    return OrderShipmentFailed(
        order_id=ORDER_ID, shipment_id=shipment, failure=failure, detail="carrier: parcel lost"
    )


def return_resolved(return_id: str, *refunds: tuple[str, str, str]) -> ReturnResolved:
    total = sum((Decimal(a) for _, _, a in refunds), Decimal(0))
    return ReturnResolved(
        return_id=return_id,
        order_id=ORDER_ID,
        shipping_refund=eur("0.00"),
        refund_amount=eur(str(total)),
        refunds=tuple(
            MethodRefund(payment_id=p, method=m, amount=eur(a))  # type: ignore[arg-type]
            for p, m, a in refunds
        ),
        unallocated=eur("0.00"),
    )


def test_the_new_events_are_routed_to_their_consumers(service: Payments) -> None:
    assert service.routes[OrderShortShipped].consumer == BILLING
    assert service.routes[OrderShipmentFailed].consumer == BILLING
    assert service.routes[ReturnResolved].consumer == RETURNS


async def test_a_short_pick_voids_the_unshipped_share_and_credits_the_gift_card(
    service: Payments,
) -> None:
    # Card 17.35 + gift card 40.00. The T-shirts ship (44.85: gift 40.00, card 4.85);
    # the mug (12.50) is short: the card's unbilled 12.50 is voided at the provider.
    await _gift_card(service, "GC-1", "50.00")
    gift, card = payment("pay-1", "gift_card", "40.00", "GC-1"), payment("pay-2", "card", "17.35")
    await service.run(placed(gift, card), short_shipped("ful-1", ("MUG", 1)))
    assert await amounts(service, "pay-2", PaymentVoided) == []  # not settled yet
    await service.run(dispatched("shp-1", ("TSHIRT", 2)))
    assert await amounts(service, "pay-1", PaymentCaptured) == [Decimal("40.00")]
    assert await amounts(service, "pay-2", PaymentCaptured) == [Decimal("4.85")]
    assert await amounts(service, "pay-2", PaymentVoided) == [Decimal("12.50")]
    assert service.provider.ops("void") == ["void-pay-2-short"]
    assert service.provider.auths["REF-pay-2"].voided == Decimal("12.50")
    assert await _balance(service, "GC-1") == Decimal("10.00")
    # Redelivered: nothing more is released.
    await service.run(short_shipped("ful-1", ("MUG", 1)))
    assert service.provider.ops("void") == ["void-pay-2-short"]


async def test_a_gift_card_share_left_unbilled_is_credited_back(service: Payments) -> None:
    # Gift card 40.00 + card 17.35; only the mug ships (17.45, all gift card): the gift
    # card's unbilled 22.55 goes back on the card, the card's 17.35 is voided.
    await _gift_card(service, "GC-1", "50.00")
    gift, card = payment("pay-1", "gift_card", "40.00", "GC-1"), payment("pay-2", "card", "17.35")
    await service.run(placed(gift, card), dispatched("shp-1", ("MUG", 1)))
    await service.run(short_shipped("ful-1", ("TSHIRT", 2)))
    assert await amounts(service, "pay-1", PaymentVoided) == [Decimal("22.55")]
    assert await amounts(service, "pay-2", PaymentVoided) == [Decimal("17.35")]
    assert await _balance(service, "GC-1") == Decimal("10.00") + Decimal("22.55")


async def test_a_short_pick_of_an_ideal_payment_is_refunded(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "ideal", "57.35")), dispatched("shp-1", ("MUG", 1)))
    await service.run(short_shipped("ful-1", ("TSHIRT", 2)))
    assert await amounts(service, "pay-1", RefundIssued) == [Decimal("39.90")]
    assert service.provider.ops("refund") == ["refund-rfd-short-pay-1"]


async def test_a_back_order_releases_nothing(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")), dispatched("shp-1", ("MUG", 1)))
    await service.run(short_shipped("ful-1", ("TSHIRT", 2), remedy=ShortShipRemedy.BACK_ORDER))
    assert "UnitsWaived" not in await service.types(billing_stream(ORDER_ID))
    assert service.provider.ops("void") == []


async def test_a_lost_parcel_is_refunded_once(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")))
    await service.run(dispatched("shp-1", ("TSHIRT", 2)), dispatched("shp-2", ("MUG", 1)))
    await service.run(failed("shp-2"), failed("shp-2"))
    assert await amounts(service, "pay-1", RefundIssued) == [Decimal("12.50")]
    assert service.provider.ops("refund") == ["refund-rfd-shp-2-pay-1"]


async def test_a_failure_reported_before_the_dispatch_is_billed_is_paid_back_after_capture(
    service: Payments,
) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")))
    await service.run(failed("shp-1", ShipmentFailure.RETURNED_TO_SENDER))
    await service.run(dispatched("shp-1", ("TSHIRT", 2), ("MUG", 1)))
    assert await service.types(payment_stream("pay-1")) == [
        "PaymentAuthorizationRequested",
        "PaymentAuthorized",
        "PaymentCaptureRequested",
        "PaymentRefundRequested",
        "PaymentCaptured",
        "RefundIssued",
    ]
    assert await amounts(service, "pay-1", RefundIssued) == [Decimal("57.35")]


async def test_cash_on_delivery_of_a_lost_parcel_is_never_collected(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "cash_on_delivery", "57.35")))
    await service.run(dispatched("shp-1", ("TSHIRT", 2), ("MUG", 1)), failed("shp-1"))
    await service.run(delivered("shp-1"))
    assert await amounts(service, "pay-1", PaymentCaptured) == []
    assert await amounts(service, "pay-1", RefundIssued) == []
    assert await amounts(service, "pay-1", PaymentVoided) == [Decimal("57.35")]


async def test_a_return_refunds_each_payment_once(service: Payments) -> None:
    await _gift_card(service, "GC-1", "50.00")
    gift, card = payment("pay-1", "gift_card", "20.00", "GC-1"), payment("pay-2", "card", "37.35")
    await service.run(placed(gift, card), dispatched("shp-1", ("TSHIRT", 2), ("MUG", 1)))
    resolved = return_resolved("RMA-1", ("pay-2", "card", "19.95"), ("pay-1", "gift_card", "12.50"))
    await service.run(resolved, resolved)
    issued = [
        e for e in await service.stream(payment_stream("pay-2")) if isinstance(e, RefundIssued)
    ]
    assert [(e.refund_id, e.return_id, e.amount.amount) for e in issued] == [
        ("rfd-RMA-1-pay-2", "RMA-1", Decimal("19.95"))
    ]
    assert await amounts(service, "pay-1", RefundIssued) == [Decimal("12.50")]
    assert await _balance(service, "GC-1") == Decimal("30.00") + Decimal("12.50")
    assert service.provider.ops("refund") == ["refund-rfd-RMA-1-pay-2"]


async def test_a_return_refund_the_payment_cannot_take_is_refused(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")), dispatched("shp-1", ("MUG", 1)))
    with pytest.raises(Refusal) as refused:
        await service.deliver(return_resolved("RMA-1", ("pay-1", "card", "19.95")))
    assert refused.value.code == "amount_exceeded"
    assert "RefundIssued" not in await service.types(payment_stream("pay-1"))
