"""The order as ``GET /v1/orders/{id}`` shows it, folded from the order's stream (pure).

Built from the order's own events only, so it can be rebuilt at any moment in the past
(``as_of``): the caller passes the recorded events up to that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from oms_events.base import Event
from oms_events.contracts import (
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPaymentRecorded,
    OrderPlaced,
    OrderShipped,
    OrderStockRecorded,
)
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancellationRefused,
    OrderCancellationRequested,
    OrderReturnRecorded,
    OrderShipmentFailed,
    OrderShortShipped,
)
from oms_events.envelope import Envelope
from oms_events.money import Money
from oms_order.domain.order import order_decider
from oms_order.domain.state import OrderState, ShipmentState
from oms_platform.decider import fold

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recorded:
    """One event of the order's stream with what the store knows about it."""

    envelope: Envelope
    event: Event
    recorded_at: datetime


def money(value: Money | None) -> dict[str, str] | None:
    return None if value is None else value.model_dump(mode="json")


def order_document(records: Sequence[Recorded]) -> Doc:
    """The order after ``records`` (in stream order; at least the OrderPlaced)."""
    return document(fold(order_decider, (rec.event for rec in records)), records)


def document(state: OrderState, records: Sequence[Recorded]) -> Doc:
    placed = state.placed
    if placed is None:
        raise ValueError("the order does not exist")
    currency = placed.shipping_charge.currency
    lines_total = Money.total((line.line_total for line in placed.lines), currency)
    captured = Money.total((p.captured for p in state.payments if p.captured), currency)
    refunded = Money.total((p.refunded for p in state.payments if p.refunded), currency)
    authorized = Money.total((p.amount for p in state.payments if p.authorized), currency)
    return {
        "order_id": placed.order_id,
        "platform_order_ref": placed.platform_order_ref,
        "sales_channel": placed.sales_channel,
        "status": state.status.value,
        "customer": placed.customer.model_dump(mode="json"),
        "placed_at": placed.placed_at.isoformat(),
        "shipping_address": placed.shipping_address.model_dump(mode="json"),
        "lines": _lines(state),
        "totals": {
            "lines": money(lines_total),
            "shipping": money(placed.shipping_charge),
            "total": money(placed.total),
            "authorized": money(authorized),
            "captured": money(captured),
            "refunded": money(refunded),
        },
        "payments": [
            {
                "payment_id": p.payment_id,
                "method": p.method.value,
                "amount": money(p.amount),
                "status": p.status,
                "authorized": p.authorized,
                "captured": money(p.captured),
                "refunded": money(p.refunded),
                "voided": money(p.released),
                "reason": p.reason,
            }
            for p in state.payments
        ],
        "stock": {
            "status": state.stock.value if state.stock else "pending",
            "reservation_id": state.reservation_id,
            "shortages": [s.model_dump(mode="json") for s in state.shortages],
        },
        "allocations": [a.model_dump(mode="json") for a in state.allocations],
        "shipments": [_shipment(s) for s in state.shipments],
        "short_shipments": [
            {
                "fulfilment_id": e.fulfilment_id,
                "warehouse_id": e.warehouse_id,
                "missing": [sq.model_dump(mode="json") for sq in e.missing],
                "remedy": e.remedy.value,
                "at": at.isoformat(),
            }
            for e, at in _with_times(records, OrderShortShipped)
        ],
        "returns": [
            {
                "return_id": e.return_id,
                "lines": [sq.model_dump(mode="json") for sq in e.lines],
                "refund_amount": money(e.refund_amount),
                "status": e.status.value if e.status else None,
                "at": at.isoformat(),
            }
            for e, at in _with_times(records, OrderReturnRecorded)
        ],
        "feedback": _feedback(state, records),
        "cancellation": _cancellation(state, records),
        "version": state.version,
        "created_at": records[0].recorded_at.isoformat(),
        "updated_at": records[-1].recorded_at.isoformat(),
        "timeline": [timeline_entry(r) for r in records],
    }


def _lines(state: OrderState) -> list[Doc]:
    """The ordered lines, each with its short-shipped units (a SKU's short units are
    spread over its lines in order) and the remedy of the last short pick of the SKU."""
    assert state.placed is not None
    short = state.short_units()
    remedy = {sq.sku: e.remedy.value for e in state.short_shipped for sq in e.missing}
    lines = []
    for line in state.placed.lines:
        units = min(line.quantity, short.get(line.sku, 0))
        short[line.sku] = short.get(line.sku, 0) - units
        lines.append(
            {
                **line.model_dump(mode="json"),
                "line_total": money(line.line_total),
                "short_shipped": {"quantity": units, "remedy": remedy[line.sku]} if units else None,
            }
        )
    return lines


def _shipment(s: ShipmentState) -> Doc:
    return {
        "shipment_id": s.shipment_id,
        "warehouse_id": s.warehouse_id,
        "carrier": s.carrier,
        "tracking_number": s.tracking_number,
        "lines": [sq.model_dump(mode="json") for sq in s.lines],
        "delivered": s.delivered,
        "delivered_at": s.delivered_at.isoformat() if s.delivered_at else None,
        "failed": s.failure is not None,
        "failure": None
        if s.failure is None
        else {"failure": s.failure.value, "detail": s.failure_detail},
    }


E = TypeVar("E", bound=Event)


def _with_times(records: Sequence[Recorded], cls: type[E]) -> list[tuple[E, datetime]]:
    return [(r.event, r.recorded_at) for r in records if isinstance(r.event, cls)]


def _last(records: Sequence[Recorded], cls: type[Event]) -> Recorded | None:
    return next((r for r in reversed(records) if isinstance(r.event, cls)), None)


def _feedback(state: OrderState, records: Sequence[Recorded]) -> Doc | None:
    rec = _last(records, FeedbackReceived)
    if state.feedback is None or rec is None:
        return None
    return {
        "rating": state.feedback.rating,
        "comment": state.feedback.comment,
        "actor": rec.envelope.actor,
        "at": rec.recorded_at.isoformat(),
    }


def _cancellation(state: OrderState, records: Sequence[Recorded]) -> Doc | None:
    """``status`` requested (fulfilment to answer), refused (by fulfilment) or cancelled.

    ``actor`` is who asked: for a request fulfilment accepted, the requester (the
    ``OrderCancelled`` itself is the order service's); ``requested_at`` is set when the
    cancellation was a request.
    """
    request = state.cancellation_request
    asked = _last(records, OrderCancellationRequested)
    if state.cancellation is not None:
        done = _last(records, OrderCancelled)
        assert done is not None
        accepted = (
            request is not None
            and asked is not None
            and request.request.reason is state.cancellation.reason
            and request.request.cancelled_by is state.cancellation.cancelled_by
            and request.request.detail == state.cancellation.detail
        )
        return {
            "status": "cancelled",
            "reason": state.cancellation.reason.value,
            "cancelled_by": state.cancellation.cancelled_by.value,
            "detail": state.cancellation.detail,
            "actor": asked.envelope.actor if accepted and asked else done.envelope.actor,
            "requested_at": asked.recorded_at.isoformat() if accepted and asked else None,
            "at": done.recorded_at.isoformat(),
        }
    if request is None or asked is None:
        return None
    doc: Doc = {
        "status": "requested" if request.pending else "refused",
        "reason": request.request.reason.value,
        "cancelled_by": request.request.cancelled_by.value,
        "detail": request.request.detail,
        "actor": asked.envelope.actor,
        "requested_at": asked.recorded_at.isoformat(),
    }
    if not request.pending:
        refused = _last(records, OrderCancellationRefused)
        doc["refusal_reason"] = request.refusal
        doc["refused_at"] = refused.recorded_at.isoformat() if refused else None
    return doc


def timeline_entry(rec: Recorded) -> Doc:
    """One line of the order's history: what, when, who and why."""
    env = rec.envelope
    return {
        "type": env.type,
        "summary": summary(rec.event),
        "occurred_at": env.occurred_at.isoformat(),
        "recorded_at": rec.recorded_at.isoformat(),
        "actor": env.actor,
        "cause": env.causation_id,
        "event_id": str(env.event_id),
        "version": env.stream_version,
    }


def summary(event: Event) -> str:
    """A short sentence for the timeline."""
    match event:
        case OrderPlaced():
            return (
                f"placed from {event.sales_channel} order {event.platform_order_ref}: "
                f"{len(event.lines)} line(s), total {event.total}"
            )
        case OrderStockRecorded():
            if event.shortages:
                short = ", ".join(
                    f"{s.sku} {s.requested} wanted/{s.available} available" for s in event.shortages
                )
                return f"stock {event.status.value}: {short}"
            ref = f" ({event.reservation_id})" if event.reservation_id else ""
            return f"stock {event.status.value}{ref}"
        case OrderPaymentRecorded():
            why = f": {event.reason}" if event.reason else ""
            return (
                f"payment {event.payment_id} ({event.method.value}, {event.amount}) "
                f"{event.status.value}{why}"
            )
        case OrderConfirmed():
            return f"confirmed with {len(event.allocations)} allocation(s)"
        case OrderCancelled():
            detail = f": {event.detail}" if event.detail else ""
            return f"cancelled ({event.reason.value}) by {event.cancelled_by.value}{detail}"
        case OrderShipped():
            return (
                f"shipment {event.shipment_id} dispatched from {event.warehouse_id} "
                f"with {event.carrier} ({event.tracking_number})"
            )
        case OrderDelivered():
            return f"shipment {event.shipment_id} delivered"
        case OrderCancellationRequested():
            detail = f": {event.detail}" if event.detail else ""
            return (
                f"cancellation ({event.reason.value}) requested by "
                f"{event.cancelled_by.value}{detail}; fulfilment to answer"
            )
        case OrderCancellationRefused():
            return f"cancellation refused: {event.reason}"
        case OrderShortShipped():
            missing = ", ".join(f"{sq.sku} {sq.quantity}" for sq in event.missing)
            return (
                f"short pick in {event.warehouse_id} ({event.fulfilment_id}): {missing} "
                f"not found, {event.remedy.value.replace('_', '-')}"
            )
        case OrderShipmentFailed():
            why = f": {event.detail}" if event.detail else ""
            return f"shipment {event.shipment_id} {event.failure.value.replace('_', ' ')}{why}"
        case OrderReturnRecorded():
            units = sum(sq.quantity for sq in event.lines)
            status = f", order {event.status.value}" if event.status else ""
            return (
                f"return {event.return_id} resolved: {units} unit(s) accepted, "
                f"refund {event.refund_amount}{status}"
            )
        case FeedbackReceived():
            return f"feedback: {event.rating}/5" + (" with a comment" if event.comment else "")
    return event.event_type


def summary_row(state: OrderState) -> Doc:
    """The ``orders`` table row of an order (the lookup read model)."""
    placed = state.placed
    if placed is None:
        raise ValueError("the order does not exist")
    total = placed.total
    return {
        "order_id": placed.order_id,
        "platform_order_ref": placed.platform_order_ref,
        "sales_channel": placed.sales_channel,
        "status": state.status.value,
        "customer_id": placed.customer.customer_id,
        "customer_email": placed.customer.email,
        "total_amount": total.amount,
        "currency": total.currency,
        "placed_at": placed.placed_at,
        "version": state.version,
    }
