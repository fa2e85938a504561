"""Contracts published by the returns service on ``oms.returns.events``.

Stream: one per return, keyed by ``return_id``; the correlation id stays the order id.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import Id, ReturnedLine, Sku, SkuQuantity, Text, Units
from oms_events.limits import MAX_LINES
from oms_events.money import Money
from oms_events.registry import registry


class ReturnReason(StrEnum):
    """Why the customer sends an item back."""

    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    NO_LONGER_NEEDED = "no_longer_needed"


class ReturnRequestLine(ContractModel):
    """Units of one SKU the customer wants to return, and why."""

    sku: Sku
    quantity: Units
    reason: ReturnReason
    comment: Text | None = None


@registry.register
class ReturnRequested(Event, type_name="ReturnRequested", version=1):
    """A customer asked to return (part of) a delivered order."""

    return_id: Id
    order_id: Id
    lines: tuple[ReturnRequestLine, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class ReturnAuthorized(Event, type_name="ReturnAuthorized", version=1):
    """The return was accepted; the customer may send these lines to ``warehouse_id``."""

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class ReturnReceived(Event, type_name="ReturnReceived", version=1):
    """The warehouse received and inspected the returned items.

    Inventory restocks or writes off each line by condition; payments refunds
    ``refund_amount``, which the returns service computed from the order's prices.
    """

    return_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[ReturnedLine, ...] = Field(min_length=1, max_length=MAX_LINES)
    refund_amount: Money
