"""The order aggregate: given events, when a command, then events (or a refusal)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oms_events.contracts import (
    CancellationReason,
    CancelledBy,
    OrderCancelled,
    OrderConfirmed,
    OrderPaymentStatus,
    OrderPlaced,
    OrderStockStatus,
    PaymentMethod,
    Shortage,
    SkuQuantity,
)
from oms_events.examples import ADDRESS, ALLOCATIONS, eur
from oms_order.domain.commands import (
    CancelOrder,
    PlaceOrder,
    RecordDelivery,
    RecordPayment,
    RecordShipment,
    RecordStock,
)
from oms_order.domain.decide import (
    CancellationRefused,
    OrderAlreadyExists,
    OrderNotFound,
    decide,
)
from oms_order.domain.evolve import rebuild
from oms_order.domain.state import OrderState, OrderStatus

from .conftest import ORDER_ID, authorized, given, placed, reserved, submission, types, when

STAFF_CANCEL = CancelOrder(CancellationReason.CUSTOMER_REQUEST, CancelledBy.STAFF, "asked by phone")


def shipment(shipment_id: str = "shp-1", *lines: SkuQuantity) -> RecordShipment:
    lines = lines or (
        SkuQuantity(sku="TSHIRT-BLU-M", quantity=2),
        SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1),
    )
    return RecordShipment(shipment_id, "wh-ams-1", "postnl", "3S123", lines)


def test_placing_copies_the_submission_under_the_new_order_id() -> None:
    [event] = placed()
    assert isinstance(event, OrderPlaced)
    assert event.order_id == ORDER_ID
    assert event.platform_order_ref == submission().platform_order_ref
    assert event.payments == submission().payments
    assert rebuild([event]).status is OrderStatus.PLACED


def test_an_order_cannot_be_placed_twice() -> None:
    with pytest.raises(OrderAlreadyExists):
        when(placed(), PlaceOrder("ord-other", submission()))


def test_facts_about_an_order_that_does_not_exist_are_refused() -> None:
    with pytest.raises(OrderNotFound):
        decide(reserved(), OrderState())


def test_confirmed_once_stock_is_reserved_and_every_payment_authorised() -> None:
    history = given(reserved(), authorized("pay-1"))
    assert rebuild(history).status is OrderStatus.PLACED  # pay-2 still open
    events = when(history, authorized("pay-2"))
    assert types(events) == ["OrderPaymentRecorded", "OrderConfirmed"]
    confirmed = events[1]
    assert isinstance(confirmed, OrderConfirmed)
    assert confirmed.allocations == ALLOCATIONS and confirmed.shipping_address == ADDRESS


def test_confirmation_does_not_depend_on_the_order_facts_arrive_in() -> None:
    events = when(given(authorized("pay-2"), authorized("pay-1")), reserved())
    assert types(events) == ["OrderStockRecorded", "OrderConfirmed"]


def test_a_capture_counts_as_authorised() -> None:
    captured = RecordPayment(
        "pay-2", PaymentMethod.IDEAL, eur("37.35"), OrderPaymentStatus.CAPTURED
    )
    events = when(given(reserved(), authorized("pay-1")), captured)
    assert types(events) == ["OrderPaymentRecorded", "OrderConfirmed"]


def test_a_stock_shortage_cancels_with_the_shortages_in_the_detail() -> None:
    failed = RecordStock(
        OrderStockStatus.UNAVAILABLE,
        shortages=(Shortage(sku="MUG-ENAMEL-WHT", requested=1, available=0),),
    )
    events = when(given(authorized("pay-1")), failed)
    assert types(events) == ["OrderStockRecorded", "OrderCancelled"]
    cancelled = events[1]
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.reason is CancellationReason.STOCK_UNAVAILABLE
    assert cancelled.cancelled_by is CancelledBy.SYSTEM
    assert cancelled.detail == "MUG-ENAMEL-WHT: requested 1, available 0"


def test_a_declined_payment_cancels_with_the_reason() -> None:
    declined = RecordPayment(
        "pay-2",
        PaymentMethod.IDEAL,
        eur("37.35"),
        OrderPaymentStatus.DECLINED,
        reason="insufficient_funds",
    )
    events = when(given(reserved()), declined)
    cancelled = events[-1]
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.reason is CancellationReason.PAYMENT_DECLINED
    assert cancelled.detail is not None and "pay-2" in cancelled.detail
    assert "insufficient_funds" in cancelled.detail


def test_late_facts_after_a_cancellation_are_recorded_but_change_nothing() -> None:
    history = given(STAFF_CANCEL)
    events = when(history, reserved())
    assert types(events) == ["OrderStockRecorded"]
    history += events
    events = when(history, authorized("pay-1"))
    history += events + when(history + events, authorized("pay-2"))
    state = rebuild(history)
    assert state.status is OrderStatus.CANCELLED
    assert types(history).count("OrderConfirmed") == 0
    assert state.stock is OrderStockStatus.RESERVED  # the record is still truthful


def test_a_repeated_fact_is_not_recorded_twice() -> None:
    history = given(reserved(), authorized("pay-1"))
    assert when(history, authorized("pay-1")) == []
    assert when(history, reserved()) == []


def test_customer_service_can_cancel_a_confirmed_order() -> None:
    history = given(reserved(), authorized("pay-1"), authorized("pay-2"))
    assert rebuild(history).status is OrderStatus.CONFIRMED
    [event] = when(history, STAFF_CANCEL)
    assert isinstance(event, OrderCancelled) and event.cancelled_by is CancelledBy.STAFF


def test_cancellation_is_refused_once_shipped() -> None:
    history = given(reserved(), authorized("pay-1"), authorized("pay-2"), shipment())
    assert rebuild(history).status is OrderStatus.SHIPPED
    with pytest.raises(CancellationRefused, match="shipped"):
        when(history, STAFF_CANCEL)


def test_cancellation_is_refused_when_already_cancelled() -> None:
    with pytest.raises(CancellationRefused, match="already cancelled"):
        when(given(STAFF_CANCEL), STAFF_CANCEL)


def test_delivered_once_every_unit_shipped_and_every_shipment_delivered() -> None:
    tshirts = SkuQuantity(sku="TSHIRT-BLU-M", quantity=2)
    mug = SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1)
    at = datetime(2026, 3, 4, tzinfo=UTC)
    history = given(
        reserved(),
        authorized("pay-1"),
        authorized("pay-2"),
        shipment("shp-1", tshirts),
        RecordDelivery("shp-1", "postnl", "3S123", at),
    )
    assert rebuild(history).status is OrderStatus.SHIPPED  # the mug is still to come
    history += when(history, shipment("shp-2", mug))
    history += when(history, RecordDelivery("shp-2", "postnl", "3S124", at))
    assert rebuild(history).status is OrderStatus.DELIVERED


def test_payment_steps_add_up_per_payment() -> None:
    capture = RecordPayment("pay-2", PaymentMethod.IDEAL, eur("30.00"), OrderPaymentStatus.CAPTURED)
    refund = RecordPayment("pay-2", PaymentMethod.IDEAL, eur("5.00"), OrderPaymentStatus.REFUNDED)
    state = rebuild(given(authorized("pay-2"), capture, capture, refund))
    payment = state.payment("pay-2")
    assert payment is not None
    assert payment.captured == eur("60.00") and payment.refunded == eur("5.00")
    assert payment.status == "refunded" and payment.authorized
