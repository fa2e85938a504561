"""Unit tests for Money: exact amounts, wire format and currency-safe arithmetic."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from oms_events.money import CurrencyMismatchError, Money

amounts = st.decimals(
    allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
)
currencies = st.sampled_from(["EUR", "USD", "GBP", "JPY", "KWD"])


def test_accepts_decimal_int_and_decimal_string() -> None:
    assert Money.of("12.50", "EUR").amount == Decimal("12.50")
    assert Money.of(12, "EUR").amount == Decimal(12)
    assert Money(amount=Decimal("0.01"), currency="USD").amount == Decimal("0.01")


@pytest.mark.parametrize("value", [12.5, 0.1, 1.0, True])
def test_rejects_floats_and_booleans(value: object) -> None:
    with pytest.raises(ValidationError, match=r"float amounts are not allowed|not an amount"):
        Money.model_validate({"amount": value, "currency": "EUR"})


@pytest.mark.parametrize("value", ["1e3", "12,50", "", " 12.50", "NaN", "Infinity", "+1", "1."])
def test_rejects_amount_strings_that_are_not_plain_decimals(value: str) -> None:
    with pytest.raises(ValidationError):
        Money.of(value, "EUR")


@pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "", "E1R", "€"])
def test_rejects_non_iso_currency_codes(currency: str) -> None:
    with pytest.raises(ValidationError, match="currency"):
        Money.of("1.00", currency)


def test_rejects_unknown_fields_and_is_immutable() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Money.model_validate({"amount": "1", "currency": "EUR", "cents": 100})
    money = Money.of("1.00", "EUR")
    with pytest.raises(ValidationError):
        money.amount = Decimal(2)  # type: ignore[misc]


def test_json_amount_is_a_fixed_point_string_keeping_its_scale() -> None:
    assert Money.of("12.50", "EUR").model_dump(mode="json") == {
        "amount": "12.50",
        "currency": "EUR",
    }
    # Never exponent notation on the wire, whatever the Decimal's internal form.
    assert Money(amount=Decimal("1E+2"), currency="EUR").model_dump(mode="json")["amount"] == "100"
    assert json.loads(Money.of("0.00000001", "BTC").model_dump_json())["amount"] == "0.00000001"


@given(amount=amounts, currency=currencies)
def test_json_round_trip_is_exact(amount: Decimal, currency: str) -> None:
    money = Money(amount=amount, currency=currency)
    again = Money.model_validate(json.loads(money.model_dump_json()))
    assert again == money
    assert again.amount.as_tuple().exponent == money.amount.as_tuple().exponent


def test_arithmetic_in_one_currency() -> None:
    a, b = Money.of("19.95", "EUR"), Money.of("0.05", "EUR")
    assert a + b == Money.of("20.00", "EUR")
    assert a - b == Money.of("19.90", "EUR")
    assert -b == Money.of("-0.05", "EUR")
    assert a * 3 == Money.of("59.85", "EUR")
    assert 3 * a == a * 3
    assert Money.zero("EUR").is_zero()
    assert Money.total([a, b, b], "EUR") == Money.of("20.05", "EUR")
    assert Money.total([], "USD") == Money.zero("USD")
    assert b < a and a > b and a >= a and b <= b
    assert str(a) == "19.95 EUR"


def test_equal_values_in_different_scales_are_equal() -> None:
    assert Money.of("12.5", "EUR") == Money.of("12.50", "EUR")
    assert hash(Money.of("12.5", "EUR")) == hash(Money.of("12.50", "EUR"))
    assert Money.of("12.50", "EUR") != Money.of("12.50", "USD")


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a >= b,
        lambda a, b: Money.total([a, b], "EUR"),
    ],
)
def test_mixing_currencies_is_refused(operation: object) -> None:
    eur, usd = Money.of("1.00", "EUR"), Money.of("1.00", "USD")
    with pytest.raises(CurrencyMismatchError, match="EUR and USD"):
        operation(eur, usd)  # type: ignore[operator]


@pytest.mark.parametrize("factor", [1.5, Decimal("2"), True, "2"])
def test_multiplication_only_by_int_quantities(factor: object) -> None:
    with pytest.raises(TypeError):
        Money.of("1.00", "EUR") * factor  # type: ignore[operator]


def test_adding_a_non_money_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money.of("1.00", "EUR") + 1  # type: ignore[operator]


@given(a=amounts, b=amounts, qty=st.integers(min_value=0, max_value=10_000), cur=currencies)
def test_arithmetic_matches_decimal_arithmetic(a: Decimal, b: Decimal, qty: int, cur: str) -> None:
    x, y = Money(amount=a, currency=cur), Money(amount=b, currency=cur)
    assert (x + y).amount == a + b
    assert (x - y) + y == x
    assert (x * qty).amount == a * qty
    assert Money.total([x] * qty, cur) == x * qty
