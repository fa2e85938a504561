"""Handlers: load the streams, decide, append; one unit of work per message or request.

Consumer handlers take ``(uow, envelope, event)``; the HTTP commands take the uow and
their arguments and return what the API answers with.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from oms_events.contracts import (
    OrderCancelled,
    OrderPlaced,
    ShipmentDelivered,
    ShipmentDispatched,
)
from oms_events.envelope import Envelope
from oms_events.money import Money
from oms_payments.domain import billing, giftcard
from oms_payments.domain import payment as pay
from oms_payments.domain.commands import BillShipment, CancelBilling, CollectOnDelivery, OpenBilling
from oms_payments.domain.errors import NotFound, Refused
from oms_payments.streams import Session, gift_card_stream
from oms_platform.eventstore import UnitOfWork


def _session(uow: UnitOfWork, env: Envelope, order_id: str) -> Session:
    return Session(uow, correlation_id=order_id, causation_id=str(env.event_id))


async def open_billing(uow: UnitOfWork, env: Envelope, event: OrderPlaced) -> None:
    """An order was placed: take it on and request each payment's authorisation."""
    s = _session(uow, env, event.order_id)
    order = await s.billing(event.order_id)
    payments = await s.payments_of(order, extra=[p.payment_id for p in event.payments])
    cmd = OpenBilling(
        order_id=event.order_id,
        customer_email=event.customer.email,
        lines=event.lines,
        shipping_charge=event.shipping_charge,
        payments=event.payments,
    )
    s.record(billing.open_billing(cmd, order, payments))
    await s.flush()


async def cancel_billing(uow: UnitOfWork, env: Envelope, event: OrderCancelled) -> None:
    """An order was cancelled: ask for every payment of it to be released."""
    s = _session(uow, env, event.order_id)
    order = await s.billing(event.order_id)
    payments = await s.payments_of(order)
    # The detail is free text of up to 2000 characters; the reason is quoted in other
    # events' texts, which have the same limit.
    reason = event.reason.value + (f" ({event.detail[:200]})" if event.detail else "")
    s.record(billing.cancel_billing(CancelBilling(event.order_id, reason), order, payments))
    await s.flush()


async def bill_shipment(uow: UnitOfWork, env: Envelope, event: ShipmentDispatched) -> None:
    """A shipment was dispatched: bill its value and request the captures it makes due."""
    s = _session(uow, env, event.order_id)
    order = await s.billing(event.order_id)
    payments = await s.payments_of(order)
    cmd = BillShipment(event.order_id, event.shipment_id, event.lines)
    s.record(billing.bill_shipment(cmd, order, payments))
    await s.flush()


async def collect_on_delivery(uow: UnitOfWork, env: Envelope, event: ShipmentDelivered) -> None:
    """A shipment was delivered: request the capture of its cash-on-delivery share."""
    s = _session(uow, env, event.order_id)
    order = await s.billing(event.order_id)
    payments = await s.payments_of(order)
    cmd = CollectOnDelivery(event.order_id, event.shipment_id)
    s.record(billing.collect_on_delivery(cmd, order, payments))
    await s.flush()


@dataclass(frozen=True, slots=True)
class RefundAccepted:
    """A refund request as recorded; ``new`` is False when it was there already."""

    payment_id: str
    order_id: str
    refund_id: str
    amount: Money
    new: bool


async def request_refund(
    uow: UnitOfWork,
    *,
    payment_id: str,
    refund_id: str,
    amount: Decimal,
    currency: str | None,
    reason: str,
    actor: str,
    return_id: str | None = None,
) -> RefundAccepted:
    """Ask for (part of) a captured payment to be paid back; the worker pays it.

    Asking again with the same ``refund_id`` and amount returns the first request.
    """
    s = Session(uow, correlation_id=payment_id, causation_id=None, actor=actor)
    p = await s.payment(payment_id)
    if not p.exists:
        raise NotFound(f"payment {payment_id} is unknown")
    if currency is not None and currency != p.currency:
        raise Refused(f"payment {payment_id} is in {p.currency}, not {currency}")
    earlier = p.refunds_requested.get(refund_id)
    if earlier is not None and earlier != amount:
        raise Refused(f"refund {refund_id} was already requested for {earlier} {p.currency}")
    s.correlation_id = p.order_id
    events = pay.request_refund(p, refund_id, amount, reason, return_id)
    s.record(events)
    await s.flush()
    return RefundAccepted(payment_id, p.order_id, refund_id, p.money(amount), new=bool(events))


async def issue_gift_card(uow: UnitOfWork, *, code: str, balance: Money, actor: str) -> None:
    """Issue a gift card with its starting balance (refused if the code is taken)."""
    s = Session(uow, correlation_id=gift_card_stream(code), causation_id=None, actor=actor)
    card = await s.gift_card(code)
    s.record(giftcard.issue(card, balance))
    await s.flush()
