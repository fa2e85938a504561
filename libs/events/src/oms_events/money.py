"""Money: an exact decimal amount in one ISO 4217 currency.

Amounts are :class:`~decimal.Decimal` in Python and decimal *strings* on the wire
(``{"amount": "12.50", "currency": "EUR"}``): a JSON number would be read as a binary float
by most consumers and silently lose cents. For the same reason floats are refused on input,
even when they happen to look exact.

Every amount is bounded (``oms_events.limits``): at most 12 digits before the decimal point
and at most the currency's minor units after it (:func:`minor_units`), never NaN, infinity
or exponent notation, whether it arrives as a string on the wire or as a ``Decimal`` built
by code. So arithmetic that would need rounding (a division, a rate) fails loudly at the
``Money`` it builds instead of inventing sub-cent amounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from oms_events.limits import MAX_AMOUNT_DECIMALS, MAX_AMOUNT_INTEGER_DIGITS

AMOUNT_PATTERN = rf"^-?[0-9]{{1,{MAX_AMOUNT_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_AMOUNT_DECIMALS}}})?$"
"""A plain decimal string: ``^-?[0-9]{1,12}(\\.[0-9]{1,3})?$``; the currency may allow fewer."""
CURRENCY_PATTERN = r"^[A-Z]{3}$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
_AMOUNT_LIMIT = Decimal(10) ** MAX_AMOUNT_INTEGER_DIGITS

DEFAULT_MINOR_UNITS = 2
"""Decimal places of a currency that :data:`MINOR_UNITS` does not list."""

MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {
        # ISO 4217 (list one, maintained by SIX on behalf of ISO): the active currencies
        # whose minor unit is not 2. ISO also gives 4 to the units of account CLF and UYW;
        # no shop charges in those and the wire format stops at 3 decimals, so they are
        # left to the default.
        **dict.fromkeys(
            (
                *("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF"),
                *("UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"),
            ),
            0,
        ),
        **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    }
)
"""Decimal places (ISO 4217 "minor unit") of the currencies that have other than 2."""


def minor_units(currency: str) -> int:
    """How many decimal places amounts in ``currency`` may have: 2 for EUR, 0 for JPY."""
    return MINOR_UNITS.get(currency, DEFAULT_MINOR_UNITS)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` (``Decimal("0.01")`` for EUR), to quantize to."""
    return Decimal(1).scaleb(-minor_units(currency))


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

    amount: Amount = Field(
        description=(
            "Decimal amount as a string, e.g. '12.50': at most 12 digits before the point "
            "and at most the currency's ISO 4217 minor units after it (2 by default, 0 for "
            "JPY, 3 for KWD); the pattern allows 3 and the per-currency limit is checked "
            "on validation."
        )
    )
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
            raise ValueError(
                f"amount must be a plain decimal string such as '12.50', with at most "
                f"{MAX_AMOUNT_INTEGER_DIGITS} digits before the point and "
                f"{MAX_AMOUNT_DECIMALS} after it"
            )
        return value

    @model_validator(mode="after")
    def _bounded(self) -> Money:
        # Decimals built in code skip the string check above: hold them to the same form.
        # (One validator for all checks: every line of every order builds a Money.)
        value = self.amount
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int), "finite, so the exponent is a number"
        if exponent > 0:
            raise ValueError(
                "amount must not be in exponent notation (Decimal('1E+2')); "
                "use Decimal('100') or quantize it"
            )
        if abs(value) >= _AMOUNT_LIMIT:
            raise ValueError(
                f"amount must have at most {MAX_AMOUNT_INTEGER_DIGITS} digits before the point"
            )
        allowed = minor_units(self.currency)
        if -exponent > allowed:
            raise ValueError(
                f"{self.currency} amounts have at most {allowed} decimal places (ISO 4217)"
            )
        return self

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
        # One Money at the end, not one per step: only the total has to be within bounds.
        amount = Decimal(0)
        for item in items:
            if item.currency != currency:
                raise CurrencyMismatchError(f"cannot add {currency} and {item.currency} amounts")
            amount += item.amount
        return cls(amount=amount, currency=currency)

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
