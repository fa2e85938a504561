"""The order aggregate: ``decide`` what a command produces given the order's state (pure).

Facts reported by other services are always recorded (so late ones show in the timeline)
unless they repeat what the order already knows; only an order still waiting for stock
and payment moves on them: to confirmed when stock is reserved and every payment of the
order is authorised, to cancelled as soon as stock or a payment fails.

Once confirmed, fulfilment may have started: a cancellation is then a request
(``OrderCancellationRequested``) that fulfilment answers, and only its acceptance cancels
the order. A confirmed order whose every unit was short-picked for a refund, with nothing
dispatched, is cancelled by the system. Feedback is taken once, after delivery.
"""

from __future__ import annotations

from typing import assert_never

from oms_events.base import Event
from oms_events.contracts import (
    CancellationReason,
    CancelledBy,
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
from oms_order.domain.commands import (
    CancelOrder,
    Command,
    Fact,
    GiveFeedback,
    PlaceOrder,
    RecordCancellationAnswer,
    RecordDelivery,
    RecordPayment,
    RecordReturn,
    RecordShipment,
    RecordShipmentFailure,
    RecordShortPick,
    RecordStock,
)
from oms_order.domain.evolve import evolve
from oms_order.domain.state import DELIVERED_OR_RETURNED, OrderState, OrderStatus
from oms_platform.decider import fold_from
from oms_platform.refusal import Refusal


class OrderDecider:
    """The order aggregate (stream ``order-<order_id>``) as a platform ``Decider``.

    Refuses with :class:`~oms_platform.refusal.Refusal`: ``order_not_found`` (404) for a
    command about an order that was never placed, ``order_exists`` (409) for placing one
    twice, ``cancellation_refused`` (409) once shipped, already cancelled or refused by
    fulfilment, ``feedback_not_allowed`` (409) before delivery and ``feedback_exists``
    (409) for a second feedback.
    """

    def initial_state(self) -> OrderState:
        return OrderState()

    def evolve(self, state: OrderState, event: Event) -> OrderState:
        return evolve(state, event)

    def decide(self, command: Command, state: OrderState) -> list[Event]:
        """The new events for ``command``, in order; ``[]`` when there is nothing to do."""
        match command:
            case PlaceOrder():
                return _place(command, state)
            case CancelOrder():
                return _cancel(command, _existing(command.order_id, state))
            case GiveFeedback():
                return _feedback(command, _existing(command.order_id, state))
            case (
                RecordStock()
                | RecordPayment()
                | RecordShipment()
                | RecordDelivery()
                | RecordShortPick()
                | RecordShipmentFailure()
                | RecordReturn()
                | RecordCancellationAnswer()
            ):
                facts = _record(command, _existing(command.order_id, state))
                if not facts:
                    return []
                return facts + _settle(fold_from(self, state, facts))
            case _:
                assert_never(command)


order_decider = OrderDecider()


def _existing(order_id: str, state: OrderState) -> OrderState:
    if not state.exists:
        raise Refusal.not_found("order_not_found", f"there is no order {order_id}")
    return state


def _place(command: PlaceOrder, state: OrderState) -> list[Event]:
    if state.exists:
        raise Refusal("order_exists", f"order {state.order_id} already exists")
    sub = command.submission
    return [
        OrderPlaced(
            order_id=command.order_id,
            platform_order_ref=sub.platform_order_ref,
            sales_channel=sub.sales_channel,
            customer=sub.customer,
            lines=sub.lines,
            shipping_address=sub.shipping_address,
            shipping_charge=sub.shipping_charge,
            payments=sub.payments,
            placed_at=sub.placed_at,
        )
    ]


def _cancel(command: CancelOrder, state: OrderState) -> list[Event]:
    order_id = state.order_id
    if state.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) or state.shipments:
        shipments = ", ".join(s.shipment_id for s in state.shipments)
        raise Refusal(
            "cancellation_refused",
            f"order {order_id} has already shipped (shipment {shipments}); "
            "it can no longer be cancelled, only returned",
        )
    if state.cancellation is not None:
        raise Refusal(
            "cancellation_refused",
            f"order {order_id} is already cancelled ({state.cancellation.reason.value})",
        )
    if state.status is OrderStatus.PLACED:
        return [
            OrderCancelled(
                order_id=order_id,
                reason=command.reason,
                cancelled_by=command.cancelled_by,
                detail=command.detail,
            )
        ]
    # confirmed: fulfilment may have started, so it decides
    request = state.cancellation_request
    if request is not None and request.pending:
        return []  # asked already; the answer is on its way
    if request is not None and request.refusal is not None:
        # fulfilment refuses because something is packed, which cannot be undone
        raise Refusal(
            "cancellation_refused",
            f"order {order_id} can no longer be cancelled, only returned: {request.refusal}",
        )
    return [
        OrderCancellationRequested(
            order_id=order_id,
            reason=command.reason,
            cancelled_by=command.cancelled_by,
            detail=command.detail,
        )
    ]


def _answer(command: RecordCancellationAnswer, state: OrderState) -> list[Event]:
    """Fulfilment's answer to the pending request; nothing when none is pending."""
    request = state.cancellation_request
    if request is None or not state.cancellation_pending:
        return []  # a repeat, or the order was cancelled meanwhile (never twice)
    order_id = state.order_id
    if not command.accepted:
        return [
            OrderCancellationRefused(
                order_id=order_id, reason=_fit(command.reason or "refused by fulfilment")
            )
        ]
    if state.shipments:
        # never both shipped and cancelled, whatever fulfilment thought
        shipments = ", ".join(s.shipment_id for s in state.shipments)
        return [
            OrderCancellationRefused(
                order_id=order_id, reason=f"shipment {shipments} was already dispatched"
            )
        ]
    asked = request.request
    return [
        OrderCancelled(
            order_id=order_id,
            reason=asked.reason,
            cancelled_by=asked.cancelled_by,
            detail=asked.detail,
        )
    ]


def _feedback(command: GiveFeedback, state: OrderState) -> list[Event]:
    order_id = state.order_id
    if state.feedback is not None:
        raise Refusal("feedback_exists", f"order {order_id} already has feedback; it is taken once")
    if state.status not in DELIVERED_OR_RETURNED:
        raise Refusal(
            "feedback_not_allowed",
            f"order {order_id} is {state.status.value}; feedback is taken once it is delivered",
        )
    return [FeedbackReceived(order_id=order_id, rating=command.rating, comment=command.comment)]


def _record(command: Fact, state: OrderState) -> list[Event]:
    order_id = state.order_id
    match command:
        case RecordStock():
            if state.stock is command.status and command.reservation_id in (
                None,
                state.reservation_id,
            ):
                return []
            return [
                OrderStockRecorded(
                    order_id=order_id,
                    status=command.status,
                    reservation_id=command.reservation_id,
                    allocations=command.allocations,
                    shortages=command.shortages,
                )
            ]
        case RecordPayment():
            if _repeats(command, state):
                return []
            return [
                OrderPaymentRecorded(
                    order_id=order_id,
                    payment_id=command.payment_id,
                    method=command.method,
                    amount=command.amount,
                    status=command.status,
                    reason=command.reason,
                    provider_reference=command.provider_reference,
                )
            ]
        case RecordShipment():
            if state.shipment(command.shipment_id) is not None:
                return []
            return [
                OrderShipped(
                    order_id=order_id,
                    shipment_id=command.shipment_id,
                    warehouse_id=command.warehouse_id,
                    carrier=command.carrier,
                    tracking_number=command.tracking_number,
                    lines=command.lines,
                )
            ]
        case RecordDelivery():
            shipment = state.shipment(command.shipment_id)
            if shipment is not None and shipment.delivered:
                return []
            return [
                OrderDelivered(
                    order_id=order_id,
                    shipment_id=command.shipment_id,
                    carrier=command.carrier,
                    tracking_number=command.tracking_number,
                    delivered_at=command.delivered_at,
                )
            ]
        case RecordShortPick():
            if state.short_pick(command.fulfilment_id) is not None:
                return []
            return [
                OrderShortShipped(
                    order_id=order_id,
                    fulfilment_id=command.fulfilment_id,
                    warehouse_id=command.warehouse_id,
                    missing=command.missing,
                    remedy=command.remedy,
                )
            ]
        case RecordShipmentFailure():
            if command.shipment_id in state.failed_shipments:
                return []
            return [
                OrderShipmentFailed(
                    order_id=order_id,
                    shipment_id=command.shipment_id,
                    failure=command.failure,
                    detail=command.detail,
                )
            ]
        case RecordReturn():
            if state.returned(command.return_id) is not None:
                return []
            return [
                OrderReturnRecorded(
                    order_id=order_id,
                    return_id=command.return_id,
                    lines=command.lines,
                    refund_amount=command.refund_amount,
                    status=command.status,
                )
            ]
        case RecordCancellationAnswer():
            return _answer(command, state)
        case _:
            assert_never(command)


def _repeats(command: RecordPayment, state: OrderState) -> bool:
    """A one-off step (authorise, decline) already recorded for this payment.

    A void is not one-off: payments releases parts of an authorisation (a short pick's
    share, a lost cash-on-delivery parcel) as separate ``PaymentVoided`` events, and a
    redelivery of the same one is stopped by the inbox."""
    payment = state.payment(command.payment_id)
    if payment is None:
        return False
    return {
        OrderPaymentStatus.AUTHORIZED: payment.authorized,
        OrderPaymentStatus.DECLINED: payment.declined,
    }.get(command.status, False)


def _settle(state: OrderState) -> list[Event]:
    """Confirm or cancel an order that waits for stock and payment, once it can; cancel a
    confirmed one that has nothing left to ship."""
    if state.status is OrderStatus.CONFIRMED and state.nothing_to_ship:
        return [
            OrderCancelled(
                order_id=state.order_id,
                reason=CancellationReason.STOCK_UNAVAILABLE,
                cancelled_by=CancelledBy.SYSTEM,
                detail=short_pick_detail(state),
            )
        ]
    if state.status is not OrderStatus.PLACED or state.placed is None:
        return []
    order_id = state.order_id
    if state.stock is OrderStockStatus.UNAVAILABLE:
        return [
            OrderCancelled(
                order_id=order_id,
                reason=CancellationReason.STOCK_UNAVAILABLE,
                cancelled_by=CancelledBy.SYSTEM,
                detail=shortage_detail(state),
            )
        ]
    ordered = {p.payment_id for p in state.placed.payments}
    payments = [p for p in state.payments if p.payment_id in ordered]
    declined = [p for p in payments if p.declined]
    if declined:
        detail = "; ".join(
            f"payment {p.payment_id} ({p.method.value}) declined: {p.reason or 'no reason given'}"
            for p in declined
        )
        return [
            OrderCancelled(
                order_id=order_id,
                reason=CancellationReason.PAYMENT_DECLINED,
                cancelled_by=CancelledBy.SYSTEM,
                detail=_fit(detail),
            )
        ]
    if state.stock is OrderStockStatus.RESERVED and all(
        p.settled_for_confirmation for p in payments
    ):
        return [
            OrderConfirmed(
                order_id=order_id,
                allocations=state.allocations,
                shipping_address=state.placed.shipping_address,
            )
        ]
    return []


def shortage_detail(state: OrderState) -> str:
    """The shortages in words, e.g. ``"LIMITED-PRINT: requested 2, available 1"``."""
    parts = [f"{s.sku}: requested {s.requested}, available {s.available}" for s in state.shortages]
    return _fit("; ".join(parts) or "stock unavailable")


def short_pick_detail(state: OrderState) -> str:
    """The short picks in words, e.g. ``"short pick of ful-1 at wh-ams-1: MUG-ENAMEL-WHT 1"``."""
    parts = [
        f"short pick of {s.fulfilment_id} at {s.warehouse_id}: "
        + ", ".join(f"{sq.sku} {sq.quantity}" for sq in s.missing)
        for s in state.short_shipped
    ]
    return _fit("nothing left to ship; " + "; ".join(parts))


def _fit(text: str, limit: int = 2000) -> str:
    """Cut ``text`` to what a contract's free-text field holds."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
