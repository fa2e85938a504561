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

What the rest of the order's life takes back (each rule exact, no rounding):

* **a short pick the shop refunds** (``OrderShortShipped``, remedy ``refund``) waives the
  missing units (``UnitsWaived``, once per fulfilment): they are never charged; units are
  counted against the order's lines in order, and a shipment is valued only for units
  neither billed nor waived. Remedy ``back_order`` records nothing (the units are charged
  when they ship), nor does a short pick of a cancelled order (the cancellation releases
  everything). **Once every ordered unit is billed or waived**, each payment's unbilled
  remainder -- its amount minus its shares of the shipments billed -- is released. As
  shares are cut in billing rank, the remainder falls on cash on delivery first, then
  the on-dispatch methods, gift cards, and up-front payments last. Card, PayPal and
  invoice: that much of the authorization is voided (``PaymentReleaseRequested`` release
  ``short`` -> a partial ``PaymentVoided``); a gift card is credited back the same way;
  cash on delivery: the remainder is voided, so it is never collected; iDEAL and bank
  transfer: refund ``rfd-short-<payment id>`` (of at most what is still refundable). If
  nothing shipped at all, the unbilled shipping charge is released with the rest. So the
  captures (net of those refunds) end equal to the dispatched lines plus shipping.
* **a parcel lost or returned to sender** (``OrderShipmentFailed``) reverses its billing
  (``ShipmentBillingReversed``, once per shipment): each share of its ``ShipmentBilled``
  whose capture was recorded or requested is refunded, refund ``rfd-<shipment id>-<payment
  id>`` (a gift card credited back); a cash-on-delivery share not collected yet is released
  instead (release ``fail-<shipment id>``) and a later delivery collects nothing. A failure
  that reaches payments before the shipment's dispatch is recorded and the shipment is
  reversed as soon as it is billed. Its units stay billed (a reshipment is not charged).
* **a resolved return** (``ReturnResolved``) refunds each ``MethodRefund``'s amount from its
  payment, refund ``rfd-<return id>-<payment id>``; a payment that is not the order's or
  cannot take the refund is refused (dead-lettered with the reason), never skipped.

Derived ids longer than an id may be are shortened to a prefix and a SHA-256 digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import assert_never

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
from oms_events.contracts.payments import ShipmentBillingReversed, UnitsWaived
from oms_events.limits import MAX_ID_LENGTH
from oms_events.money import Money
from oms_payments.domain import payment as pay
from oms_payments.domain.commands import (
    BillingCommand,
    BillShipment,
    CancelBilling,
    CollectOnDelivery,
    OpenBilling,
    PreventAuthorization,
    RefundReturn,
    RequestCancellation,
    RequestCapture,
    RequestRefund,
    RequestRelease,
    ReverseShipment,
    WaiveUnits,
)
from oms_payments.domain.methods import CaptureMoment, billing_rank, capture_moment
from oms_payments.domain.payment import PaymentState, Phase
from oms_platform.decider import Decision
from oms_platform.refusal import Refusal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Billing:
    """The order's own billing stream, folded."""

    order_id: str = ""
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
    waived: Mapping[str, UnitsWaived] = field(default_factory=dict)
    """Fulfilment id -> its short-picked units, waived."""
    waived_units: Mapping[str, int] = field(default_factory=dict)
    """Order line id -> units waived so far."""
    reversed: Mapping[str, ShipmentBillingReversed] = field(default_factory=dict)
    """Shipment id -> its reversal (a lost or returned parcel), billed or not yet."""

    @property
    def billed_total(self) -> Decimal:
        return sum((s.amount.amount for s in self.shipments.values()), ZERO)

    @property
    def settled(self) -> bool:
        """Every ordered unit is billed or waived: nothing more will be charged."""
        return bool(self.lines) and all(
            self.billed_units.get(line.line_id, 0) + self.waived_units.get(line.line_id, 0)
            >= line.quantity
            for line in self.lines
        )

    def billed_to(self, payment_id: str) -> Decimal:
        """The sum of a payment's shares of the shipments billed."""
        return sum(
            (
                share.amount.amount
                for s in self.shipments.values()
                for share in s.payments
                if share.payment_id == payment_id
            ),
            ZERO,
        )

    @property
    def payment_ids(self) -> list[str]:
        return [p.payment_id for p in self.payments]

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)


@dataclass(frozen=True, slots=True)
class OrderBilling:
    """What billing decisions need: the order's billing and the state of its payments.

    A billing decision touches the order's stream and its payments' streams together
    (opening requests each payment, a shipment requests captures), so its state is both;
    the handler loads them and routes each decided event to its own stream.
    """

    billing: Billing = field(default_factory=Billing)
    payments: Mapping[str, PaymentState] = field(default_factory=dict)
    """The state of each payment of the order (and of any payment id it names), by id."""

    def payment(self, payment_id: str) -> PaymentState:
        return self.payments.get(payment_id) or PaymentState(payment_id=payment_id)


def evolve_billing(billing: Billing, event: Event) -> Billing:
    """The order's billing after one event of its own stream."""
    match event:
        case OrderBillingOpened():
            return replace(
                billing,
                order_id=event.order_id,
                opened=True,
                customer_email=event.customer_email,
                currency=event.shipping_charge.currency,
                lines=event.lines,
                shipping_charge=event.shipping_charge.amount,
                payments=event.payments,
            )
        case OrderBillingCancelled():
            return replace(billing, order_id=event.order_id, cancelled=event.reason)
        case ShipmentBilled():
            units, _, _ = _count(billing, event.lines, billing.billed_units)
            return replace(
                billing,
                shipments=MappingProxyType({**billing.shipments, event.shipment_id: event}),
                billed_units=MappingProxyType(units),
            )
        case UnitsWaived():
            units, _, _ = _count(billing, event.lines, billing.waived_units)
            return replace(
                billing,
                waived=MappingProxyType({**billing.waived, event.fulfilment_id: event}),
                waived_units=MappingProxyType(units),
            )
        case ShipmentBillingReversed():
            return replace(
                billing,
                reversed=MappingProxyType({**billing.reversed, event.shipment_id: event}),
            )
    return billing


def evolve(state: OrderBilling, event: Event) -> OrderBilling:
    """Billing events move the billing, payment events the payment they name."""
    if isinstance(event, pay.PAYMENT_EVENTS):
        payment_id = str(getattr(event, "payment_id"))  # noqa: B009 (every one has it)
        moved = pay.evolve(state.payment(payment_id), event)
        return replace(state, payments=MappingProxyType({**state.payments, payment_id: moved}))
    return replace(state, billing=evolve_billing(state.billing, event))


def decide(command: BillingCommand, state: OrderBilling) -> Decision:
    match command:
        case OpenBilling():
            return _open(command, state)
        case CancelBilling():
            return _cancel(command, state)
        case BillShipment():
            return _bill_shipment(command, state)
        case CollectOnDelivery():
            return _collect_on_delivery(command, state)
        case WaiveUnits():
            return _waive(command, state)
        case ReverseShipment():
            return _reverse(command, state)
        case RefundReturn():
            return _refund_return(command, state)
        case _:
            assert_never(command)


class BillingDecider:
    """An order's billing with its payments, as a :class:`~oms_platform.decider.Decider`."""

    def initial_state(self) -> OrderBilling:
        return OrderBilling()

    def evolve(self, state: OrderBilling, event: Event) -> OrderBilling:
        return evolve(state, event)

    def decide(self, command: BillingCommand, state: OrderBilling) -> Decision:
        return decide(command, state)


billing_decider = BillingDecider()


# -- decisions ---------------------------------------------------------------------------


def _open(cmd: OpenBilling, state: OrderBilling) -> Decision:
    """Take on a placed order and ask for each payment's authorization.

    If the cancellation was handled first, every payment is cancelled straight away.
    """
    billing = state.billing
    if billing.opened:
        return []
    for p in cmd.payments:
        taken = state.payment(p.payment_id)
        if taken.exists:
            raise Refusal(
                "payment_id_in_use",
                f"payment id {p.payment_id} already belongs to order {taken.order_id}",
            )
    events: Decision = [
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
            requested = pay.evolve(PaymentState(), request)
            events += pay.decide(PreventAuthorization(billing.cancelled), requested)
    return events


def _cancel(cmd: CancelBilling, state: OrderBilling) -> Decision:
    """Record the cancellation and ask for every live payment to be released."""
    if state.billing.cancelled:
        return []
    events: Decision = [OrderBillingCancelled(order_id=cmd.order_id, reason=cmd.reason)]
    for payment_id in state.billing.payment_ids:
        events += pay.decide(RequestCancellation(cmd.reason), state.payment(payment_id))
    return events


def _bill_shipment(cmd: BillShipment, state: OrderBilling) -> Decision:
    """Value a dispatched shipment, split it over the payments, ask for the captures due."""
    billing = state.billing
    if not billing.opened:
        # Causally impossible for a live order: a shipment follows the confirmation, which
        # follows the authorizations this service recorded after opening the billing. So
        # the placement was dead-lettered (or never reached payments); waiting here would
        # only block the partition. Dead-lettered: replay it once the placement is handled.
        raise Refusal(
            "order_not_billed",
            f"order {cmd.order_id} is not known to payments (its OrderPlaced was not "
            "handled); replay this message once it is",
        )
    if cmd.shipment_id in billing.shipments:
        return []
    if billing.cancelled:
        raise Refusal(
            "order_cancelled",
            f"order {cmd.order_id} was cancelled ({billing.cancelled}); nothing to bill",
        )
    _, value, _ = _count(billing, cmd.lines, billing.billed_units)
    shipping = ZERO if billing.shipments else billing.shipping_charge
    amount = value + shipping
    shares = _shares(billing, billing.billed_total, amount)
    events: Decision = [
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
        payment = state.payment(p.payment_id)
        if payment.phase is not Phase.AUTHORIZED:
            # Also causally impossible (an order ships only once every payment is
            # authorized): a contradiction to look at, not something waiting can fix.
            raise Refusal(
                "payment_not_authorized",
                f"payment {p.payment_id} is {payment.phase.value}; it cannot pay for "
                f"shipment {cmd.shipment_id}",
            )
        if capture_moment(p.method) is CaptureMoment.ON_DISPATCH:
            events += pay.decide(RequestCapture(cmd.shipment_id, share), payment)
    after = _folded(state, events)
    if cmd.shipment_id in billing.reversed:
        events += _pay_back_shipment(cmd.shipment_id, after)
    return events + _release_unbilled(_folded(state, events))


def _collect_on_delivery(cmd: CollectOnDelivery, state: OrderBilling) -> Decision:
    """The courier collected cash for a delivered shipment: capture the COD shares."""
    billing = state.billing
    cod = [p for p in billing.payments if capture_moment(p.method) is CaptureMoment.ON_DELIVERY]
    if not cod:
        return []
    billed = billing.shipments.get(cmd.shipment_id)
    if billed is None:
        # The dispatch travels ahead of its delivery in the same partition: if it is not
        # billed by now it was dead-lettered, and waiting cannot bring it back.
        raise Refusal(
            "shipment_not_billed",
            f"shipment {cmd.shipment_id} of order {cmd.order_id} was not billed (its "
            "dispatch was not handled); replay this message after the dispatch",
        )
    if cmd.shipment_id in billing.reversed:
        return []  # reported lost or returned: its cash was never collected, nor will be
    events: Decision = []
    for share in billed.payments:
        if capture_moment(share.method) is CaptureMoment.ON_DELIVERY:
            payment = state.payment(share.payment_id)
            events += pay.decide(RequestCapture(cmd.shipment_id, share.amount.amount), payment)
    return events


def _waive(cmd: WaiveUnits, state: OrderBilling) -> Decision:
    """Waive a fulfilment's short-picked units; release the unbilled rest once settled."""
    billing = _require_opened(state.billing, cmd.order_id)
    if billing.cancelled or cmd.fulfilment_id in billing.waived:
        return []
    _, value, taken = _count(billing, cmd.missing, billing.waived_units)
    if not taken:
        return []  # every such unit is billed or waived already: nothing to take back
    events: Decision = [
        UnitsWaived(
            order_id=cmd.order_id,
            fulfilment_id=cmd.fulfilment_id,
            lines=tuple(taken),
            amount=billing.money(value),
        )
    ]
    return events + _release_unbilled(_folded(state, events))


def _reverse(cmd: ReverseShipment, state: OrderBilling) -> Decision:
    """Record a failed parcel and pay back its shares (at once if it is billed)."""
    billing = _require_opened(state.billing, cmd.order_id)
    if cmd.shipment_id in billing.reversed:
        return []
    events: Decision = [
        ShipmentBillingReversed(
            order_id=cmd.order_id, shipment_id=cmd.shipment_id, failure=cmd.failure
        )
    ]
    if cmd.shipment_id in billing.shipments:
        events += _pay_back_shipment(cmd.shipment_id, _folded(state, events))
    return events


def _refund_return(cmd: RefundReturn, state: OrderBilling) -> Decision:
    """One refund per payment of a resolved return, each of exactly its amount."""
    billing = _require_opened(state.billing, cmd.order_id)
    events: Decision = []
    for refund in cmd.refunds:
        if refund.payment_id not in billing.payment_ids:
            raise Refusal(
                "payment_not_of_order",
                f"return {cmd.return_id}: payment {refund.payment_id} is not a payment of "
                f"order {cmd.order_id}",
            )
        request = RequestRefund(
            payment_id=refund.payment_id,
            refund_id=derived_id("rfd", cmd.return_id, refund.payment_id),
            amount=refund.amount.amount,
            reason=f"return {cmd.return_id}",
            currency=refund.amount.currency,
            return_id=cmd.return_id,
        )
        events += pay.decide(request, _folded(state, events).payment(refund.payment_id))
    return events


def _pay_back_shipment(shipment_id: str, state: OrderBilling) -> Decision:
    """Refund each captured (or capture-requested) share of a billed shipment; release a
    cash-on-delivery share that was never collected."""
    billed = state.billing.shipments[shipment_id]
    events: Decision = []
    for share in billed.payments:
        payment = _folded(state, events).payment(share.payment_id)
        amount = share.amount.amount
        up_front = capture_moment(share.method) is CaptureMoment.AT_ORDER
        collected = up_front or shipment_id in payment.captures_requested
        if collected:
            request = RequestRefund(
                payment_id=share.payment_id,
                refund_id=derived_id("rfd", shipment_id, share.payment_id),
                amount=amount,
                reason=f"shipment {shipment_id} failed",
                shipment_id=shipment_id,
            )
            events += pay.decide(request, payment)
        else:
            reason = f"shipment {shipment_id} failed: its cash on delivery is not collected"
            events += pay.decide(RequestRelease(f"fail-{shipment_id}", amount, reason), payment)
    return events


SHORT_RELEASE = "short"
"""The release id of the unbilled remainder of a short-picked order (one per payment)."""


def short_refund_id(payment_id: str) -> str:
    return derived_id("rfd-short", payment_id)


def _release_unbilled(state: OrderBilling) -> Decision:
    """Once every unit is billed or waived, release what each payment has left unbilled."""
    billing = state.billing
    if billing.cancelled or not billing.waived or not billing.settled:
        return []
    events: Decision = []
    for p in billing.payments:
        left = p.amount.amount - billing.billed_to(p.payment_id)
        payment = state.payment(p.payment_id)
        if left <= 0 or payment.phase is not Phase.AUTHORIZED:
            continue
        reason = "short-picked units not shipped"
        if capture_moment(p.method) is CaptureMoment.AT_ORDER:
            refund_id = short_refund_id(p.payment_id)
            amount = min(left, payment.refundable)
            if refund_id in payment.refunds_requested or amount <= 0:
                continue
            events += pay.decide(RequestRefund(p.payment_id, refund_id, amount, reason), payment)
        else:
            events += pay.decide(RequestRelease(SHORT_RELEASE, left, reason), payment)
    return events


def derived_id(prefix: str, *parts: str) -> str:
    """``prefix-part-part``, or ``prefix-<digest>`` when that is longer than an id may be."""
    joined = "-".join((prefix, *parts))
    if len(joined) <= MAX_ID_LENGTH:
        return joined
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{prefix}-{digest}"


def _require_opened(billing: Billing, order_id: str) -> Billing:
    if not billing.opened:
        # Its OrderPlaced comes first on the same partition: it was dead-lettered.
        raise Refusal(
            "order_not_billed",
            f"order {order_id} is not known to payments (its OrderPlaced was not handled); "
            "replay this message once it is",
        )
    return billing


def _folded(state: OrderBilling, events: Sequence[Event]) -> OrderBilling:
    for event in events:
        state = evolve(state, event)
    return state


# -- valuation and split -----------------------------------------------------------------


def _count(
    billing: Billing, items: Sequence[SkuQuantity], counted: Mapping[str, int]
) -> tuple[dict[str, int], Decimal, list[SkuQuantity]]:
    """``counted`` (billed or waived units per line) after ``items``, their value, and the
    units taken (per SKU). A line takes only units it has neither billed nor waived."""
    units = dict(counted)
    value = ZERO
    taken: dict[str, int] = {}
    for item in items:
        left = item.quantity
        for line in billing.lines:
            if line.sku != item.sku or left == 0:
                continue
            done = billing.billed_units.get(line.line_id, 0) + billing.waived_units.get(
                line.line_id, 0
            )
            done += units.get(line.line_id, 0) - counted.get(line.line_id, 0)
            take = min(left, line.quantity - done)
            if take > 0:
                units[line.line_id] = units.get(line.line_id, 0) + take
                value += line.unit_price.amount * take
                taken[item.sku] = taken.get(item.sku, 0) + take
                left -= take
    return units, value, [SkuQuantity(sku=sku, quantity=q) for sku, q in taken.items()]


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
