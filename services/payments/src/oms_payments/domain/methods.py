"""What each payment method means for when its money is captured.

* card, PayPal, invoice (buy now, pay later) and gift card: authorized when the order is
  placed, captured when a shipment is dispatched (PayPal is handled like a card: an
  authorization held until dispatch, the common "authorize, capture later" PayPal flow);
* iDEAL and bank transfer: the shopper pays up front, so they are captured at order time;
* cash on delivery: "authorized" at order time (the shop accepts the obligation), captured
  when the carrier reports the parcel delivered (the cash changed hands).
"""

from __future__ import annotations

from enum import StrEnum

from oms_events.contracts import PaymentMethod


class CaptureMoment(StrEnum):
    """When a payment's money is collected."""

    AT_ORDER = "at_order"
    ON_DISPATCH = "on_dispatch"
    ON_DELIVERY = "on_delivery"


CAPTURE_MOMENT: dict[PaymentMethod, CaptureMoment] = {
    PaymentMethod.CARD: CaptureMoment.ON_DISPATCH,
    PaymentMethod.IDEAL: CaptureMoment.AT_ORDER,
    PaymentMethod.PAYPAL: CaptureMoment.ON_DISPATCH,
    PaymentMethod.BANK_TRANSFER: CaptureMoment.AT_ORDER,
    PaymentMethod.GIFT_CARD: CaptureMoment.ON_DISPATCH,
    PaymentMethod.INVOICE: CaptureMoment.ON_DISPATCH,
    PaymentMethod.CASH_ON_DELIVERY: CaptureMoment.ON_DELIVERY,
}


def capture_moment(method: PaymentMethod) -> CaptureMoment:
    return CAPTURE_MOMENT[method]


def billing_rank(method: PaymentMethod) -> int:
    """The order in which payments cover a shipment's value (lowest first).

    Money already collected (up front) is used first, then gift card balance (already
    taken from the card), then authorizations, and cash on delivery last, so that the
    courier collects only what nothing else pays.
    """
    if method is PaymentMethod.GIFT_CARD:
        return 1
    return {
        CaptureMoment.AT_ORDER: 0,
        CaptureMoment.ON_DISPATCH: 2,
        CaptureMoment.ON_DELIVERY: 3,
    }[capture_moment(method)]
