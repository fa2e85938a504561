"""The rest of the order's life (pure decider): cancellation as a request once confirmed,
short picks, parcels that fail, returns and feedback. Given events, when a command, then
events (or a refusal)."""

from __future__ import annotations

from oms_events.base import Event
from oms_events.contracts import CancellationReason, CancelledBy, OrderCancelled, SkuQuantity
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancellationRefused,
    OrderCancellationRequested,
    OrderReturnRecorded,
    OrderShipmentFailed,
    OrderShortShipped,
    ShipmentFailure,
    ShortShipRemedy,
)
from oms_events.contracts.returns import OrderReturnStatus
from oms_events.examples import eur
from oms_order.domain.commands import (
    GiveFeedback,
    RecordCancellationAnswer,
    RecordDelivery,
    RecordReturn,
    RecordShipmentFailure,
    RecordShortPick,
)
from oms_order.domain.state import OrderStatus

from .conftest import ORDER_ID, spec
from .test_order_decider import (
    AT,
    MUG,
    STAFF_CANCEL,
    TSHIRTS,
    confirmed_history,
    delivered,
    ship,
    shipped,
)

ACCEPTED = RecordCancellationAnswer(ORDER_ID, accepted=True)
REFUSED = RecordCancellationAnswer(ORDER_ID, accepted=False, reason="ful-1 is already packed")


def requested() -> OrderCancellationRequested:
    return OrderCancellationRequested(
        order_id=ORDER_ID,
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.STAFF,
        detail="asked by phone",
    )


def refused() -> OrderCancellationRefused:
    return OrderCancellationRefused(order_id=ORDER_ID, reason="ful-1 is already packed")


def short_pick(
    fulfilment_id: str = "ful-1",
    remedy: ShortShipRemedy = ShortShipRemedy.REFUND,
    *missing: SkuQuantity,
) -> RecordShortPick:
    return RecordShortPick(ORDER_ID, fulfilment_id, "wh-ams-1", missing or (MUG,), remedy)


def short_shipped(
    fulfilment_id: str = "ful-1",
    remedy: ShortShipRemedy = ShortShipRemedy.REFUND,
    *missing: SkuQuantity,
) -> OrderShortShipped:
    return OrderShortShipped(
        order_id=ORDER_ID,
        fulfilment_id=fulfilment_id,
        warehouse_id="wh-ams-1",
        missing=missing or (MUG,),
        remedy=remedy,
    )


def delivered_history() -> list[Event]:
    return [*confirmed_history(), shipped(), delivered("shp-1")]


def returned(return_id: str, status: OrderReturnStatus) -> OrderReturnRecorded:
    return OrderReturnRecorded(
        order_id=ORDER_ID,
        return_id=return_id,
        lines=(MUG,),
        refund_amount=eur("12.50"),
        status=status,
    )


# -- cancellation once confirmed -----------------------------------------------------------


def test_a_confirmed_order_is_not_cancelled_at_once_but_asked_of_fulfilment() -> None:
    spec.given(*confirmed_history()).when(STAFF_CANCEL).then(requested())
    state = spec.given(*confirmed_history(), requested()).state
    assert state.status is OrderStatus.CONFIRMED and state.cancellation_pending


def test_asking_again_while_the_request_is_pending_records_nothing() -> None:
    spec.given(*confirmed_history(), requested()).when(STAFF_CANCEL).then_nothing()


def test_accepted_by_fulfilment_the_order_is_cancelled_as_requested() -> None:
    history = (*confirmed_history(), requested())
    spec.given(*history).when(ACCEPTED).then(
        OrderCancelled(
            order_id=ORDER_ID,
            reason=CancellationReason.CUSTOMER_REQUEST,
            cancelled_by=CancelledBy.STAFF,
            detail="asked by phone",
        )
    )
    cancelled = spec.given(*history).when(ACCEPTED).state_after()
    assert cancelled.status is OrderStatus.CANCELLED and not cancelled.cancellation_pending


def test_an_answer_without_a_pending_request_records_nothing() -> None:
    spec.given(*confirmed_history()).when(ACCEPTED).then_nothing()
    spec.given(*confirmed_history()).when(REFUSED).then_nothing()
    done = OrderCancelled(
        order_id=ORDER_ID,
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.STAFF,
        detail="asked by phone",
    )
    # a repeated acceptance never cancels twice
    spec.given(*confirmed_history(), requested(), done).when(ACCEPTED).then_nothing()


def test_refused_by_fulfilment_the_order_stays_as_it_was() -> None:
    history = (*confirmed_history(), requested())
    spec.given(*history).when(REFUSED).then(refused())
    state = spec.given(*history, refused()).state
    assert state.status is OrderStatus.CONFIRMED and state.cancellation is None
    assert state.cancellation_request is not None
    assert state.cancellation_request.refusal == "ful-1 is already packed"


def test_asking_again_after_a_refusal_is_refused_with_the_reason() -> None:
    refusal = (
        spec.given(*confirmed_history(), requested(), refused())
        .when(STAFF_CANCEL)
        .then_refused("cancellation_refused", status=409)
    )
    assert "ful-1 is already packed" in refusal.reason


def test_an_acceptance_after_a_dispatch_is_turned_into_a_refusal() -> None:
    # never both shipped and cancelled, whatever fulfilment said
    history = (*confirmed_history(), requested(), shipped())
    spec.given(*history).when(ACCEPTED).then(
        OrderCancellationRefused(order_id=ORDER_ID, reason="shipment shp-1 was already dispatched")
    )
    assert spec.given(*history).when(ACCEPTED).state_after().status is OrderStatus.SHIPPED


# -- short picks -------------------------------------------------------------------------------


def test_a_short_pick_is_recorded_once_per_fulfilment_with_the_remedy() -> None:
    spec.given(*confirmed_history()).when(short_pick()).then(short_shipped())
    spec.given(*confirmed_history(), short_shipped()).when(short_pick()).then_nothing()
    back = short_pick("ful-2", ShortShipRemedy.BACK_ORDER, TSHIRTS)
    spec.given(*confirmed_history(), short_shipped()).when(back).then(
        short_shipped("ful-2", ShortShipRemedy.BACK_ORDER, TSHIRTS)
    )


def test_refunded_short_units_are_not_due_so_the_rest_delivered_is_delivered() -> None:
    history = (*confirmed_history(), short_shipped(), shipped("shp-1", TSHIRTS))
    assert spec.given(*history).state.status is OrderStatus.SHIPPED
    arrival = RecordDelivery(ORDER_ID, "shp-1", "postnl", "3S123", AT)
    assert spec.given(*history).when(arrival).state_after().status is OrderStatus.DELIVERED


def test_a_short_pick_after_the_rest_was_delivered_completes_the_order() -> None:
    history = (*confirmed_history(), shipped("shp-1", TSHIRTS), delivered("shp-1"))
    assert spec.given(*history).state.status is OrderStatus.SHIPPED
    assert spec.given(*history).when(short_pick()).state_after().status is OrderStatus.DELIVERED


def test_back_ordered_units_are_still_due() -> None:
    back = short_shipped("ful-1", ShortShipRemedy.BACK_ORDER)
    history = (*confirmed_history(), back, shipped("shp-1", TSHIRTS), delivered("shp-1"))
    assert spec.given(*history).state.status is OrderStatus.SHIPPED


def test_every_unit_short_for_a_refund_and_nothing_shipped_cancels_the_order() -> None:
    everything = short_pick("ful-1", ShortShipRemedy.REFUND, TSHIRTS, MUG)
    events = spec.given(*confirmed_history()).when(everything).then_matches(lambda e: len(e) == 2)
    assert events[0] == short_shipped("ful-1", ShortShipRemedy.REFUND, TSHIRTS, MUG)
    cancelled = events[1]
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.reason is CancellationReason.STOCK_UNAVAILABLE
    assert cancelled.cancelled_by is CancelledBy.SYSTEM
    assert cancelled.detail is not None and "short pick of ful-1" in cancelled.detail


def test_some_units_still_due_elsewhere_do_not_cancel() -> None:
    spec.given(*confirmed_history()).when(short_pick("ful-1", ShortShipRemedy.REFUND, MUG)).then(
        short_shipped("ful-1", ShortShipRemedy.REFUND, MUG)
    )
    back = short_pick("ful-1", ShortShipRemedy.BACK_ORDER, TSHIRTS, MUG)
    spec.given(*confirmed_history()).when(back).then(
        short_shipped("ful-1", ShortShipRemedy.BACK_ORDER, TSHIRTS, MUG)
    )


def test_a_system_cancel_while_a_request_is_pending_is_not_repeated_on_acceptance() -> None:
    everything = short_pick("ful-1", ShortShipRemedy.REFUND, TSHIRTS, MUG)
    after = spec.given(*confirmed_history(), requested()).when(everything).state_after()
    assert after.status is OrderStatus.CANCELLED and not after.cancellation_pending
    history = spec.given(*confirmed_history(), requested()).when(everything).then_matches(bool)
    spec.given(*confirmed_history(), requested(), *history).when(ACCEPTED).then_nothing()


# -- parcels that fail -------------------------------------------------------------------------


def test_a_lost_parcel_is_recorded_once_on_its_shipment() -> None:
    lost = RecordShipmentFailure(ORDER_ID, "shp-1", ShipmentFailure.LOST, "no scan for 10 days")
    failed = OrderShipmentFailed(
        order_id=ORDER_ID,
        shipment_id="shp-1",
        failure=ShipmentFailure.LOST,
        detail="no scan for 10 days",
    )
    history = (*confirmed_history(), shipped())
    spec.given(*history).when(lost).then(failed)
    spec.given(*history, failed).when(lost).then_nothing()
    state = spec.given(*history, failed).state
    shipment = state.shipment("shp-1")
    assert shipment is not None and shipment.failure is ShipmentFailure.LOST
    assert state.status is OrderStatus.SHIPPED  # never delivered


# -- returns -----------------------------------------------------------------------------------


def test_a_resolved_return_is_recorded_once_and_sets_the_status() -> None:
    record = RecordReturn(
        ORDER_ID, "ret-1", (MUG,), eur("12.50"), OrderReturnStatus.PARTIALLY_RETURNED
    )
    partial = returned("ret-1", OrderReturnStatus.PARTIALLY_RETURNED)
    spec.given(*delivered_history()).when(record).then(partial)
    spec.given(*delivered_history(), partial).when(record).then_nothing()
    state = spec.given(*delivered_history(), partial).state
    assert state.status is OrderStatus.PARTIALLY_RETURNED
    everything = returned("ret-2", OrderReturnStatus.RETURNED)
    assert spec.given(*delivered_history(), partial, everything).state.status is (
        OrderStatus.RETURNED
    )


# -- feedback ----------------------------------------------------------------------------------


def test_feedback_is_taken_once_after_delivery() -> None:
    give = GiveFeedback(ORDER_ID, 4, "quick")
    refusal = spec.given(*confirmed_history()).when(give).then_refused("feedback_not_allowed")
    assert "confirmed" in refusal.reason and refusal.status == 409
    spec.given(*confirmed_history(), shipped()).when(give).then_refused("feedback_not_allowed")
    feedback = FeedbackReceived(order_id=ORDER_ID, rating=4, comment="quick")
    spec.given(*delivered_history()).when(give).then(feedback)
    spec.given(*delivered_history(), feedback).when(give).then_refused("feedback_exists")


def test_feedback_is_welcome_after_a_return() -> None:
    partial = returned("ret-1", OrderReturnStatus.PARTIALLY_RETURNED)
    spec.given(*delivered_history(), partial).when(GiveFeedback(ORDER_ID, 2)).then(
        FeedbackReceived(order_id=ORDER_ID, rating=2)
    )


def test_unknown_orders_refuse_the_new_commands() -> None:
    spec.given().when(GiveFeedback(ORDER_ID, 5)).then_refused("order_not_found", status=404)
    spec.given().when(ACCEPTED).then_refused("order_not_found", status=404)
    spec.given().when(short_pick()).then_refused("order_not_found", status=404)


def test_a_dispatch_while_a_request_is_pending_is_recorded_and_cancelling_is_refused() -> None:
    history = (*confirmed_history(), requested())
    spec.given(*history).when(ship()).then(shipped())
    refusal = (
        spec.given(*history, shipped()).when(STAFF_CANCEL).then_refused("cancellation_refused")
    )
    assert "shipped" in refusal.reason
