"""Tracking numbers in each carrier's format, generated from a sequence number.

The domain is pure, so a tracking number is a function of a sequence number the caller
draws (from the shipment store, a carrier's range) and the shop's account with the
carrier: the same input always gives the same number. The formats:

- **PostNL** ``3S`` barcode: ``3S`` + the 4-letter customer code + a serial of 7 to 9
  digits (generated with 9: ``3SOMSN000000042``). No check digit.
- **DHL** Express waybill: 10 digits, the last a check digit: the first nine read as one
  number, modulo 7. The first two are the shop's waybill range (``account``).
- **DPD** parcel number: 14 digits, a 4-digit depot then a 10-digit serial. The
  number itself has no check digit (the label's barcode adds one, outside the number).
- **UPS** ``1Z``: ``1Z`` + a 6-character shipper number + a 2-digit service indicator +
  a 7-digit package number + a mod-10 check digit (:func:`ups_check_digit`), 18
  characters in all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from oms_events.contracts.shipping import ShippingMethod
from oms_shipping.domain.carriers import CARRIERS

_POSTNL = re.compile(r"3S[A-Z]{4}[0-9]{7,9}")
_DHL = re.compile(r"[0-9]{10}")
_DPD = re.compile(r"[0-9]{14}")
_UPS = re.compile(r"1Z[0-9A-Z]{16}")

UPS_SERVICE_INDICATOR: Mapping[ShippingMethod, str] = MappingProxyType(
    {ShippingMethod.STANDARD: "11", ShippingMethod.EXPRESS: "65"}
)
"""The 2-digit service part of a UPS number per level (illustrative codes)."""


def _serial(sequence: int, digits: int) -> str:
    if not 0 <= sequence < 10**digits:
        raise ValueError(f"sequence {sequence} does not fit in {digits} digits")
    return f"{sequence:0{digits}d}"


def dhl_check_digit(first_nine: str) -> str:
    """The DHL waybill check digit: the nine digits as a number, modulo 7."""
    return str(int(first_nine) % 7)


def ups_value(char: str) -> int:
    """A character's value in the UPS check: digits as such, letters ``(code - 63) mod 10``.

    So A is 2, B 3, ..., H 9, I 0, J 1, K 2, and so on round again (S is 0, Z is 7).
    """
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return (ord(char) - 63) % 10
    raise ValueError(f"{char!r} cannot appear in a UPS tracking number")


def ups_check_digit(body: str) -> str:
    """The check digit of the 15 characters between ``1Z`` and the check digit.

    Counting from 1, the values at odd positions are added once and those at even
    positions twice; the check digit is what brings the sum up to a multiple of 10.
    """
    if len(body) != 15:
        raise ValueError("a UPS number has 15 characters between '1Z' and the check digit")
    total = sum(ups_value(c) * (2 if i % 2 else 1) for i, c in enumerate(body))
    return str((10 - total % 10) % 10)


def postnl_number(account: str, sequence: int) -> str:
    return f"3S{account}{_serial(sequence, 9)}"


def dhl_number(waybill_range: str, sequence: int) -> str:
    first = f"{waybill_range}{_serial(sequence, 9 - len(waybill_range))}"
    return first + dhl_check_digit(first)


def dpd_number(depot: str, sequence: int) -> str:
    return f"{depot}{_serial(sequence, 10)}"


def ups_number(shipper: str, service: ShippingMethod, sequence: int) -> str:
    body = f"{shipper}{UPS_SERVICE_INDICATOR[service]}{_serial(sequence, 7)}"
    return f"1Z{body}{ups_check_digit(body)}"


def tracking_number(carrier: str, service: ShippingMethod, sequence: int) -> str:
    """The tracking number ``sequence`` gives with ``carrier``'s ``service`` (shop account)."""
    if carrier not in CARRIERS:
        raise ValueError(f"no tracking number format for carrier {carrier!r}")
    account = CARRIERS[carrier].account
    match carrier:
        case "postnl":
            return postnl_number(account, sequence)
        case "dhl":
            return dhl_number(account, sequence)
        case "dpd":
            return dpd_number(account, sequence)
        case "ups":
            return ups_number(account, service, sequence)
    raise ValueError(f"no tracking number format for carrier {carrier!r}")


def _valid_dhl(number: str) -> bool:
    return bool(_DHL.fullmatch(number)) and dhl_check_digit(number[:9]) == number[9]


def _valid_ups(number: str) -> bool:
    return bool(_UPS.fullmatch(number)) and ups_check_digit(number[2:17]) == number[17]


VALIDATORS: Mapping[str, Callable[[str], bool]] = MappingProxyType(
    {
        "postnl": lambda n: bool(_POSTNL.fullmatch(n)),
        "dhl": _valid_dhl,
        "dpd": lambda n: bool(_DPD.fullmatch(n)),
        "ups": _valid_ups,
    }
)


def is_valid(carrier: str, number: str) -> bool:
    """True when ``number`` has ``carrier``'s format (and check digit, where it has one)."""
    check = VALIDATORS.get(carrier)
    return check is not None and check(number)
