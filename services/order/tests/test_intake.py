"""Reviewing submissions: each problem names its field; fingerprints ignore formatting."""

from __future__ import annotations

from oms_events.contracts import IntakeKeyKind, OrderLine, Payment, PaymentMethod, RejectionCode
from oms_events.examples import eur
from oms_order.domain.intake import (
    EMPTY_ORDER,
    claim,
    claimed,
    fingerprint,
    key_reused,
    refused,
    rejection,
    review,
)

from .conftest import submission


def test_a_valid_submission_has_no_problems() -> None:
    assert review(submission(), unknown_skus=set()) == []


def test_each_unknown_sku_is_a_problem_on_its_line() -> None:
    problems = review(submission(), unknown_skus={"MUG-ENAMEL-WHT"})
    assert [(p.code, p.field) for p in problems] == [(RejectionCode.UNKNOWN_SKU, "lines[1].sku")]
    assert "MUG-ENAMEL-WHT" in problems[0].detail


def test_payments_must_add_up_to_the_total() -> None:
    sub = submission(
        payments=(Payment(payment_id="p", method=PaymentMethod.CARD, amount=eur("50.00")),)
    )
    [problem] = review(sub, set())
    assert problem.code is RejectionCode.PAYMENT_TOTAL_MISMATCH
    assert "50.00" in problem.detail and "57.35" in problem.detail


def test_duplicate_ids_and_negative_amounts_are_invalid() -> None:
    line = submission().lines[0]
    negative = OrderLine(line_id="9", sku=line.sku, quantity=1, unit_price=eur("-1.00"))
    sub = submission(lines=(line, line, negative))
    fields = {p.field for p in review(sub, set())}
    assert {"lines[1].line_id", "lines[2].unit_price", "payments"} <= fields


def test_a_gift_card_is_paid_by_token_and_a_code_sent_anyway_is_refused_unquoted() -> None:
    token = "gc_k3v7q2m5xza4d6fqh2j4l6nyp2"
    by_token = Payment(
        payment_id="g", method=PaymentMethod.GIFT_CARD, amount=eur("57.35"), gift_card=token
    )
    assert review(submission(payments=(by_token,)), set()) == []
    by_code = by_token.model_copy(update={"gift_card": None, "gift_card_code": "GC-SECRET-7"})
    [problem] = review(submission(payments=(by_code,)), set())
    assert (problem.code, problem.field) == (
        RejectionCode.INVALID_ORDER,
        "payments[0].gift_card_code",
    )
    assert "GC-SECRET-7" not in problem.detail
    event = rejection("WEB-1", "webshop-nl", [problem])
    assert "GC-SECRET-7" not in event.model_dump_json()
    neither = by_token.model_copy(update={"gift_card": None})
    [missing] = review(submission(payments=(neither,)), set())
    assert missing.field == "payments[0].gift_card"
    card = Payment(payment_id="c", method=PaymentMethod.CARD, amount=eur("57.35"), gift_card=token)
    assert [p.field for p in review(submission(payments=(card,)), set())] == [
        "payments[0].gift_card"
    ]


def test_rejection_carries_one_reason_per_problem() -> None:
    problems = review(submission(), unknown_skus={"TSHIRT-BLU-M", "MUG-ENAMEL-WHT"})
    event = rejection("WEB-1", "webshop-nl", problems)
    assert [r.code for r in event.reasons] == [RejectionCode.UNKNOWN_SKU] * 2


def test_fingerprint_is_the_same_for_the_same_order_written_differently() -> None:
    a = submission()
    mug = a.lines[1].model_copy(update={"unit_price": eur("12.5")})  # was 12.50
    b = submission(lines=(a.lines[0], mug))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(submission(platform_order_ref="WEB-other"))


def test_a_rejection_is_answered_as_a_422_refusal_with_one_error_per_problem() -> None:
    problems = review(submission(), unknown_skus={"MUG-ENAMEL-WHT"})
    refusal = refused([*problems, EMPTY_ORDER])
    assert (refusal.code, refusal.status) == ("order_rejected", 422)
    assert [(e.field, e.code) for e in refusal.field_errors()] == [
        ("lines[1].sku", "unknown_sku"),
        ("lines", "invalid_order"),
    ]
    assert refusal.extra["reasons"][1] == {
        "code": "invalid_order",
        "detail": "the order has no lines",
    }


def test_a_reused_idempotency_key_names_the_order_it_belongs_to() -> None:
    refusal = key_reused("ord-1")
    assert (refusal.code, refusal.status, refusal.field) == (
        "idempotency_key_reused",
        422,
        "header:Idempotency-Key",
    )
    assert refusal.extra == {"existing_order_id": "ord-1"}


def test_the_first_claim_of_an_intake_key_holds() -> None:
    sub = submission()
    first = claim("ord-1", sub, fingerprint(sub), "key-1")
    assert first.key_kind is IntakeKeyKind.IDEMPOTENCY_KEY
    assert claim("ord-1", sub, fingerprint(sub)).key_kind is IntakeKeyKind.PLATFORM_ORDER_REF
    state = None
    for event in (rejection("r", "c", [EMPTY_ORDER]), first, claim("ord-2", sub, "0" * 64)):
        state = claimed(state, event)
    assert state == first
