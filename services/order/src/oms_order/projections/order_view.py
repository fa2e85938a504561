"""The order as ``GET /v1/orders/{id}`` shows it, folded from the order's stream (pure).

Built from the order's own events only, so it can be rebuilt at any moment in the past
(``as_of``): the caller passes the recorded events up to that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from oms_events.envelope import Envelope
from oms_events.money import Money
from oms_order.domain.order import order_decider
from oms_order.domain.state import OrderState
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
    cancellation = None
    if state.cancellation is not None:
        rec = next(r for r in reversed(records) if isinstance(r.event, OrderCancelled))
        cancellation = {
            "reason": state.cancellation.reason.value,
            "cancelled_by": state.cancellation.cancelled_by.value,
            "detail": state.cancellation.detail,
            "actor": rec.envelope.actor,
            "at": rec.recorded_at.isoformat(),
        }
    return {
        "order_id": placed.order_id,
        "platform_order_ref": placed.platform_order_ref,
        "sales_channel": placed.sales_channel,
        "status": state.status.value,
        "customer": placed.customer.model_dump(mode="json"),
        "placed_at": placed.placed_at.isoformat(),
        "shipping_address": placed.shipping_address.model_dump(mode="json"),
        "lines": [
            {**line.model_dump(mode="json"), "line_total": money(line.line_total)}
            for line in placed.lines
        ],
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
        "shipments": [
            {
                "shipment_id": s.shipment_id,
                "warehouse_id": s.warehouse_id,
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "lines": [sq.model_dump(mode="json") for sq in s.lines],
                "delivered": s.delivered,
            }
            for s in state.shipments
        ],
        "cancellation": cancellation,
        "version": state.version,
        "created_at": records[0].recorded_at.isoformat(),
        "updated_at": records[-1].recorded_at.isoformat(),
        "timeline": [timeline_entry(r) for r in records],
    }


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
