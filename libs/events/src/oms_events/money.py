"""Money: an exact decimal amount in one ISO 4217 currency.

Amounts are :class:`~decimal.Decimal` in Python and decimal *strings* on the wire
(``{"amount": "12.50", "currency": "EUR"}``): a JSON number would be read as a binary float
by most consumers and silently lose cents. For the same reason floats are refused on input,
even when they happen to look exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)


def _format_amount(value: Decimal) -> str:
    # Fixed-point notation: str(Decimal("1E+2")) would give "1E+2", which the wire pattern
    # (and many decimal parsers in other languages) do not accept.
    return format(value, "f")


Amount = Annotated[
    Decimal,
    PlainSerializer(_format_amount, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12.50"]},
        mode="serialization",
    ),
]
"""A decimal amount; serialised in JSON as a fixed-point string such as ``"12.50"``."""

Currency = Annotated[str, Field(pattern=CURRENCY_PATTERN, examples=["EUR"])]
"""An ISO 4217 alphabetic currency code: three upper-case letters."""


class CurrencyMismatchError(ValueError):
    """Arithmetic or comparison between two different currencies was attempted."""


class Money(BaseModel):
    """An exact amount of money in one currency; the amount is a decimal string on the wire."""

    # In Python: ``+``, ``-``, unary ``-``, ``*`` by an int quantity and ordering comparisons;
    # mixing currencies raises CurrencyMismatchError. Equality follows the decimal value, so
    # 12.5 EUR == 12.50 EUR. (Kept out of the docstring, which becomes the wire schema's
    # description and should not talk about Python.)

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Amount = Field(description="Decimal amount as a string, e.g. '12.50'.")
    currency: Currency = Field(description="ISO 4217 currency code, e.g. 'EUR'.")

    @field_validator("amount", mode="before")
    @classmethod
    def _exact_amounts_only(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(
                "float amounts are not allowed (they lose precision); "
                "use a decimal string such as '12.50'"
            )
        if isinstance(value, bool):
            raise ValueError("a boolean is not an amount")
        if isinstance(value, str) and not _AMOUNT_RE.fullmatch(value):
            raise ValueError("amount must be a plain decimal string such as '12.50'")
        return value

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        """Shorthand constructor: ``Money.of("12.50", "EUR")``."""
        return cls(amount=amount, currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``; the neutral start value for sums."""
        return cls(amount=Decimal(0), currency=currency)

    @classmethod
    def total(cls, items: Iterable[Money], currency: str) -> Money:
        """Sum ``items``; ``currency`` is needed so that an empty sum has one."""
        result = cls.zero(currency)
        for item in items:
            result = result + item
        return result

    def _same_currency(self, other: Money, operation: str) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(
                f"cannot {operation} {self.currency} and {other.currency} amounts"
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __mul__(self, quantity: int) -> Money:
        # Only whole quantities: prices times rates (tax, discounts) need an explicit
        # rounding rule, which is a business decision and does not belong here.
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            return NotImplemented
        return Money(amount=self.amount * quantity, currency=self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other, "compare")
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other, "compare")
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other, "compare")
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        """True when the amount is zero (in any scale: ``0``, ``0.00``)."""
        return self.amount == 0

    def __str__(self) -> str:
        return f"{_format_amount(self.amount)} {self.currency}"
