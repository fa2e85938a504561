"""``evolve``: the order's state after one more event of its stream (pure, never refuses)."""

from __future__ import annotations

from dataclasses import replace

from oms_events.base import Event
from oms_events.contracts import (
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPaymentRecorded,
    OrderPaymentStatus,
    OrderPlaced,
    OrderShipped,
    OrderStockRecorded,
    OrderStockStatus,
)
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancellationRefused,
    OrderCancellationRequested,
    OrderReturnRecorded,
    OrderShipmentFailed,
    OrderShortShipped,
)
from oms_order.domain.state import (
    CancellationRequest,
    OrderState,
    OrderStatus,
    PaymentState,
    ShipmentState,
)

_SHIPPED_OR_LATER = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
_RETURNED = (OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED)


def evolve(state: OrderState, event: Event) -> OrderState:
    """Apply one event; unknown event types only advance the version."""
    state = replace(state, version=state.version + 1)
    match event:
        case OrderPlaced():
            return replace(
                state,
                status=OrderStatus.PLACED,
                placed=event,
                payments=tuple(PaymentState.of(p) for p in event.payments),
            )
        case OrderStockRecorded():
            return _stock(state, event)
        case OrderPaymentRecorded():
            return _payment(state, event)
        case OrderConfirmed():
            return replace(state, status=OrderStatus.CONFIRMED, confirmed=True)
        case OrderCancelled():
            return replace(state, status=OrderStatus.CANCELLED, cancellation=event)
        case OrderShipped():
            shipment = ShipmentState(
                event.shipment_id,
                event.warehouse_id,
                event.carrier,
                event.tracking_number,
                event.lines,
            )
            state = replace(state, shipments=(*state.shipments, shipment))
            if state.status is OrderStatus.CANCELLED:
                return state  # a late fact: recorded, but the order stays cancelled
            if state.status in _RETURNED:
                return state  # a later parcel does not undo what came back
            return replace(state, status=OrderStatus.SHIPPED)
        case OrderDelivered():
            shipments = tuple(
                replace(s, delivered=True, delivered_at=event.delivered_at)
                if s.shipment_id == event.shipment_id
                else s
                for s in state.shipments
            )
            return _delivered_if_complete(replace(state, shipments=shipments))
        case OrderCancellationRequested():
            return replace(state, cancellation_request=CancellationRequest(event))
        case OrderCancellationRefused():
            if state.cancellation_request is None:
                return state
            request = replace(state.cancellation_request, refusal=event.reason)
            return replace(state, cancellation_request=request)
        case OrderShortShipped():
            state = replace(state, short_shipped=(*state.short_shipped, event))
            # units short for a refund are no longer due: the rest may all be delivered
            return _delivered_if_complete(state)
        case OrderShipmentFailed():
            shipments = tuple(
                replace(s, failure=event.failure, failure_detail=event.detail)
                if s.shipment_id == event.shipment_id
                else s
                for s in state.shipments
            )
            return replace(
                state,
                shipments=shipments,
                failed_shipments=state.failed_shipments | {event.shipment_id},
            )
        case OrderReturnRecorded():
            state = replace(state, returns=(*state.returns, event))
            if event.status is None or state.status is OrderStatus.CANCELLED:
                return state
            return replace(state, status=OrderStatus(event.status.value))
        case FeedbackReceived():
            return replace(state, feedback=event)
    return state


def _delivered_if_complete(state: OrderState) -> OrderState:
    if state.status in _SHIPPED_OR_LATER and _all_delivered(state):
        return replace(state, status=OrderStatus.DELIVERED)
    return state


def _all_delivered(state: OrderState) -> bool:
    return state.fully_shipped and all(s.delivered for s in state.shipments)


def _stock(state: OrderState, event: OrderStockRecorded) -> OrderState:
    if event.status is OrderStockStatus.RESERVED:
        return replace(
            state,
            stock=event.status,
            reservation_id=event.reservation_id,
            allocations=event.allocations,
        )
    if event.status is OrderStockStatus.UNAVAILABLE:
        return replace(state, stock=event.status, shortages=event.shortages)
    # released or cancelled: nothing is held for the order any more
    return replace(state, stock=event.status)


def _payment(state: OrderState, event: OrderPaymentRecorded) -> OrderState:
    current = state.payment(event.payment_id) or PaymentState(
        event.payment_id, event.method, event.amount
    )
    status = event.status
    if status is OrderPaymentStatus.AUTHORIZED:
        updated = replace(current, status=status.value, authorized=True)
    elif status is OrderPaymentStatus.DECLINED:
        updated = replace(current, status=status.value, declined=True, reason=event.reason)
    elif status is OrderPaymentStatus.VOIDED:
        total = event.amount if current.released is None else current.released + event.amount
        updated = replace(current, status=status.value, voided=True, released=total)
    elif status is OrderPaymentStatus.CAPTURED:
        total = event.amount if current.captured is None else current.captured + event.amount
        updated = replace(current, status=status.value, captured=total)
    else:
        total = event.amount if current.refunded is None else current.refunded + event.amount
        updated = replace(current, status=status.value, refunded=total)
    if state.payment(event.payment_id) is None:
        return replace(state, payments=(*state.payments, updated))
    payments = tuple(updated if p.payment_id == event.payment_id else p for p in state.payments)
    return replace(state, payments=payments)
