"""Value objects and constrained scalars shared by several services' contracts.

Changing anything here changes every contract that uses it; the schema compatibility test
(`tests/contract`) will point at each affected event.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from oms_events.base import ContractModel
from oms_events.money import Money

Id = Annotated[str, Field(min_length=1, max_length=100)]
"""An identifier; always a string on the wire, whatever the issuing system uses."""

Sku = Annotated[str, Field(min_length=1, max_length=64)]
"""A stock keeping unit code."""

# strict: a quantity of "2" or 2.0 on the wire is a producer bug, not something to coerce.
Quantity = Annotated[int, Field(strict=True, gt=0)]
"""A number of units, at least 1."""

StockLevel = Annotated[int, Field(strict=True, ge=0)]
"""A number of units that may be zero (e.g. available stock)."""

Grams = Annotated[int, Field(strict=True, gt=0)]
"""A weight in whole grams."""

Text = Annotated[str, Field(min_length=1, max_length=2000)]
"""Free human-readable text (reasons, explanations)."""

Name = Annotated[str, Field(min_length=1, max_length=200)]
"""A short name or label (carrier, provider, sales channel, person)."""

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
"""An e-mail address (a syntax sanity check; deliverability is not this layer's concern)."""

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
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    city: Name
    region: Name | None = Field(default=None, description="State or province, where used.")
    country: CountryCode
    phone: Annotated[str, Field(min_length=1, max_length=40)] | None = None


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
    gift_card_code: Id | None = Field(
        default=None, description="The gift card to debit, for method gift_card."
    )


class SkuQuantity(ContractModel):
    """A number of units of one SKU."""

    sku: Sku
    quantity: Quantity


class Allocation(ContractModel):
    """Units of one order line reserved in one warehouse."""

    line_id: Id
    sku: Sku
    warehouse_id: Id
    quantity: Quantity


class ReturnedLine(ContractModel):
    """Units of one SKU received back, with their inspected condition."""

    sku: Sku
    quantity: Quantity
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


def check_order_currency(
    lines: Iterable[OrderLine], shipping_charge: Money, payments: Iterable[Payment]
) -> None:
    """Raise ``ValueError`` unless every amount of an order is in one currency."""
    single_currency(
        [line.unit_price for line in lines] + [shipping_charge] + [p.amount for p in payments]
    )
