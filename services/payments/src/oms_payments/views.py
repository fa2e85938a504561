"""JSON views of a payment, an order's payments and a gift card, folded from their streams.

A payment's stream holds a handful of events, so the views are computed on request from
the event store: always current (read-your-writes for the HTTP API), nothing to rebuild.
Pure functions over recorded events; :mod:`oms_payments.queries` does the reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from oms_events.base import Event
from oms_events.registry import registry
from oms_payments.calls import CallRecord
from oms_payments.domain.billing_state import Billing, evolve_billing
from oms_payments.domain.giftcard import GiftCard, gift_card_decider
from oms_payments.domain.payment import PaymentState, Phase, payment_decider
from oms_platform.decider import fold_from
from oms_platform.eventstore import RecordedEvent

Doc = dict[str, Any]
_IDS = ("order_id", "payment_id", "method")


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": format(amount, "f"), "currency": currency}


def status(p: PaymentState, parked: bool = False) -> str:
    """One word for where a payment stands (its amounts tell the detail)."""
    if parked:
        return "reconciliation_required"
    if p.phase is not Phase.AUTHORIZED:
        return {Phase.REQUESTED: "pending"}.get(p.phase, p.phase.value)
    if p.refunded > 0:
        return "refunded" if p.refunded == p.captured else "partially_refunded"
    if p.captured > 0:
        return "captured" if p.open_authorization == 0 else "partially_captured"
    if p.voided > 0:
        return "voided"
    return "authorized"


def _events(records: Sequence[RecordedEvent]) -> list[Event]:
    return [registry.parse(rec.envelope) for rec in records]


def billing_of(order_id: str, records: Sequence[RecordedEvent]) -> Billing:
    billing = Billing(order_id=order_id)
    for event in _events(records):
        billing = evolve_billing(billing, event)
    return billing


def payment_view(
    payment_id: str, records: Sequence[RecordedEvent], parked: Sequence[CallRecord] = ()
) -> Doc | None:
    """A payment's amounts, status, provider and history; None if there is no such payment.

    ``parked`` are its provider calls parked for reconciliation (the provider never
    answered them): shown under ``reconciliation`` and as the status.
    """
    if not records:
        return None
    initial = PaymentState(payment_id=payment_id)
    state = fold_from(payment_decider, initial, _events(records))
    c = state.currency
    return {
        "payment_id": state.payment_id,
        "order_id": state.order_id,
        "method": state.method.value,
        "status": status(state, parked=bool(parked)),
        "amount": money(state.amount, c),
        "authorized": money(state.authorized, c),
        "captured": money(state.captured, c),
        "voided": money(state.voided, c),
        "refunded": money(state.refunded, c),
        "refund_pending": money(state.refund_pending, c),
        "capturable": money(state.open_authorization, c),
        "refundable": money(state.refundable, c),
        "provider": state.provider,
        "provider_reference": state.reference,
        "decline_reason": state.decline,
        "cancellation": state.cancellation,
        "gift_card": state.gift_card,
        "reconciliation": [call.as_doc() for call in parked],
        "history": _history(records, skip=_IDS),
    }


def order_payments_view(order: Billing, payments: Iterable[Doc]) -> Doc:
    """What an order owes, how each shipment was billed, and each payment's view."""
    c = order.currency
    docs = list(payments)
    due = sum((line.line_total.amount for line in order.lines), order.shipping_charge)

    def total(field: str) -> dict[str, str]:
        return money(sum((Decimal(d[field]["amount"]) for d in docs), Decimal(0)), c)

    return {
        "order_id": order.order_id,
        "cancelled": order.cancelled,
        "total": money(due, c) if order.opened else None,
        "billed": money(order.billed_total, c),
        "shipments": [
            {
                "shipment_id": s.shipment_id,
                "amount": s.amount.model_dump(mode="json"),
                "shipping_charge": s.shipping_charge.model_dump(mode="json"),
                "payments": [p.model_dump(mode="json") for p in s.payments],
            }
            for s in order.shipments.values()
        ],
        "totals": {f: total(f) for f in ("authorized", "captured", "voided", "refunded")},
        "payments": docs,
    }


def gift_card_view(card: str, records: Sequence[RecordedEvent]) -> Doc | None:
    """A card's balance and history, by its token (there is no code in it to show)."""
    if not records:
        return None
    state = fold_from(gift_card_decider, GiftCard(card=card), _events(records))
    return {
        "card": state.card,
        "balance": money(state.balance, state.currency),
        "history": _history(records, skip=("card", "code")),
    }


def _history(records: Sequence[RecordedEvent], skip: Sequence[str]) -> list[Doc]:
    return [
        {
            "type": rec.envelope.type,
            "occurred_at": rec.envelope.occurred_at.isoformat(),
            "actor": rec.envelope.actor,
            **{k: v for k, v in rec.envelope.payload.items() if k not in skip},
        }
        for rec in records
    ]
