"""Unit tests for Money: exact amounts, wire format and currency-safe arithmetic."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from oms_events.limits import MAX_AMOUNT_DECIMALS
from oms_events.money import (
    AMOUNT_PATTERN,
    MINOR_UNITS,
    CurrencyMismatchError,
    Money,
    minor_unit,
    minor_units,
)

currencies = st.sampled_from(["EUR", "USD", "GBP", "JPY", "KWD"])


def amounts(currency: str, limit: int = 10**9) -> st.SearchStrategy[Decimal]:
    """Amounts with the currency's own number of decimal places."""
    return st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=minor_units(currency),
        min_value=-limit,
        max_value=limit,
    )


money = currencies.flatmap(lambda c: amounts(c).map(lambda a: Money(amount=a, currency=c)))


def test_accepts_decimal_int_and_decimal_string() -> None:
    assert Money.of("12.50", "EUR").amount == Decimal("12.50")
    assert Money.of(12, "EUR").amount == Decimal(12)
    assert Money(amount=Decimal("0.01"), currency="USD").amount == Decimal("0.01")


@pytest.mark.parametrize("value", [12.5, 0.1, 1.0, True])
def test_rejects_floats_and_booleans(value: object) -> None:
    with pytest.raises(ValidationError, match=r"float amounts are not allowed|not an amount"):
        Money.model_validate({"amount": value, "currency": "EUR"})


@pytest.mark.parametrize(
    "value",
    ["1e3", "1E+2", "12,50", "", " 12.50", "12.50\n", "NaN", "Infinity", "-Infinity", "+1", "1."],
)
def test_rejects_amount_strings_that_are_not_plain_decimals(value: str) -> None:
    with pytest.raises(ValidationError, match="plain decimal string"):
        Money.of(value, "EUR")


def test_the_wire_pattern_allows_twelve_digits_and_three_decimals() -> None:
    assert AMOUNT_PATTERN == r"^-?[0-9]{1,12}(\.[0-9]{1,3})?$"


@pytest.mark.parametrize("sign", ["", "-"])
def test_at_most_twelve_digits_before_the_point(sign: str) -> None:
    assert Money.of(f"{sign}999999999999.99", "EUR").amount == Decimal(f"{sign}999999999999.99")
    assert Money.of(int(f"{sign}999999999999"), "EUR").amount == Decimal(f"{sign}999999999999")
    with pytest.raises(ValidationError, match="at most 12 digits before the point"):
        Money.of(f"{sign}1000000000000", "EUR")
    with pytest.raises(ValidationError, match="at most 12 digits before the point"):
        Money.of(int(f"{sign}1000000000000"), "EUR")
    with pytest.raises(ValidationError, match="at most 12 digits before the point"):
        Money.of(Decimal(f"{sign}1000000000000.00"), "EUR")
    with pytest.raises(ValidationError, match="at most 12 digits before the point"):
        Money.of(10**309, "EUR")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("NaN"), "finite number"),
        (Decimal("sNaN"), "finite number"),
        (Decimal("Infinity"), "finite number"),
        (Decimal("-Infinity"), "finite number"),
        (Decimal("1E+2"), "exponent notation"),
        (Decimal("1E+999999999"), "exponent notation"),
        (Decimal("1E-999999999"), "at most 3 decimal places"),
        (Decimal("0.0001"), "at most 3 decimal places"),
    ],
)
def test_decimals_built_in_code_are_held_to_the_wire_form(value: Decimal, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Money(amount=value, currency="KWD")


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        *[("EUR", 2), ("USD", 2), ("XBT", 2)],
        *[("JPY", 0), ("KRW", 0), ("ISK", 0), ("CLP", 0), ("VND", 0)],
        *[("BHD", 3), ("KWD", 3), ("OMR", 3), ("JOD", 3), ("TND", 3), ("IQD", 3), ("LYD", 3)],
    ],
)
def test_amounts_have_at_most_the_currencys_minor_units(currency: str, places: int) -> None:
    assert minor_units(currency) == places
    assert minor_unit(currency) == Decimal(1).scaleb(-places)
    exact = "7" if places == 0 else "7." + "5" * places
    assert Money.of(exact, currency).amount == Decimal(exact)
    assert Money(amount=Decimal(exact), currency=currency).amount == Decimal(exact)
    if places < 3:
        too_precise = exact + "5" if places else "7.5"
        reason = f"{currency} amounts have at most {places} decimal places \\(ISO 4217\\)"
        with pytest.raises(ValidationError, match=reason):
            Money.of(too_precise, currency)
        with pytest.raises(ValidationError, match=reason):
            Money(amount=Decimal(too_precise), currency=currency)


def test_trailing_zeros_count_as_decimal_places() -> None:
    # The scale is the form, not just the value: "100.00 JPY" is not how yen are written.
    with pytest.raises(ValidationError, match="JPY amounts have at most 0 decimal places"):
        Money.of("100.00", "JPY")
    assert Money.of("100", "JPY") == Money.of(100, "JPY")


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
    assert json.loads(Money.of("0.001", "KWD").model_dump_json())["amount"] == "0.001"
    assert json.loads(Money.of("-0.10", "EUR").model_dump_json())["amount"] == "-0.10"


@given(money=money)
def test_json_round_trip_is_exact(money: Money) -> None:
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


@given(data=st.data(), qty=st.integers(min_value=0, max_value=10_000), cur=currencies)
def test_arithmetic_matches_decimal_arithmetic(data: st.DataObject, qty: int, cur: str) -> None:
    a, b = data.draw(amounts(cur, 10**7)), data.draw(amounts(cur, 10**7))
    x, y = Money(amount=a, currency=cur), Money(amount=b, currency=cur)
    assert (x + y).amount == a + b
    assert (x - y) + y == x
    assert (x * qty).amount == a * qty
    assert Money.total([x] * qty, cur) == x * qty
    # Sums and whole multiples never need more decimal places than their parts.
    assert (x * qty + y).amount.as_tuple().exponent == -minor_units(cur)


def test_arithmetic_beyond_the_bounds_fails_at_the_result() -> None:
    largest = Money.of("999999999999.99", "EUR")
    with pytest.raises(ValidationError, match="at most 12 digits before the point"):
        largest + Money.of("0.01", "EUR")
    with pytest.raises(ValidationError, match="at most 12 digits before the point"):
        largest * 2


def test_a_total_is_bounded_only_at_the_end() -> None:
    # Partial sums may pass the bound on the way, as long as the total is within it.
    big, back = Money.of("900000000000", "EUR"), Money.of("-900000000000", "EUR")
    assert Money.total([big, big, back, back], "EUR") == Money.zero("EUR")
    with pytest.raises(ValidationError, match="at most 12 digits before the point"):
        Money.total([big, big], "EUR")


def test_no_currency_needs_more_decimals_than_the_wire_pattern_allows() -> None:
    assert max(MINOR_UNITS.values()) <= MAX_AMOUNT_DECIMALS
