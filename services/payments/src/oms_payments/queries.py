"""Reads of the HTTP API: views folded from the event store, with parked provider calls.

Each raises :class:`~oms_platform.refusal.Refusal` ``not_found`` (404) for what is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms_payments import views
from oms_payments.calls import ProviderCalls
from oms_payments.streams import billing_stream, gift_card_stream, payment_stream
from oms_platform.eventstore import EventStore
from oms_platform.refusal import Refusal


@dataclass(frozen=True, slots=True)
class Reads:
    """What the queries read: the event store and the provider call log."""

    store: EventStore
    calls: ProviderCalls


async def payment(reads: Reads, payment_id: str) -> views.Doc:
    """A payment: amounts, status, provider, parked calls and history."""
    doc = await _payment(reads, payment_id)
    if doc is None:
        raise Refusal.not_found("not_found", f"payment {payment_id} is unknown")
    return doc


async def order_payments(reads: Reads, order_id: str) -> views.Doc:
    """Every payment of an order, what each shipment billed, and the totals."""
    records = await reads.store.read_stream(billing_stream(order_id))
    if not records:
        raise Refusal.not_found("not_found", f"order {order_id} is unknown")
    order = views.billing_of(order_id, records)
    docs = [doc for pid in order.payment_ids if (doc := await _payment(reads, pid)) is not None]
    return views.order_payments_view(order, docs)


async def gift_card(reads: Reads, card: str) -> views.Doc:
    """A gift card's balance and its debits and credits, by the card's token."""
    doc = views.gift_card_view(card, await reads.store.read_stream(gift_card_stream(card)))
    if doc is None:
        raise Refusal.not_found("not_found", "no gift card has this token")
    return doc


async def reconciliations(reads: Reads, limit: int) -> views.Doc:
    """Provider calls parked for reconciliation, oldest first."""
    parked = await reads.calls.parked(limit=limit)
    return {"reconciliations": [call.as_doc() for call in parked]}


async def _payment(reads: Reads, payment_id: str) -> views.Doc | None:
    records = await reads.store.read_stream(payment_stream(payment_id))
    if not records:
        return None
    parked = await reads.calls.parked(payment_id=payment_id)
    return views.payment_view(payment_id, records, parked)
