"""Value objects and constrained scalars shared by several services' contracts.

Changing anything here changes every contract that uses it; the schema compatibility test
(`tests/contract`) will point at each affected event.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from oms_events.base import ContractModel
from oms_events.limits import (
    MAX_AMOUNT_INTEGER_DIGITS,
    MAX_EMAIL_LENGTH,
    MAX_GRAMS,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PHONE_LENGTH,
    MAX_POSTAL_CODE_LENGTH,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_STOCK_LEVEL,
    MAX_TEXT_LENGTH,
    MULTI_LINE_PATTERN,
    SINGLE_LINE_PATTERN,
)
from oms_events.money import Money

# Every string in a contract is bounded in length and refuses control characters (see
# oms_events.limits); the pattern is in the schema, so generators and other languages see it.
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=SINGLE_LINE_PATTERN)]
"""An identifier; always a string on the wire, whatever the issuing system uses."""

Sku = Annotated[str, Field(min_length=1, max_length=MAX_SKU_LENGTH, pattern=SINGLE_LINE_PATTERN)]
"""A stock keeping unit code."""

# strict: a quantity of "2" or 2.0 on the wire is a producer bug, not something to coerce.
Quantity = Annotated[int, Field(strict=True, gt=0, le=MAX_QUANTITY)]
"""A number of units on one order line (or part of one), 1 to ``MAX_QUANTITY``."""

Units = Annotated[int, Field(strict=True, gt=0, le=MAX_STOCK_LEVEL)]
"""A positive number of units of one SKU that may add up several order lines (a shipment,
a shortage) or be a stock movement (a receipt, a transfer); at most ``MAX_STOCK_LEVEL``."""

StockLevel = Annotated[int, Field(strict=True, ge=0, le=MAX_STOCK_LEVEL)]
"""A number of units that may be zero (e.g. available stock), at most ``MAX_STOCK_LEVEL``."""

Grams = Annotated[int, Field(strict=True, gt=0, le=MAX_GRAMS)]
"""A weight in whole grams."""

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=MULTI_LINE_PATTERN)]
"""Free human-readable text (reasons, explanations); may span lines (tab, CR, LF)."""

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=SINGLE_LINE_PATTERN)]
"""A short name or label (carrier, provider, sales channel, person)."""

GIFT_CARD_TOKEN_PATTERN = r"^gc_[a-z2-7]{26}$"
GiftCardToken = Annotated[
    str,
    Field(
        pattern=GIFT_CARD_TOKEN_PATTERN,
        description=(
            "A gift card as it travels: 'gc_' and a keyed hash of its code (the payments "
            "service's POST /v1/gift-cards/tokens exchanges a code for it). A card's code is "
            "a secret and is never in an event, a stream id or a Kafka key."
        ),
        examples=["gc_k3v7q2m5xza4d6fqh2j4l6nyp2"],
    ),
]
"""A gift card's token: the keyed hash of its code; codes themselves never travel."""

# The control-character ranges of SINGLE_LINE_PATTERN, inside the e-mail syntax check.
_EMAIL_PART = r"[^@\s\x00-\x1f\x7f-\x9f]+"
EMAIL_PATTERN = rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=MAX_EMAIL_LENGTH)]
"""An e-mail address (a syntax sanity check; deliverability is not this layer's concern)."""

PostalCode = Annotated[
    str, Field(min_length=1, max_length=MAX_POSTAL_CODE_LENGTH, pattern=SINGLE_LINE_PATTERN)
]
"""A postal code as the country writes it (``1016 GV``, ``75001``, ``SW1A 1AA``)."""

Phone = Annotated[
    str, Field(min_length=1, max_length=MAX_PHONE_LENGTH, pattern=SINGLE_LINE_PATTERN)
]
"""A telephone number as the customer gave it."""

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["NL"])]
"""An ISO 3166-1 alpha-2 country code in upper case."""


class PaymentMethod(StrEnum):
    """How (part of) an order is paid."""

    CARD = "card"
    IDEAL = "ideal"
    PAYPAL = "paypal"
    BANK_TRANSFER = "bank_transfer"
    GIFT_CARD = "gift_card"
    INVOICE = "invoice"
    """Buy now, pay later: the customer pays the provider's invoice after delivery."""
    CASH_ON_DELIVERY = "cash_on_delivery"


class ItemCondition(StrEnum):
    """The state of a returned item as inspected in the warehouse."""

    RESELLABLE = "resellable"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"


class Customer(ContractModel):
    """The buyer, as identified by the sales platform."""

    customer_id: Id
    email: Email


class Address(ContractModel):
    """A postal delivery address."""

    recipient: Name
    line1: Name
    line2: Name | None = None
    postal_code: PostalCode
    city: Name
    region: Name | None = Field(default=None, description="State or province, where used.")
    country: CountryCode
    phone: Phone | None = None


class OrderLine(ContractModel):
    """One line of an order: ``quantity`` units of ``sku`` at ``unit_price`` each."""

    line_id: Id = Field(description="The platform's id of the line, unique within the order.")
    sku: Sku
    quantity: Quantity
    unit_price: Money

    @property
    def line_total(self) -> Money:
        """``unit_price * quantity``."""
        return self.unit_price * self.quantity


class Payment(ContractModel):
    """A part of an order's payment; an order may combine e.g. a gift card and a card."""

    payment_id: Id = Field(description="Identifies this payment in all payments events.")
    method: PaymentMethod
    amount: Money
    gift_card: GiftCardToken | None = Field(
        default=None,
        description=(
            "The gift card to debit, for method gift_card: its token from the payments "
            "service's POST /v1/gift-cards/tokens, never its code."
        ),
    )
    gift_card_code: Id | None = Field(
        default=None,
        description=(
            "Legacy: a gift card's plain code, as events recorded before codes became secrets "
            "carry it. Read only; the order service refuses a submission that sends one."
        ),
    )


class SkuQuantity(ContractModel):
    """A number of units of one SKU (all the order's lines of that SKU together)."""

    sku: Sku
    quantity: Units


class Allocation(ContractModel):
    """Units of one order line reserved in one warehouse."""

    line_id: Id
    sku: Sku
    warehouse_id: Id
    quantity: Quantity


class ReturnedLine(ContractModel):
    """Units of one SKU received back, with their inspected condition."""

    sku: Sku
    quantity: Units
    condition: ItemCondition


def single_currency(amounts: Iterable[Money]) -> str | None:
    """The one currency of ``amounts``; raises ``ValueError`` if they mix currencies."""
    currencies = {m.currency for m in amounts}
    if len(currencies) > 1:
        raise ValueError(f"all amounts must be in one currency, got {sorted(currencies)}")
    return next(iter(currencies), None)


def order_total(lines: Iterable[OrderLine], shipping_charge: Money) -> Money:
    """What a customer owes for ``lines`` plus ``shipping_charge``."""
    return Money.total((line.line_total for line in lines), shipping_charge.currency) + (
        shipping_charge
    )


def check_order_amounts(
    lines: Iterable[OrderLine], shipping_charge: Money, payments: Iterable[Payment]
) -> None:
    """Raise ``ValueError`` unless an order's amounts are in one currency and within bounds.

    Within bounds: every line total, the lines together, the order total and the payments
    together have at most ``MAX_AMOUNT_INTEGER_DIGITS`` digits before the point, so the
    sums that services compute from a valid order are valid ``Money`` too.
    """
    lines, payments = tuple(lines), tuple(payments)
    single_currency(
        [line.unit_price for line in lines] + [shipping_charge] + [p.amount for p in payments]
    )
    limit = Decimal(10) ** MAX_AMOUNT_INTEGER_DIGITS
    too_big = f"must have at most {MAX_AMOUNT_INTEGER_DIGITS} digits before the point"
    lines_total = Decimal(0)
    for i, line in enumerate(lines):
        line_total = line.unit_price.amount * line.quantity
        if abs(line_total) >= limit:
            raise ValueError(f"lines.{i}: unit_price x quantity {too_big}")
        lines_total += line_total
    if abs(lines_total) >= limit:
        raise ValueError(f"the lines together {too_big}")
    if abs(lines_total + shipping_charge.amount) >= limit:
        raise ValueError(f"the order total {too_big}")
    if abs(sum((p.amount.amount for p in payments), Decimal(0))) >= limit:
        raise ValueError(f"the payments together {too_big}")
