"""One payment: given its events, when a decision, then events or a refusal (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.base import Event
from oms_events.contracts import PaymentAuthorizationRequested, PaymentMethod
from oms_events.examples import eur
from oms_payments.domain import fold
from oms_payments.domain import payment as pay
from oms_payments.domain.errors import AmountExceeded, NotFound, Refused
from oms_payments.domain.payment import PaymentState, Phase
from oms_payments.projections.views import status


def given(*steps: str, method: str = "card") -> PaymentState:
    """A payment of 100.00 after ``steps``: authorise, capture:<shipment>:<amount>, void..."""
    state = pay.evolve(
        PaymentState(payment_id="p1"),
        PaymentAuthorizationRequested(
            order_id="o1",
            payment_id="p1",
            method=PaymentMethod(method),
            amount=eur("100.00"),
            customer_email="a@example.com",
        ),
    )
    for step in steps:
        name, *args = step.split(":")
        events: list[Event]
        if name == "authorise":
            events = pay.authorised(state, provider="x", reference="R", captured=False)
        elif name == "capture":
            events = pay.request_capture(state, args[0], Decimal(args[1]))
            state = fold(pay.evolve, events, state)
            events = pay.captured(state, args[0], "C")
        elif name == "cancel":
            events = pay.request_cancellation(state, "customer_request")
        elif name == "void":
            events = pay.voided(state, "V")
        else:
            events = pay.refunded(state, args[0], Decimal(args[1]), "F", "goodwill")
        state = fold(pay.evolve, events, state)
    return state


def test_authorised_then_captured_in_parts() -> None:
    state = given("authorise", "capture:s1:30.00", "capture:s2:70.00")
    assert (state.authorised, state.captured, state.open_authorisation) == (
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal(0),
    )
    assert status(state) == "captured"


def test_a_capture_may_not_exceed_the_authorisation() -> None:
    state = given("authorise", "capture:s1:60.00")
    with pytest.raises(AmountExceeded):
        pay.request_capture(state, "s2", Decimal("40.01"))


def test_a_capture_is_requested_once_per_shipment() -> None:
    state = given("authorise", "capture:s1:60.00")
    assert pay.request_capture(state, "s1", Decimal("60.00")) == []
    assert pay.captured(state, "s1", "C") == []


def test_an_unauthorised_payment_cannot_be_captured() -> None:
    with pytest.raises(Refused):
        pay.request_capture(given(), "s1", Decimal("1.00"))
    with pytest.raises(NotFound):
        pay.capture_due(given("authorise"), "s9")


def test_void_releases_only_what_was_not_captured() -> None:
    state = given("authorise", "capture:s1:30.00", "cancel", "void")
    assert state.voided == Decimal("70.00")
    assert state.authorised == state.captured + state.voided
    assert status(state) == "captured"
    assert pay.voided(state, "V") == []


def test_a_cancelled_payment_takes_no_more_captures() -> None:
    with pytest.raises(Refused):
        pay.request_capture(given("authorise", "cancel"), "s1", Decimal("1.00"))


def test_refunds_never_exceed_what_was_captured() -> None:
    state = given("authorise", "capture:s1:30.00", "refund:r1:10.00")
    assert state.refundable == Decimal("20.00")
    assert status(state) == "partially_refunded"
    with pytest.raises(AmountExceeded):
        pay.request_refund(state, "r2", Decimal("20.01"), "goodwill")
    with pytest.raises(AmountExceeded):
        pay.refunded(state, "r2", Decimal("20.01"), "F", "goodwill")
    assert pay.refunded(state, "r1", Decimal("10.00"), "F", "goodwill") == []


def test_a_pending_refund_request_counts_against_what_is_refundable() -> None:
    state = given("authorise", "capture:s1:30.00")
    state = fold(pay.evolve, pay.request_refund(state, "r1", Decimal("25.00"), "goodwill"), state)
    with pytest.raises(AmountExceeded):
        pay.request_refund(state, "r2", Decimal("5.01"), "goodwill")
    assert pay.refund_allowed(state, "r1", Decimal("25.00"))


def test_only_a_requested_payment_can_be_prevented_or_declined() -> None:
    state = given("authorise")
    with pytest.raises(Refused):
        pay.prevented(state)
    assert given().phase is Phase.REQUESTED
    assert status(given()) == "pending"


def test_cancellation_is_not_requested_for_declined_payments() -> None:
    state = fold(pay.evolve, pay.declined(given(), pay.DeclineReason.REFUSED, "no"), given())
    assert pay.request_cancellation(state, "x") == []
