"""Handlers: load the streams, decide, append; one unit of work per message or request.

Consumer handlers take ``(uow, envelope, event)``; the HTTP commands take the uow, their
command and who asked, and return what the API answers with. Refusals propagate as
:class:`~oms_platform.refusal.Refusal` (a dead letter with its code, or a problem body).
"""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.contracts import (
    OrderCancelled,
    OrderPlaced,
    ShipmentDelivered,
    ShipmentDispatched,
)
from oms_events.contracts.order import OrderShipmentFailed, OrderShortShipped, ShortShipRemedy
from oms_events.contracts.returns import ReturnResolved
from oms_events.envelope import Envelope
from oms_events.money import Money
from oms_payments.domain.billing import billing_decider
from oms_payments.domain.commands import (
    BillingCommand,
    BillShipment,
    CancelBilling,
    CollectOnDelivery,
    IssueGiftCard,
    OpenBilling,
    RefundReturn,
    RequestRefund,
    ReverseShipment,
    WaiveUnits,
)
from oms_payments.domain.giftcard import gift_card_decider
from oms_payments.domain.payment import payment_decider
from oms_payments.streams import Session, gift_card_stream
from oms_platform.eventstore import UnitOfWork


async def open_billing(uow: UnitOfWork, env: Envelope, event: OrderPlaced) -> None:
    """An order was placed: take it on and request each payment's authorization."""
    cmd = OpenBilling(
        order_id=event.order_id,
        customer_email=event.customer.email,
        lines=event.lines,
        shipping_charge=event.shipping_charge,
        payments=event.payments,
    )
    await _bill(uow, env, cmd, extra=[p.payment_id for p in event.payments])


async def cancel_billing(uow: UnitOfWork, env: Envelope, event: OrderCancelled) -> None:
    """An order was cancelled: ask for every payment of it to be released."""
    # The detail is free text of up to 2000 characters; the reason is quoted in other
    # events' texts, which have the same limit.
    reason = event.reason.value + (f" ({event.detail[:200]})" if event.detail else "")
    await _bill(uow, env, CancelBilling(event.order_id, reason))


async def bill_shipment(uow: UnitOfWork, env: Envelope, event: ShipmentDispatched) -> None:
    """A shipment was dispatched: bill its value and request the captures it makes due."""
    await _bill(uow, env, BillShipment(event.order_id, event.shipment_id, event.lines))


async def collect_on_delivery(uow: UnitOfWork, env: Envelope, event: ShipmentDelivered) -> None:
    """A shipment was delivered: request the capture of its cash-on-delivery share."""
    await _bill(uow, env, CollectOnDelivery(event.order_id, event.shipment_id))


async def waive_short_pick(uow: UnitOfWork, env: Envelope, event: OrderShortShipped) -> None:
    """Units were short-picked: a refunded short pick is waived (never charged) and, once
    every unit is billed or waived, what the payments have left unbilled is released.
    A back-order changes nothing: the units are charged when they ship."""
    if event.remedy is ShortShipRemedy.BACK_ORDER:
        return
    await _bill(uow, env, WaiveUnits(event.order_id, event.fulfilment_id, event.missing))


async def reverse_shipment(uow: UnitOfWork, env: Envelope, event: OrderShipmentFailed) -> None:
    """A parcel was lost or came back: pay back what its payments paid for it."""
    await _bill(uow, env, ReverseShipment(event.order_id, event.shipment_id, event.failure))


async def refund_return(uow: UnitOfWork, env: Envelope, event: ReturnResolved) -> None:
    """A return was resolved: request each payment's refund (the worker pays them)."""
    if not event.refunds:
        return
    cmd = RefundReturn(event.order_id, event.return_id, event.refunds)
    await _bill(uow, env, cmd)


async def _bill(
    uow: UnitOfWork, env: Envelope, cmd: BillingCommand, extra: list[str] | None = None
) -> None:
    s = Session(uow, correlation_id=cmd.order_id, causation_id=str(env.event_id))
    state = await s.order_billing(cmd.order_id, extra or [])
    s.record(billing_decider.decide(cmd, state))
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
    uow: UnitOfWork, cmd: RequestRefund, *, actor: str, cause: str | None
) -> RefundAccepted:
    """Ask for (part of) a captured payment to be paid back; the worker pays it.

    Asking again with the same ``refund_id`` and amount returns the first request.
    """
    s = Session(uow, correlation_id=cmd.payment_id, causation_id=cause, actor=actor)
    p = await s.payment(cmd.payment_id)
    events = payment_decider.decide(cmd, p)
    # The order id, the correlation of every event of the order, is known only now.
    s.correlation_id = p.order_id
    s.record(events)
    await s.flush()
    return RefundAccepted(
        cmd.payment_id, p.order_id, cmd.refund_id, p.money(cmd.amount), new=bool(events)
    )


async def issue_gift_card(
    uow: UnitOfWork, cmd: IssueGiftCard, *, actor: str, cause: str | None
) -> None:
    """Issue a gift card with its starting balance (refused if the card exists)."""
    s = Session(uow, correlation_id=gift_card_stream(cmd.card), causation_id=cause, actor=actor)
    card = await s.gift_card(cmd.card)
    s.record(gift_card_decider.decide(cmd, card))
    await s.flush()
