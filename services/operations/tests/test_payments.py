"""``ops_payments``: sums of what was authorised, captured, voided and refunded, and the
status they give, whatever order the events come in."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from oms_events.contracts.payments import (
    PaymentAuthorizationRequested,
    PaymentAuthorized,
    PaymentCancelled,
    PaymentCaptured,
    PaymentDeclined,
    PaymentVoided,
    RefundIssued,
)
from oms_events.examples import eur
from oms_operations.projections import payments

from .events import HOUR, T0, at, make

PAY = {"payment_id": "pay-1", "order_id": "ord-1", "method": "card"}


def ev(cls: type[Any], amount: str, **changes: Any) -> Any:
    return make(cls, **PAY, amount=eur(amount).model_dump(), **changes)


def fold(history: list[Any]) -> payments.PaymentRow:
    row = None
    for env, event in history:
        row = payments.apply(row, env, event)
    assert row is not None
    return row


def card_history() -> list[Any]:
    """40.00 authorised; two parcels captured (25.00, 10.00); 5.00 released; 12.50 refunded."""
    return [
        at(ev(PaymentAuthorizationRequested, "40.00"), T0),
        at(ev(PaymentAuthorized, "40.00"), T0 + HOUR),
        at(ev(PaymentCaptured, "25.00", shipment_id="s1"), T0 + 2 * HOUR),
        at(ev(PaymentCaptured, "10.00", shipment_id="s2"), T0 + 3 * HOUR),
        at(ev(PaymentVoided, "5.00", release_id="short-1"), T0 + 3 * HOUR),
        at(ev(RefundIssued, "12.50", refund_id="ref-1"), T0 + 9 * HOUR),
    ]


def test_captures_voids_and_refunds_add_up_per_payment() -> None:
    row = fold(card_history())
    assert (row.method, row.currency, row.amount) == ("card", "EUR", Decimal("40.00"))
    assert row.authorized == Decimal("40.00") and row.captured == Decimal("35.00")
    assert row.voided == Decimal("5.00") and row.refunded == Decimal("12.50")
    assert row.status == "partially_refunded"
    assert (row.requested_at, row.authorized_at) == (T0, T0 + HOUR)


def test_the_status_and_sums_do_not_depend_on_the_order_of_arrival() -> None:
    history = card_history()
    want = fold(history)
    for order in itertools.permutations(history):
        assert fold(list(order)) == want


def test_refunding_everything_captured_is_refunded() -> None:
    more = at(ev(RefundIssued, "22.50", refund_id="ref-2"), T0 + 10 * HOUR)
    assert fold([*card_history(), more]).status == "refunded"


def test_an_authorisation_released_whole_is_voided_and_a_partial_release_stays_authorized() -> None:
    auth = [
        at(ev(PaymentAuthorizationRequested, "40.00"), T0),
        at(ev(PaymentAuthorized, "40.00"), T0),
    ]
    part = fold([*auth, at(ev(PaymentVoided, "15.00", release_id="r1"), T0)])
    assert part.status == "authorized" and part.voided == Decimal("15.00")
    whole = fold([*auth, at(ev(PaymentVoided, "40.00", release_id=None), T0)])
    assert whole.status == "voided"


def test_a_declined_payment_keeps_its_reason_and_a_cancelled_one_was_never_authorised() -> None:
    declined = fold(
        [
            at(ev(PaymentAuthorizationRequested, "40.00"), T0),
            at(ev(PaymentDeclined, "40.00", reason="insufficient_funds"), T0 + HOUR),
        ]
    )
    assert declined.status == "declined" and declined.decline_reason == "insufficient_funds"
    assert declined.authorized == 0
    cancelled = fold(
        [at(ev(PaymentAuthorizationRequested, "40.00"), T0), at(ev(PaymentCancelled, "40.00"), T0)]
    )
    assert cancelled.status == "cancelled"
    assert fold([at(ev(PaymentAuthorizationRequested, "9.99"), T0)]).status == "requested"


def test_every_status_is_listed() -> None:
    seen = {fold(card_history()[:n]).status for n in range(1, len(card_history()) + 1)} | {
        "declined",
        "cancelled",
        "voided",
        "refunded",
    }
    assert seen == set(payments.STATUSES)
