"""The sandbox providers' rules: each trigger gives its documented outcome."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.contracts import DeclineReason
from oms_payments.providers.rules import (
    Family,
    SandboxRules,
    Verdict,
    judge,
    timeouts_before_answer,
)

RULES = SandboxRules()
D = Decimal


@pytest.mark.parametrize(
    ("family", "email", "amount", "expected"),
    [
        (Family.CARD, "a@example.com", "10.00", Verdict(D("10.00"))),
        (
            Family.CARD,
            "a+decline@example.com",
            "10",
            Verdict(D(0), DeclineReason.INSUFFICIENT_FUNDS),
        ),
        (
            Family.PAYPAL,
            "a+decline@example.com",
            "10",
            Verdict(D(0), DeclineReason.INSUFFICIENT_FUNDS),
        ),
        (
            Family.INVOICE,
            "a+decline@example.com",
            "10",
            Verdict(D(0), DeclineReason.INSUFFICIENT_FUNDS),
        ),
        (Family.BANK, "a+decline@example.com", "10", Verdict(D("10"))),
        (Family.COD, "a+decline@example.com", "10", Verdict(D("10"))),
        (Family.CARD, "A+Fraud@example.com", "10", Verdict(D(0), DeclineReason.FRAUD_SUSPECTED)),
        (Family.CARD, "a+expired@example.com", "10", Verdict(D(0), DeclineReason.CARD_EXPIRED)),
        (
            Family.BANK,
            "a+abort@example.com",
            "10",
            Verdict(D(0), DeclineReason.AUTHENTICATION_FAILED),
        ),
        (Family.CARD, "a+partial@example.com", "10.01", Verdict(D("5.00"))),
        (
            Family.INVOICE,
            "a@example.com",
            "1000.01",
            Verdict(D(0), DeclineReason.CREDIT_CHECK_FAILED),
        ),
        (Family.INVOICE, "a@example.com", "1000.00", Verdict(D("1000.00"))),
        (Family.COD, "a@example.com", "500.01", Verdict(D(0), DeclineReason.REFUSED)),
    ],
)
def test_triggers_and_limits(family: Family, email: str, amount: str, expected: Verdict) -> None:
    verdict = judge(family, D(amount), email, RULES)
    assert (verdict.approved, verdict.decline) == (expected.approved, expected.decline)


def test_a_card_limit_approves_part_of_larger_amounts() -> None:
    rules = SandboxRules(card_partial_limit=D("50.00"))
    assert judge(Family.CARD, D("80.00"), "a@example.com", rules).approved == D("50.00")
    assert judge(Family.CARD, D("40.00"), "a@example.com", rules).approved == D("40.00")


def test_timeouts_come_from_the_address_or_the_settings() -> None:
    assert timeouts_before_answer("a+timeout2@example.com", RULES) == 2
    assert timeouts_before_answer("a+x+timeout3@example.com", SandboxRules(timeouts=1)) == 3
    assert timeouts_before_answer("a@example.com", SandboxRules(timeouts=1)) == 1
    assert timeouts_before_answer("a@example.com", RULES) == 0


def test_approved_amounts_are_whole_minor_units_of_the_currency() -> None:
    verdict = judge(Family.CARD, D("1001"), "a+partial@example.com", RULES, "JPY")
    assert verdict.approved == D("500")
    rules = SandboxRules(card_partial_limit=D("300.00"))
    assert judge(Family.CARD, D("1000"), "a@example.com", rules, "JPY").approved == D("300")
