"""Reviewing submissions: each problem names its field; fingerprints ignore formatting."""

from __future__ import annotations

from oms_events.contracts import OrderLine, Payment, PaymentMethod, RejectionCode
from oms_events.examples import eur
from oms_order.domain.intake import fingerprint, rejection, review

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


def test_rejection_carries_one_reason_per_problem() -> None:
    problems = review(submission(), unknown_skus={"TSHIRT-BLU-M", "MUG-ENAMEL-WHT"})
    event = rejection("WEB-1", "webshop-nl", problems)
    assert [r.code for r in event.reasons] == [RejectionCode.UNKNOWN_SKU] * 2


def test_fingerprint_is_the_same_for_the_same_order_written_differently() -> None:
    a = submission()
    b = submission(shipping_charge=eur("4.950"))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(submission(platform_order_ref="WEB-other"))
