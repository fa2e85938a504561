"""One order for the returns tests: two T-shirts and a mug, delivered on 1 March 2026.

Shipping 4.95; paid 20.00 with a gift card and 37.35 by card.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oms_events.contracts.common import PaymentMethod
from oms_events.money import Money
from oms_returns.domain.commands import CapturedPayment, DeliveredSku, OrderAccount

DELIVERED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


TEE = DeliveredSku("TEE", 2, eur("19.95"), DELIVERED_AT)
MUG = DeliveredSku("MUG", 1, eur("12.50"), DELIVERED_AT)
GIFT = CapturedPayment("pay-gift", PaymentMethod.GIFT_CARD, eur("20.00"))
CARD = CapturedPayment("pay-card", PaymentMethod.CARD, eur("37.35"))
"""19.95 x 2 + 12.50 + 4.95 shipping = 57.35 in all: 20.00 by gift card, 37.35 by card."""


def account(**changes: object) -> OrderAccount:
    values: dict[str, object] = {
        "delivered": (TEE, MUG),
        "shipping_charge": eur("4.95"),
        "payments": (GIFT, CARD),
    }
    values.update(changes)
    return OrderAccount(**values)  # type: ignore[arg-type]
