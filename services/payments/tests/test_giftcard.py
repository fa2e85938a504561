"""Gift cards: issue, debit without overdraft, credit back no more than was taken."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.examples import eur
from oms_events.money import Money
from oms_payments.domain import fold, giftcard
from oms_payments.domain.errors import AmountExceeded, NotFound, Refused
from oms_payments.domain.giftcard import GiftCard


def issued(balance: str = "50.00") -> GiftCard:
    card = GiftCard("GC-1")
    return fold(giftcard.evolve, giftcard.issue(card, eur(balance)), card)


def test_debits_and_credits_move_the_balance() -> None:
    card = issued()
    card = fold(
        giftcard.evolve, giftcard.debit(card, eur("20.00"), order_id="o", payment_id="p"), card
    )
    assert card.balance == Decimal("30.00")
    card = fold(
        giftcard.evolve,
        giftcard.credit(card, Decimal("5.00"), order_id="o", payment_id="p", reason="refund"),
        card,
    )
    assert card.balance == Decimal("35.00") and card.held["p"] == Decimal("15.00")


def test_a_debit_never_overdraws() -> None:
    with pytest.raises(AmountExceeded):
        giftcard.debit(issued("10.00"), eur("10.01"), order_id="o", payment_id="p")


def test_a_debit_needs_an_issued_card_in_its_currency() -> None:
    with pytest.raises(NotFound):
        giftcard.debit(GiftCard("nope"), eur("1.00"), order_id="o", payment_id="p")
    with pytest.raises(Refused):
        giftcard.debit(issued(), Money.of("1.00", "USD"), order_id="o", payment_id="p")


def test_a_credit_returns_no_more_than_the_payment_took() -> None:
    card = issued()
    card = fold(
        giftcard.evolve, giftcard.debit(card, eur("20.00"), order_id="o", payment_id="p"), card
    )
    with pytest.raises(AmountExceeded):
        giftcard.credit(card, Decimal("20.01"), order_id="o", payment_id="p", reason="void")
    with pytest.raises(AmountExceeded):
        giftcard.credit(card, Decimal("1.00"), order_id="o", payment_id="other", reason="void")


def test_a_card_is_issued_once_with_a_positive_balance() -> None:
    with pytest.raises(Refused):
        giftcard.issue(issued(), eur("5.00"))
    with pytest.raises(Refused):
        giftcard.issue(GiftCard("GC-2"), eur("0.00"))
