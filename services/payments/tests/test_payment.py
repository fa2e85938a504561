"""One payment: given its events, when a command, then events or a refusal (pure)."""

from __future__ import annotations

from decimal import Decimal

from oms_events.contracts import (
    DeclineReason,
    PaymentAuthorizationRequested,
    PaymentAuthorized,
    PaymentCancellationRequested,
    PaymentCancelled,
    PaymentCaptured,
    PaymentCaptureRequested,
    PaymentDeclined,
    PaymentMethod,
    PaymentRefundRequested,
    PaymentVoided,
    RefundIssued,
)
from oms_events.examples import eur
from oms_payments.domain.commands import (
    PreventAuthorization,
    RecordAuthorization,
    RecordCapture,
    RecordDecline,
    RecordRefund,
    RecordVoid,
    RequestCancellation,
    RequestCapture,
    RequestRefund,
)
from oms_payments.domain.payment import capture_due, payment_decider, refund_due
from oms_payments.views import status
from oms_platform.decider import fold
from oms_platform.testing.decider_spec import DeciderSpec

spec = DeciderSpec(payment_decider)
IDS = {"order_id": "o1", "payment_id": "p1", "method": PaymentMethod.CARD}
D = Decimal

requested = PaymentAuthorizationRequested(
    **IDS, amount=eur("100.00"), customer_email="a@example.com"
)
authorized = PaymentAuthorized(**IDS, amount=eur("100.00"), provider="x", provider_reference="R")
cancellation = PaymentCancellationRequested(**IDS, amount=eur("100.00"), reason="customer")


def capture_requested(shipment: str, amount: str) -> PaymentCaptureRequested:
    return PaymentCaptureRequested(**IDS, amount=eur(amount), shipment_id=shipment)


def captured(shipment: str, amount: str) -> PaymentCaptured:
    return PaymentCaptured(**IDS, amount=eur(amount), shipment_id=shipment, provider_reference="C")


def refund_requested(refund: str, amount: str) -> PaymentRefundRequested:
    return PaymentRefundRequested(**IDS, amount=eur(amount), refund_id=refund, reason="goodwill")


def refunded(refund: str, amount: str) -> RefundIssued:
    return RefundIssued(
        **IDS, amount=eur(amount), refund_id=refund, provider_reference="F", reason="goodwill"
    )


def test_an_authorization_is_recorded_once_requested() -> None:
    spec.given(requested).when(RecordAuthorization("x", "R")).then(authorized)
    spec.given(requested, authorized).when(RecordAuthorization("x", "R")).then_refused("refused")
    spec.given().when(RecordAuthorization("x", "R")).then_refused("not_found", status=404)


def test_an_up_front_authorization_is_captured_at_once() -> None:
    spec.given(requested).when(RecordAuthorization("x", "R", captured=True)).then(
        authorized,
        PaymentCaptured(**IDS, amount=eur("100.00"), shipment_id=None, provider_reference="R"),
    )


def test_authorized_then_captured_in_parts() -> None:
    state = fold(
        payment_decider,
        [
            requested,
            authorized,
            capture_requested("s1", "30.00"),
            captured("s1", "30.00"),
            capture_requested("s2", "70.00"),
            captured("s2", "70.00"),
        ],
    )
    assert (state.authorized, state.captured, state.open_authorization) == (D(100), D(100), 0)
    assert status(state) == "captured"


def test_a_capture_may_not_exceed_the_authorization() -> None:
    given = spec.given(requested, authorized, capture_requested("s1", "60.00"))
    given.when(RequestCapture("s2", D("40.01"))).then_refused("amount_exceeded")
    given.when(RequestCapture("s2", D("40.00"))).then(capture_requested("s2", "40.00"))


def test_a_capture_is_requested_and_recorded_once_per_shipment() -> None:
    given = spec.given(requested, authorized, capture_requested("s1", "60.00"))
    given.when(RequestCapture("s1", D("60.00"))).then_nothing()
    given.when(RecordCapture("s1", "C")).then(captured("s1", "60.00"))
    done = spec.given(requested, authorized, capture_requested("s1", "60.00"), captured("s1", "60"))
    done.when(RecordCapture("s1", "C")).then_nothing()


def test_an_unauthorized_payment_cannot_be_captured() -> None:
    spec.given(requested).when(RequestCapture("s1", D(1))).then_refused("refused")
    spec.given(requested, authorized).when(RecordCapture("s9", "C")).then_refused(
        "capture_not_requested"
    )


def test_a_cancelled_payment_takes_no_more_captures() -> None:
    spec.given(requested, authorized, cancellation).when(RequestCapture("s1", D(1))).then_refused(
        "order_cancelled"
    )


def test_void_releases_only_what_was_not_captured() -> None:
    given = spec.given(
        requested, authorized, capture_requested("s1", "30.00"), captured("s1", "30.00")
    )
    given.when(RecordVoid("V")).then(
        PaymentVoided(**IDS, amount=eur("70.00"), provider_reference="V")
    )
    voided = PaymentVoided(**IDS, amount=eur("70.00"), provider_reference="V")
    after = spec.given(*given.events, voided)
    after.when(RecordVoid("V")).then_nothing()
    assert status(after.state) == "captured"
    assert after.state.authorized == after.state.captured + after.state.voided


def test_refunds_never_exceed_what_was_captured() -> None:
    given = spec.given(
        requested,
        authorized,
        capture_requested("s1", "30.00"),
        captured("s1", "30.00"),
        refund_requested("r1", "10.00"),
        refunded("r1", "10.00"),
    )
    assert given.state.refundable == D("20.00")
    assert status(given.state) == "partially_refunded"
    given.when(RequestRefund("p1", "r2", D("20.01"), "goodwill")).then_refused("amount_exceeded")
    given.when(RecordRefund("r2", D("20.01"), "F", "goodwill")).then_refused("amount_exceeded")
    given.when(RecordRefund("r1", D("10.00"), "F", "goodwill")).then_nothing()
    given.when(RequestRefund("p1", "r2", D("20.00"), "goodwill")).then(
        refund_requested("r2", "20.00")
    )


def test_a_pending_refund_request_counts_against_what_is_refundable() -> None:
    given = spec.given(
        requested,
        authorized,
        capture_requested("s1", "30.00"),
        captured("s1", "30.00"),
        refund_requested("r1", "25.00"),
    )
    given.when(RequestRefund("p1", "r2", D("5.01"), "goodwill")).then_refused("amount_exceeded")
    assert refund_due(given.state, "r1", D("25.00"))
    assert given.state.refund_pending == D("25.00")


def test_a_refund_request_is_idempotent_by_its_id() -> None:
    given = spec.given(
        requested, authorized, captured("s1", "30.00"), refund_requested("r1", "10.00")
    )
    given.when(RequestRefund("p1", "r1", D("10.00"), "goodwill")).then_nothing()
    given.when(RequestRefund("p1", "r1", D("11.00"), "goodwill")).then_refused("refused")


def test_a_refund_request_is_held_to_the_payment_and_its_currency() -> None:
    spec.given().when(RequestRefund("p9", "r1", D(1), "x")).then_refused("not_found", status=404)
    given = spec.given(requested, authorized, captured("s1", "30.00"))
    given.when(RequestRefund("p1", "r1", D(1), "x", currency="USD")).then_refused("refused")
    refusal = given.when(RequestRefund("p1", "r1", D("1.001"), "x")).then_refused(
        "invalid_amount", status=422
    )
    assert refusal.field == "amount"


def test_only_a_requested_payment_can_be_prevented_or_declined() -> None:
    spec.given(requested, authorized).when(PreventAuthorization("x")).then_refused("refused")
    spec.given(requested).when(PreventAuthorization("customer")).then(
        PaymentCancelled(
            **IDS,
            amount=eur("100.00"),
            reason="order cancelled before authorization: customer",
        )
    )
    spec.given(requested).when(RecordDecline(DeclineReason.REFUSED, "no")).then(
        PaymentDeclined(
            **IDS, amount=eur("100.00"), reason=DeclineReason.REFUSED, provider_message="no"
        )
    )
    assert status(spec.given(requested).state) == "pending"


def test_cancellation_is_requested_once_and_not_for_declined_payments() -> None:
    spec.given(requested, authorized).when(RequestCancellation("customer")).then(cancellation)
    spec.given(requested, authorized, cancellation).when(RequestCancellation("x")).then_nothing()
    declined = PaymentDeclined(**IDS, amount=eur("100.00"), reason=DeclineReason.REFUSED)
    spec.given(requested, declined).when(RequestCancellation("x")).then_nothing()


def test_what_is_due_is_zero_once_done() -> None:
    state = fold(payment_decider, [requested, authorized, captured("s1", "30.00")])
    assert capture_due(state, "s1") == 0
    assert not refund_due(
        fold(payment_decider, [requested, authorized, captured("s1", "30"), refunded("r1", "5")]),
        "r1",
        D(5),
    )


def test_a_parked_call_shows_as_the_status() -> None:
    assert status(spec.given(requested).state, parked=True) == "reconciliation_required"
