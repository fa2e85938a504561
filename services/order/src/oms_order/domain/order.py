"""The order aggregate: ``decide`` what a command produces given the order's state (pure).

Facts reported by other services are always recorded (so late ones show in the timeline)
unless they repeat what the order already knows; only an order still waiting for stock
and payment moves on them: to confirmed when stock is reserved and every payment of the
order is authorised, to cancelled as soon as stock or a payment fails.
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
from oms_order.domain.commands import (
    CancelOrder,
    Command,
    Fact,
    PlaceOrder,
    RecordDelivery,
    RecordPayment,
    RecordShipment,
    RecordStock,
)
from oms_order.domain.evolve import evolve
from oms_order.domain.state import OrderState, OrderStatus
from oms_platform.decider import fold_from
from oms_platform.refusal import Refusal


class OrderDecider:
    """The order aggregate (stream ``order-<order_id>``) as a platform ``Decider``.

    Refuses with :class:`~oms_platform.refusal.Refusal`: ``order_not_found`` (404) for a
    command about an order that was never placed, ``order_exists`` (409) for placing one
    twice, ``cancellation_refused`` (409) once shipped or already cancelled.
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
            case RecordStock() | RecordPayment() | RecordShipment() | RecordDelivery():
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
    return [
        OrderCancelled(
            order_id=order_id,
            reason=command.reason,
            cancelled_by=command.cancelled_by,
            detail=command.detail,
        )
    ]


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
        case _:
            assert_never(command)


def _repeats(command: RecordPayment, state: OrderState) -> bool:
    """A one-off step (authorise, decline, void) already recorded for this payment."""
    payment = state.payment(command.payment_id)
    if payment is None:
        return False
    return {
        OrderPaymentStatus.AUTHORIZED: payment.authorized,
        OrderPaymentStatus.DECLINED: payment.declined,
        OrderPaymentStatus.VOIDED: payment.voided,
    }.get(command.status, False)


def _settle(state: OrderState) -> list[Event]:
    """Confirm or cancel an order that waits for stock and payment, once it can."""
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


def _fit(text: str, limit: int = 2000) -> str:
    """Cut ``text`` to what a contract's free-text field holds."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
