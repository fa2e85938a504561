"""`oms demo`'s orders pay gift cards with the tokens the shop exchanged, never a code."""

from __future__ import annotations

import json
import random

from oms_cli.demo import GIFT_CARDS, make_order
from oms_events.contracts import OrderSubmitted, PaymentMethod

TOKENS = [f"gc_{letter * 26}" for letter in "abcdefgh"]


def test_gift_card_payments_carry_a_token_and_no_code() -> None:
    rng = random.Random(3)
    orders = [make_order(rng, n, "T1", TOKENS) for n in range(70)]
    gift = [
        p
        for order in orders
        for p in OrderSubmitted.model_validate(order.body).payments
        if p.method is PaymentMethod.GIFT_CARD
    ]
    assert len(gift) == 10
    assert {p.gift_card for p in gift} <= set(TOKENS) and all(p.gift_card for p in gift)
    assert all(p.gift_card_code is None for p in gift)
    text = json.dumps([order.body for order in orders]).lower()
    assert not any(code.lower() in text for code in GIFT_CARDS)
