"""Exact money for the sandboxes: Decimal in, two-decimal strings (Shopify) or JSON numbers
(Magento) out, so that totals in the payloads add up to the cent like the platforms' do."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    """A money field that is not a decimal amount."""


def parse(value: object, field: str) -> Decimal:
    """A non-negative amount from a JSON string or number (floats go through ``str``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise MoneyError(f"{field} must be a decimal amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise MoneyError(f"{field} must be a decimal amount") from exc
    if not amount.is_finite() or amount < 0:
        raise MoneyError(f"{field} must be a non-negative amount")
    return amount


def cents(amount: Decimal) -> Decimal:
    """Rounded half up to the cent, as both platforms round."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def text(amount: Decimal) -> str:
    """Shopify's form: ``"12.50"``."""
    return f"{cents(amount):.2f}"


def number(amount: Decimal) -> float:
    """Magento's form: a JSON number such as ``12.5``."""
    return float(cents(amount))


def share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``total * part / whole`` to the cent: the pro-rata discount of a partial quantity."""
    if whole == 0:
        return ZERO
    return cents(total * part / whole)
