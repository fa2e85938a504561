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

from decimal import Decimal
from typing import assert_never

from oms_events.base import Event
from oms_events.contracts import (
    BilledPayment,
    OrderBillingCancelled,
    OrderBillingOpened,
    Payment,
    PaymentAuthorizationRequested,
    ShipmentBilled,
)
from oms_payments.domain import payment as pay
from oms_payments.domain import settlement
from oms_payments.domain.billing_state import (
    ZERO,
    Billing,
    OrderBilling,
    count_units,
    evolve,
    folded,
)
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
    ReverseShipment,
    WaiveUnits,
)
from oms_payments.domain.methods import CaptureMoment, billing_rank, capture_moment
from oms_payments.domain.payment import PaymentState, Phase
from oms_platform.decider import Decision
from oms_platform.refusal import Refusal


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
            return settlement.waive(command, state)
        case ReverseShipment():
            return settlement.reverse(command, state)
        case RefundReturn():
            return settlement.refund_return(command, state)
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
            gift_card=p.gift_card,
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
    _, value, _ = count_units(billing, cmd.lines, billing.billed_units)
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
    after = folded(state, events)
    if cmd.shipment_id in billing.reversed:
        events += settlement.pay_back_shipment(cmd.shipment_id, after)
    return events + settlement.release_unbilled(folded(state, events))


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


# -- valuation and split -----------------------------------------------------------------


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
