"""Tracking numbers: each carrier's format, deterministic, with check digits that catch typos."""

from __future__ import annotations

import pytest

from oms_events.contracts.shipping import ShippingMethod
from oms_shipping.domain.tracking import (
    dhl_check_digit,
    is_valid,
    tracking_number,
    ups_check_digit,
    ups_value,
)

STANDARD, EXPRESS = ShippingMethod.STANDARD, ShippingMethod.EXPRESS


def test_the_documented_ups_example_validates_and_its_check_digit_is_computed() -> None:
    # The widely published UPS sample number: check digit 4.
    assert ups_check_digit("999AA1012345678") == "4"
    assert is_valid("ups", "1Z999AA10123456784")
    assert not is_valid("ups", "1Z999AA10123456785")


def test_ups_letters_count_by_their_code_modulo_ten() -> None:
    assert [ups_value(c) for c in "AHIJKSZ"] == [2, 9, 0, 1, 2, 0, 7]
    assert ups_value("7") == 7
    with pytest.raises(ValueError):
        ups_value("a")


def test_ups_numbers_have_the_1z_layout_and_a_valid_check_digit() -> None:
    number = tracking_number("ups", EXPRESS, 42)
    assert number == "1ZA1B2C3650000042" + ups_check_digit("A1B2C3650000042")
    assert len(number) == 18
    assert is_valid("ups", number)
    assert tracking_number("ups", STANDARD, 42)[8:10] == "11"


def test_a_single_changed_digit_fails_the_ups_check() -> None:
    number = tracking_number("ups", STANDARD, 1234567)
    for i in range(2, 17):
        if number[i].isdigit():
            changed = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
            assert not is_valid("ups", changed), changed


def test_dhl_waybills_are_ten_digits_with_a_mod_7_check_digit() -> None:
    number = tracking_number("dhl", EXPRESS, 42)
    assert number == "370000042" + str(370000042 % 7)
    assert is_valid("dhl", number)
    assert dhl_check_digit("123456789") == str(123456789 % 7)
    wrong = number[:9] + str((int(number[9]) + 1) % 10)
    assert not is_valid("dhl", wrong)
    assert not is_valid("dhl", number[:9])


def test_postnl_3s_barcodes_and_dpd_14_digit_numbers() -> None:
    postnl = tracking_number("postnl", STANDARD, 42)
    assert postnl == "3SOMSN000000042"
    assert is_valid("postnl", postnl)
    assert is_valid("postnl", "3SABCD1234567")  # the 7-digit serial form
    assert not is_valid("postnl", "3Sabcd1234567")
    assert not is_valid("postnl", "3SABCD123456")
    dpd = tracking_number("dpd", STANDARD, 42)
    assert dpd == "05300000000042" and len(dpd) == 14
    assert is_valid("dpd", dpd)
    assert not is_valid("dpd", dpd + "1")


def test_numbers_are_deterministic_and_distinct_per_sequence() -> None:
    for carrier in ("postnl", "dhl", "dpd", "ups"):
        first = tracking_number(carrier, STANDARD, 7)
        assert first == tracking_number(carrier, STANDARD, 7)
        assert first != tracking_number(carrier, STANDARD, 8)
        assert is_valid(carrier, first)
        # A number of one carrier is not taken for another's.
        others = {"postnl", "dhl", "dpd", "ups"} - {carrier}
        assert not any(is_valid(o, first) for o in others)


def test_a_sequence_beyond_the_format_or_an_unknown_carrier_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        tracking_number("ups", STANDARD, 10_000_000)
    with pytest.raises(ValueError, match="does not fit"):
        tracking_number("dhl", STANDARD, -1)
    with pytest.raises(ValueError, match="no tracking number format"):
        tracking_number("gls", STANDARD, 1)
    assert not is_valid("gls", "123")
