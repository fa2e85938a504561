"""The order aggregate: given events, when a command, then events (or a refusal)."""

from __future__ import annotations

from datetime import UTC, datetime

from oms_events.base import Event
from oms_events.contracts import (
    CancellationReason,
    CancelledBy,
    OrderCancelled,
    OrderDelivered,
    OrderPaymentRecorded,
    OrderPaymentStatus,
    OrderShipped,
    OrderStockRecorded,
    OrderStockStatus,
    PaymentMethod,
    Shortage,
    SkuQuantity,
)
from oms_events.examples import eur
from oms_order.domain.commands import (
    CancelOrder,
    PlaceOrder,
    RecordDelivery,
    RecordPayment,
    RecordShipment,
    RecordStock,
)
from oms_order.domain.state import OrderStatus

from .conftest import (
    ORDER_ID,
    authorized,
    confirmed,
    payment_authorized,
    placed,
    reserved,
    spec,
    stock_reserved,
    submission,
)

STAFF_CANCEL = CancelOrder(
    ORDER_ID, CancellationReason.CUSTOMER_REQUEST, CancelledBy.STAFF, "asked by phone"
)
TSHIRTS = SkuQuantity(sku="TSHIRT-BLU-M", quantity=2)
MUG = SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1)
AT = datetime(2026, 3, 4, tzinfo=UTC)


def staff_cancelled() -> OrderCancelled:
    return OrderCancelled(
        order_id=ORDER_ID,
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.STAFF,
        detail="asked by phone",
    )


def ship(shipment_id: str = "shp-1", *lines: SkuQuantity) -> RecordShipment:
    return RecordShipment(
        ORDER_ID, shipment_id, "wh-ams-1", "postnl", "3S123", lines or (TSHIRTS, MUG)
    )


def shipped(shipment_id: str = "shp-1", *lines: SkuQuantity) -> OrderShipped:
    return OrderShipped(
        order_id=ORDER_ID,
        shipment_id=shipment_id,
        warehouse_id="wh-ams-1",
        carrier="postnl",
        tracking_number="3S123",
        lines=lines or (TSHIRTS, MUG),
    )


def delivered(shipment_id: str) -> OrderDelivered:
    return OrderDelivered(
        order_id=ORDER_ID,
        shipment_id=shipment_id,
        carrier="postnl",
        tracking_number="3S123",
        delivered_at=AT,
    )


def confirmed_history() -> list[Event]:
    return [
        placed(),
        stock_reserved(),
        payment_authorized("pay-1"),
        payment_authorized("pay-2"),
        confirmed(),
    ]


def test_placing_copies_the_submission_under_the_new_order_id() -> None:
    spec.given().when(PlaceOrder(ORDER_ID, submission())).then(placed())
    assert spec.given(placed()).state.status is OrderStatus.PLACED


def test_an_order_cannot_be_placed_twice() -> None:
    spec.given(placed()).when(PlaceOrder("ord-other", submission())).then_refused(
        "order_exists", status=409
    )


def test_commands_about_an_order_that_does_not_exist_are_refused() -> None:
    refusal = spec.given().when(reserved()).then_refused("order_not_found", status=404)
    assert ORDER_ID in refusal.reason
    spec.given().when(STAFF_CANCEL).then_refused("order_not_found", status=404)


def test_confirmed_once_stock_is_reserved_and_every_payment_authorised() -> None:
    history = (placed(), stock_reserved(), payment_authorized("pay-1"))
    assert spec.given(*history).state.status is OrderStatus.PLACED  # pay-2 still open
    spec.given(*history).when(authorized("pay-2")).then(payment_authorized("pay-2"), confirmed())


def test_confirmation_does_not_depend_on_the_order_facts_arrive_in() -> None:
    spec.given(placed(), payment_authorized("pay-2"), payment_authorized("pay-1")).when(
        reserved()
    ).then(stock_reserved(), confirmed())


def test_a_capture_counts_as_authorised() -> None:
    captured = RecordPayment(
        ORDER_ID, "pay-2", PaymentMethod.IDEAL, eur("37.35"), OrderPaymentStatus.CAPTURED
    )
    spec.given(placed(), stock_reserved(), payment_authorized("pay-1")).when(captured).then(
        OrderPaymentRecorded(
            order_id=ORDER_ID,
            payment_id="pay-2",
            method=PaymentMethod.IDEAL,
            amount=eur("37.35"),
            status=OrderPaymentStatus.CAPTURED,
        ),
        confirmed(),
    )


def test_a_stock_shortage_cancels_with_the_shortages_in_the_detail() -> None:
    shortage = Shortage(sku="MUG-ENAMEL-WHT", requested=1, available=0)
    failed = RecordStock(ORDER_ID, OrderStockStatus.UNAVAILABLE, shortages=(shortage,))
    spec.given(placed(), payment_authorized("pay-1")).when(failed).then(
        OrderStockRecorded(
            order_id=ORDER_ID, status=OrderStockStatus.UNAVAILABLE, shortages=(shortage,)
        ),
        OrderCancelled(
            order_id=ORDER_ID,
            reason=CancellationReason.STOCK_UNAVAILABLE,
            cancelled_by=CancelledBy.SYSTEM,
            detail="MUG-ENAMEL-WHT: requested 1, available 0",
        ),
    )


def test_a_declined_payment_cancels_with_the_reason() -> None:
    declined = RecordPayment(
        ORDER_ID,
        "pay-2",
        PaymentMethod.IDEAL,
        eur("37.35"),
        OrderPaymentStatus.DECLINED,
        reason="insufficient_funds",
    )

    def cancelled_for_the_decline(events: list[Event]) -> bool:
        cancelled = events[-1]
        return (
            isinstance(cancelled, OrderCancelled)
            and cancelled.reason is CancellationReason.PAYMENT_DECLINED
            and cancelled.detail is not None
            and "pay-2" in cancelled.detail
            and "insufficient_funds" in cancelled.detail
        )

    spec.given(placed(), stock_reserved()).when(declined).then_matches(cancelled_for_the_decline)


def test_late_facts_after_a_cancellation_are_recorded_but_change_nothing() -> None:
    cancelled = (placed(), staff_cancelled())
    spec.given(*cancelled).when(reserved()).then(stock_reserved())
    late = (*cancelled, stock_reserved(), payment_authorized("pay-1"))
    spec.given(*late).when(authorized("pay-2")).then(payment_authorized("pay-2"))
    state = spec.given(*late, payment_authorized("pay-2")).state
    assert state.status is OrderStatus.CANCELLED
    assert state.stock is OrderStockStatus.RESERVED  # the record is still truthful


def test_a_repeated_fact_is_not_recorded_twice() -> None:
    history = (placed(), stock_reserved(), payment_authorized("pay-1"))
    spec.given(*history).when(authorized("pay-1")).then_nothing()
    spec.given(*history).when(reserved()).then_nothing()


def test_customer_service_cancels_an_order_still_placed_at_once() -> None:
    spec.given(placed(), stock_reserved()).when(STAFF_CANCEL).then(staff_cancelled())


def test_cancellation_is_refused_once_shipped() -> None:
    history = (*confirmed_history(), shipped())
    assert spec.given(*history).state.status is OrderStatus.SHIPPED
    refusal = spec.given(*history).when(STAFF_CANCEL).then_refused("cancellation_refused")
    assert "shipped" in refusal.reason and refusal.status == 409


def test_cancellation_is_refused_when_already_cancelled() -> None:
    refusal = (
        spec.given(placed(), staff_cancelled())
        .when(STAFF_CANCEL)
        .then_refused("cancellation_refused")
    )
    assert "already cancelled" in refusal.reason


def test_delivered_once_every_unit_shipped_and_every_shipment_delivered() -> None:
    history = (*confirmed_history(), shipped("shp-1", TSHIRTS), delivered("shp-1"))
    assert spec.given(*history).state.status is OrderStatus.SHIPPED  # the mug is to come
    spec.given(*history).when(ship("shp-2", MUG)).then(shipped("shp-2", MUG))
    arrival = RecordDelivery(ORDER_ID, "shp-2", "postnl", "3S123", AT)
    after = spec.given(*history, shipped("shp-2", MUG)).when(arrival).state_after()
    assert after.status is OrderStatus.DELIVERED


def test_a_shipment_or_delivery_already_known_is_not_recorded_again() -> None:
    history = (*confirmed_history(), shipped(), delivered("shp-1"))
    spec.given(*history).when(ship()).then_nothing()
    spec.given(*history).when(
        RecordDelivery(ORDER_ID, "shp-1", "postnl", "3S123", AT)
    ).then_nothing()


def test_payment_steps_add_up_per_payment() -> None:
    def step(amount: str, status: OrderPaymentStatus) -> OrderPaymentRecorded:
        return OrderPaymentRecorded(
            order_id=ORDER_ID,
            payment_id="pay-2",
            method=PaymentMethod.IDEAL,
            amount=eur(amount),
            status=status,
        )

    capture = step("30.00", OrderPaymentStatus.CAPTURED)
    state = spec.given(
        placed(),
        payment_authorized("pay-2"),
        capture,
        capture,
        step("5.00", OrderPaymentStatus.REFUNDED),
    ).state
    payment = state.payment("pay-2")
    assert payment is not None
    assert payment.captured == eur("60.00") and payment.refunded == eur("5.00")
    assert payment.status == "refunded" and payment.authorized


def test_each_partial_release_of_an_authorisation_is_recorded_and_added_up() -> None:
    def void(amount: str) -> RecordPayment:
        return RecordPayment(
            ORDER_ID, "pay-1", PaymentMethod.CARD, eur(amount), OrderPaymentStatus.VOIDED
        )

    def voided(amount: str) -> OrderPaymentRecorded:
        return OrderPaymentRecorded(
            order_id=ORDER_ID,
            payment_id="pay-1",
            method=PaymentMethod.CARD,
            amount=eur(amount),
            status=OrderPaymentStatus.VOIDED,
        )

    # A short pick's share released, then an uncollected share of a lost parcel.
    history = [*confirmed_history(), voided("12.50")]
    spec.given(*history).when(void("4.95")).then(voided("4.95"))
    state = spec.given(*history, voided("4.95")).state
    payment = state.payment("pay-1")
    assert payment is not None and payment.released == eur("17.45")
