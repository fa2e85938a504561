"""What the rest of an order's life takes back from its payments: short-picked units waived
and the unbilled remainder released, failed parcels paid back, resolved returns refunded.

The rules (amounts, ids, idempotency) are stated in :mod:`oms_payments.domain.billing`,
whose decider calls these decisions.
"""

from __future__ import annotations

import hashlib

from oms_events.contracts.payments import ShipmentBillingReversed, UnitsWaived
from oms_events.limits import MAX_ID_LENGTH
from oms_payments.domain import payment as pay
from oms_payments.domain.billing_state import Billing, OrderBilling, count_units, folded
from oms_payments.domain.commands import (
    RefundReturn,
    RequestRefund,
    RequestRelease,
    ReverseShipment,
    WaiveUnits,
)
from oms_payments.domain.methods import CaptureMoment, capture_moment
from oms_payments.domain.payment import Phase
from oms_platform.decider import Decision
from oms_platform.refusal import Refusal


def waive(cmd: WaiveUnits, state: OrderBilling) -> Decision:
    """Waive a fulfilment's short-picked units; release the unbilled rest once settled."""
    billing = require_opened(state.billing, cmd.order_id)
    if billing.cancelled or cmd.fulfilment_id in billing.waived:
        return []
    _, value, taken = count_units(billing, cmd.missing, billing.waived_units)
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
    return events + release_unbilled(folded(state, events))


def reverse(cmd: ReverseShipment, state: OrderBilling) -> Decision:
    """Record a failed parcel and pay back its shares (at once if it is billed)."""
    billing = require_opened(state.billing, cmd.order_id)
    if cmd.shipment_id in billing.reversed:
        return []
    events: Decision = [
        ShipmentBillingReversed(
            order_id=cmd.order_id, shipment_id=cmd.shipment_id, failure=cmd.failure
        )
    ]
    if cmd.shipment_id in billing.shipments:
        events += pay_back_shipment(cmd.shipment_id, folded(state, events))
    return events


def refund_return(cmd: RefundReturn, state: OrderBilling) -> Decision:
    """One refund per payment of a resolved return, each of exactly its amount."""
    billing = require_opened(state.billing, cmd.order_id)
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
        events += pay.decide(request, folded(state, events).payment(refund.payment_id))
    return events


def pay_back_shipment(shipment_id: str, state: OrderBilling) -> Decision:
    """Refund each captured (or capture-requested) share of a billed shipment; release a
    cash-on-delivery share that was never collected."""
    billed = state.billing.shipments[shipment_id]
    events: Decision = []
    for share in billed.payments:
        payment = folded(state, events).payment(share.payment_id)
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


def release_unbilled(state: OrderBilling) -> Decision:
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


def require_opened(billing: Billing, order_id: str) -> Billing:
    if not billing.opened:
        # Its OrderPlaced comes first on the same partition: it was dead-lettered.
        raise Refusal(
            "order_not_billed",
            f"order {order_id} is not known to payments (its OrderPlaced was not handled); "
            "replay this message once it is",
        )
    return billing
