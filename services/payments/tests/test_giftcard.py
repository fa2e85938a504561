"""Gift cards: issue, debit without overdraft, credit back no more than was taken."""

from __future__ import annotations

from decimal import Decimal

from oms_events.contracts import GiftCardCredited, GiftCardDebited, GiftCardIssued
from oms_events.examples import eur
from oms_events.money import Money
from oms_payments.domain.commands import CreditGiftCard, DebitGiftCard, IssueGiftCard
from oms_payments.domain.giftcard import gift_card_decider
from oms_platform.testing.decider_spec import DeciderSpec
from services.payments.tests.support import token

spec = DeciderSpec(gift_card_decider)
GC1 = token("GC-1")
issued = GiftCardIssued(card=GC1, balance=eur("50.00"))
debited = GiftCardDebited(
    card=GC1, amount=eur("20.00"), balance=eur("30.00"), order_id="o", payment_id="p"
)


def test_a_card_is_issued_once_with_a_positive_balance() -> None:
    spec.given().when(IssueGiftCard(GC1, eur("50.00"))).then(issued)
    spec.given(issued).when(IssueGiftCard(GC1, eur("5.00"))).then_refused("refused")
    spec.given().when(IssueGiftCard(token("GC-2"), eur("0.00"))).then_refused("invalid_amount")


def test_debits_and_credits_move_the_balance() -> None:
    spec.given(issued).when(DebitGiftCard(eur("20.00"), "o", "p")).then(debited)
    credit = CreditGiftCard(Decimal("5.00"), "o", "p", "refund")
    after = spec.given(issued, debited).when(credit)
    after.then(
        GiftCardCredited(
            card=GC1,
            amount=eur("5.00"),
            balance=eur("35.00"),
            order_id="o",
            payment_id="p",
            reason="refund",
        )
    )
    card = after.state_after()
    assert card.balance == Decimal("35.00") and card.held["p"] == Decimal("15.00")


def test_a_debit_never_overdraws() -> None:
    spec.given(GiftCardIssued(card=GC1, balance=eur("10.00"))).when(
        DebitGiftCard(eur("10.01"), "o", "p")
    ).then_refused("amount_exceeded")


def test_a_debit_needs_an_issued_card_in_its_currency() -> None:
    spec.given().when(DebitGiftCard(eur("1.00"), "o", "p")).then_refused("not_found", status=404)
    spec.given(issued).when(DebitGiftCard(Money.of("1.00", "USD"), "o", "p")).then_refused(
        "refused"
    )


def test_a_credit_returns_no_more_than_the_payment_took() -> None:
    given = spec.given(issued, debited)
    given.when(CreditGiftCard(Decimal("20.01"), "o", "p", "void")).then_refused("amount_exceeded")
    given.when(CreditGiftCard(Decimal("1.00"), "o", "other", "void")).then_refused(
        "amount_exceeded"
    )
    given.when(CreditGiftCard(Decimal(0), "o", "p", "void")).then_nothing()
