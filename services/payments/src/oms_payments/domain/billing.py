"""An order as the payments service sees it: what it owes and which payments pay for it.

The order's billing stream knows its lines and shipping charge, its payments, each
shipment's value and how it was split over the payments, and whether the order was
cancelled. Decisions here touch the billing stream and the payments' streams together.

How a shipment is paid for:

* its value is the unit price of each shipped unit, taken from the order's lines in their
  order (units beyond what was ordered are not charged); the shipping charge is billed
  whole with the order's first shipment;
* the payments cover the order's running billed total in a fixed sequence (see
  :func:`oms_payments.domain.methods.billing_rank`): up-front payments first, then gift
  cards, then the other methods in the order's own sequence, cash on delivery last. Each
  shipment takes, from each payment, the growth of what that payment covers; so split
  shipments together capture exactly the payments' amounts, with no rounding anywhere;
* a share of an on-dispatch payment is captured at once, a cash-on-delivery share when
  that shipment is delivered; up-front payments were captured when the order was placed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from oms_events.base import Event
from oms_events.contracts import (
    BilledPayment,
    OrderBillingCancelled,
    OrderBillingOpened,
    OrderLine,
    Payment,
    PaymentAuthorizationRequested,
    ShipmentBilled,
    SkuQuantity,
)
from oms_events.money import Money
from oms_payments.domain import payment as pay
from oms_payments.domain.commands import BillShipment, CancelBilling, CollectOnDelivery, OpenBilling
from oms_payments.domain.errors import NotReady, Refused
from oms_payments.domain.methods import CaptureMoment, billing_rank, capture_moment
from oms_payments.domain.payment import PaymentState, Phase

ZERO = Decimal(0)
Payments = Mapping[str, PaymentState]
"""The current state of each payment of the order, by payment id."""


@dataclass(frozen=True, slots=True)
class Billing:
    order_id: str
    opened: bool = False
    cancelled: str | None = None
    customer_email: str = ""
    currency: str = "EUR"
    lines: tuple[OrderLine, ...] = ()
    shipping_charge: Decimal = ZERO
    payments: tuple[Payment, ...] = ()
    shipments: Mapping[str, ShipmentBilled] = field(default_factory=dict)
    billed_units: Mapping[str, int] = field(default_factory=dict)
    """Order line id -> units billed so far."""

    @property
    def billed_total(self) -> Decimal:
        return sum((s.amount.amount for s in self.shipments.values()), ZERO)

    @property
    def payment_ids(self) -> list[str]:
        return [p.payment_id for p in self.payments]

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)


def evolve(billing: Billing, event: Event) -> Billing:
    match event:
        case OrderBillingOpened():
            return replace(
                billing,
                opened=True,
                customer_email=event.customer_email,
                currency=event.shipping_charge.currency,
                lines=event.lines,
                shipping_charge=event.shipping_charge.amount,
                payments=event.payments,
            )
        case OrderBillingCancelled():
            return replace(billing, cancelled=event.reason)
        case ShipmentBilled():
            units, _ = _units_and_value(billing, event.lines)
            return replace(
                billing,
                shipments=MappingProxyType({**billing.shipments, event.shipment_id: event}),
                billed_units=MappingProxyType(units),
            )
    return billing


# -- decisions ---------------------------------------------------------------------------


def open_billing(cmd: OpenBilling, billing: Billing, payments: Payments) -> list[Event]:
    """Take on a placed order and ask for each payment's authorisation.

    If the cancellation was handled first, every payment is cancelled straight away.
    """
    if billing.opened:
        return []
    for p in cmd.payments:
        taken = payments.get(p.payment_id)
        if taken is not None and taken.exists:
            raise Refused(f"payment id {p.payment_id} already belongs to order {taken.order_id}")
    events: list[Event] = [
        OrderBillingOpened(
            order_id=cmd.order_id,
            customer_email=cmd.customer_email,
            lines=cmd.lines,
            shipping_charge=cmd.shipping_charge,
            payments=cmd.payments,
        )
    ]
    for p in cmd.payments:
        request = PaymentAuthorizationRequested(
            order_id=cmd.order_id,
            payment_id=p.payment_id,
            method=p.method,
            amount=p.amount,
            customer_email=cmd.customer_email,
            gift_card_code=p.gift_card_code,
        )
        events.append(request)
        if billing.cancelled:
            state = pay.evolve(PaymentState(payment_id=p.payment_id), request)
            events += pay.prevented(replace(state, cancellation=billing.cancelled))
    return events


def cancel_billing(cmd: CancelBilling, billing: Billing, payments: Payments) -> list[Event]:
    """Record the cancellation and ask for every live payment to be released."""
    if billing.cancelled:
        return []
    events: list[Event] = [OrderBillingCancelled(order_id=cmd.order_id, reason=cmd.reason)]
    for payment_id in billing.payment_ids:
        events += pay.request_cancellation(payments[payment_id], cmd.reason)
    return events


def bill_shipment(cmd: BillShipment, billing: Billing, payments: Payments) -> list[Event]:
    """Value a dispatched shipment, split it over the payments, ask for the captures due."""
    if not billing.opened:
        raise NotReady(f"order {cmd.order_id} is not known to payments yet")
    if cmd.shipment_id in billing.shipments:
        return []
    if billing.cancelled:
        raise Refused(f"order {cmd.order_id} was cancelled ({billing.cancelled}); nothing to bill")
    _, value = _units_and_value(billing, cmd.lines)
    shipping = ZERO if billing.shipments else billing.shipping_charge
    amount = value + shipping
    shares = _shares(billing, billing.billed_total, amount)
    events: list[Event] = [
        ShipmentBilled(
            order_id=cmd.order_id,
            shipment_id=cmd.shipment_id,
            lines=cmd.lines,
            amount=billing.money(amount),
            shipping_charge=billing.money(shipping),
            payments=tuple(
                BilledPayment(payment_id=p.payment_id, method=p.method, amount=billing.money(s))
                for p, s in shares
            ),
        )
    ]
    for p, share in shares:
        state = payments[p.payment_id]
        if state.phase is Phase.REQUESTED:
            raise NotReady(f"payment {p.payment_id} is not authorised yet")
        if capture_moment(p.method) is CaptureMoment.ON_DISPATCH:
            events += pay.request_capture(state, cmd.shipment_id, share)
        elif state.phase is not Phase.AUTHORISED:
            raise Refused(f"payment {p.payment_id} is {state.phase.value}; it cannot pay")
    return events


def collect_on_delivery(
    cmd: CollectOnDelivery, billing: Billing, payments: Payments
) -> list[Event]:
    """The courier collected cash for a delivered shipment: capture the COD shares."""
    cod = [p for p in billing.payments if capture_moment(p.method) is CaptureMoment.ON_DELIVERY]
    if not cod:
        return []
    billed = billing.shipments.get(cmd.shipment_id)
    if billed is None:
        raise NotReady(f"shipment {cmd.shipment_id} of order {cmd.order_id} was not billed")
    events: list[Event] = []
    for share in billed.payments:
        if capture_moment(share.method) is CaptureMoment.ON_DELIVERY:
            state = payments[share.payment_id]
            events += pay.request_capture(state, cmd.shipment_id, share.amount.amount)
    return events


# -- valuation and split -----------------------------------------------------------------


def _units_and_value(
    billing: Billing, shipped: Sequence[SkuQuantity]
) -> tuple[dict[str, int], Decimal]:
    """Units billed per line after ``shipped``, and the value of ``shipped``."""
    units = dict(billing.billed_units)
    value = ZERO
    for item in shipped:
        left = item.quantity
        for line in billing.lines:
            if line.sku != item.sku or left == 0:
                continue
            take = min(left, line.quantity - units.get(line.line_id, 0))
            if take > 0:
                units[line.line_id] = units.get(line.line_id, 0) + take
                value += line.unit_price.amount * take
                left -= take
    return units, value


def _shares(billing: Billing, before: Decimal, amount: Decimal) -> list[tuple[Payment, Decimal]]:
    """What each payment pays of ``amount`` billed on top of ``before``; zero shares left out."""
    ranked = sorted(enumerate(billing.payments), key=lambda ip: (billing_rank(ip[1].method), ip[0]))
    shares = []
    start = ZERO
    for _, p in ranked:
        cap = p.amount.amount

        def covered(total: Decimal, start: Decimal = start, cap: Decimal = cap) -> Decimal:
            return min(max(total - start, ZERO), cap)

        share = covered(before + amount) - covered(before)
        if share > 0:
            shares.append((p, share))
        start += cap
    return shares
