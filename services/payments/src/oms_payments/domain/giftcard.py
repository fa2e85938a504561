"""Gift cards: a balance of their own, debited by payments and credited back on release.

A gift card is its own ledger, so it needs no outside provider: authorising a gift-card
payment debits the balance in the same atomic append as the authorisation, and optimistic
concurrency on the card's stream keeps two concurrent spends from overdrawing it. A card
whose balance does not cover the whole payment declines it (no partial approval): the
platform should ask for what the card holds (``GET /v1/gift-cards/{code}``) and put the
rest on another method.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from oms_events.base import Event
from oms_events.contracts import GiftCardCredited, GiftCardDebited, GiftCardIssued
from oms_events.money import Money
from oms_payments.domain.errors import AmountExceeded, NotFound, Refused

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class GiftCard:
    """A gift card's balance and, per payment, what it still holds of the card's money."""

    code: str
    issued: bool = False
    currency: str = "EUR"
    balance: Decimal = ZERO
    held: Mapping[str, Decimal] = field(default_factory=dict)
    """Payment id -> debited and not yet credited back."""

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)


def evolve(card: GiftCard, event: Event) -> GiftCard:
    match event:
        case GiftCardIssued():
            return replace(
                card, issued=True, currency=event.balance.currency, balance=event.balance.amount
            )
        case GiftCardDebited():
            held = {
                **card.held,
                event.payment_id: _held(card, event.payment_id) + event.amount.amount,
            }
            return replace(card, balance=event.balance.amount, held=MappingProxyType(held))
        case GiftCardCredited():
            held = {
                **card.held,
                event.payment_id: _held(card, event.payment_id) - event.amount.amount,
            }
            return replace(card, balance=event.balance.amount, held=MappingProxyType(held))
    return card


def _held(card: GiftCard, payment_id: str) -> Decimal:
    return card.held.get(payment_id, ZERO)


def issue(card: GiftCard, balance: Money) -> list[Event]:
    if card.issued:
        raise Refused(f"gift card {card.code} was already issued")
    if balance.amount <= 0:
        raise Refused("a gift card's balance must be more than zero")
    return [GiftCardIssued(code=card.code, balance=balance)]


def debit(card: GiftCard, amount: Money, *, order_id: str, payment_id: str) -> list[Event]:
    """Take ``amount`` for a payment; refuses rather than overdraw."""
    if not card.issued:
        raise NotFound(f"gift card {card.code} does not exist")
    if amount.currency != card.currency:
        raise Refused(f"gift card {card.code} holds {card.currency}, not {amount.currency}")
    if amount.amount > card.balance:
        raise AmountExceeded(
            f"gift card balance {card.balance} {card.currency} does not cover {amount}"
        )
    return [
        GiftCardDebited(
            code=card.code,
            amount=amount,
            balance=card.money(card.balance - amount.amount),
            order_id=order_id,
            payment_id=payment_id,
        )
    ]


def credit(
    card: GiftCard, amount: Decimal, *, order_id: str, payment_id: str, reason: str
) -> list[Event]:
    """Put ``amount`` back; never more than the payment took from this card."""
    if amount <= 0:
        return []
    if amount > _held(card, payment_id):
        raise AmountExceeded(
            f"gift card {card.code}: crediting {amount} would return more than payment "
            f"{payment_id} took ({_held(card, payment_id)} {card.currency})"
        )
    return [
        GiftCardCredited(
            code=card.code,
            amount=card.money(amount),
            balance=card.money(card.balance + amount),
            order_id=order_id,
            payment_id=payment_id,
            reason=reason,
        )
    ]
