"""Gift cards: a balance of their own, debited by payments and credited back on release.

A gift card is its own ledger, so it needs no outside provider: authorizing a gift-card
payment debits the balance in the same atomic append as the authorization, and optimistic
concurrency on the card's stream keeps two concurrent spends from overdrawing it. A card
whose balance does not cover the whole payment declines it (no partial approval): the
rest goes on another method (what a card holds is read by token,
``GET /v1/gift-cards/{token}``).

A card is known here by its token only (``giftcard-<token>``; see
:mod:`oms_payments.gift_card_tokens`): the domain never sees a code. Refusals and declines
name neither the card's code nor its balance: a decline reason travels in events and lands
on screens and in logs, and what a card holds is for whoever holds the card to ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import assert_never

from oms_events.base import Event
from oms_events.contracts import GiftCardCredited, GiftCardDebited, GiftCardIssued
from oms_events.money import Money
from oms_payments.domain.commands import (
    CreditGiftCard,
    DebitGiftCard,
    GiftCardCommand,
    IssueGiftCard,
)
from oms_platform.decider import Decision
from oms_platform.refusal import Refusal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class GiftCard:
    """A gift card's balance and, per payment, what it still holds of the card's money."""

    card: str = ""
    """The card's token."""
    issued: bool = False
    currency: str = "EUR"
    balance: Decimal = ZERO
    held: Mapping[str, Decimal] = field(default_factory=dict)
    """Payment id -> debited and not yet credited back."""

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)

    def held_for(self, payment_id: str) -> Decimal:
        return self.held.get(payment_id, ZERO)


def evolve(card: GiftCard, event: Event) -> GiftCard:
    match event:
        case GiftCardIssued():
            return replace(
                card,
                card=event.card or card.card,
                issued=True,
                currency=event.balance.currency,
                balance=event.balance.amount,
            )
        case GiftCardDebited():
            held = {
                **card.held,
                event.payment_id: card.held_for(event.payment_id) + event.amount.amount,
            }
            return replace(card, balance=event.balance.amount, held=MappingProxyType(held))
        case GiftCardCredited():
            held = {
                **card.held,
                event.payment_id: card.held_for(event.payment_id) - event.amount.amount,
            }
            return replace(card, balance=event.balance.amount, held=MappingProxyType(held))
    return card


def decide(command: GiftCardCommand, card: GiftCard) -> Decision:
    match command:
        case IssueGiftCard():
            if card.issued:
                raise Refusal("refused", "the gift card was already issued", "code")
            if command.balance.amount <= 0:
                raise Refusal.invalid(
                    "invalid_amount", "a gift card's balance must be more than zero", "balance"
                )
            return [GiftCardIssued(card=command.card, balance=command.balance)]
        case DebitGiftCard():
            return _debit(command, card)
        case CreditGiftCard():
            return _credit(command, card)
        case _:
            assert_never(command)


class GiftCardDecider:
    """One gift card (stream ``giftcard-<token>``) as a :class:`~oms_platform.decider.Decider`."""

    def initial_state(self) -> GiftCard:
        return GiftCard()

    def evolve(self, state: GiftCard, event: Event) -> GiftCard:
        return evolve(state, event)

    def decide(self, command: GiftCardCommand, state: GiftCard) -> Decision:
        return decide(command, state)


gift_card_decider = GiftCardDecider()


def _debit(command: DebitGiftCard, card: GiftCard) -> Decision:
    if not card.issued:
        raise Refusal.not_found("not_found", "the gift card does not exist")
    if command.amount.currency != card.currency:
        raise Refusal("refused", "the gift card is in another currency than the payment")
    if command.amount.amount > card.balance:
        raise Refusal("amount_exceeded", "the gift card's balance does not cover the payment")
    return [
        GiftCardDebited(
            card=card.card,
            amount=command.amount,
            balance=card.money(card.balance - command.amount.amount),
            order_id=command.order_id,
            payment_id=command.payment_id,
        )
    ]


def _credit(command: CreditGiftCard, card: GiftCard) -> Decision:
    if command.amount <= 0:
        return []
    held = card.held_for(command.payment_id)
    if command.amount > held:
        raise Refusal(
            "amount_exceeded",
            f"crediting {command.amount} {card.currency} would return more to the gift card "
            f"than payment {command.payment_id} took ({held} {card.currency})",
        )
    return [
        GiftCardCredited(
            card=card.card,
            amount=card.money(command.amount),
            balance=card.money(card.balance + command.amount),
            order_id=command.order_id,
            payment_id=command.payment_id,
            reason=command.reason,
        )
    ]
