"""Contracts published by sales-platform adapters on ``oms.platform.ingress``.

``OrderSubmitted`` is the one contract here with a history: version 1 carried the buyer as
two top-level fields, version 2 groups them into a :class:`Customer`. Version 1 stays
registered (its schema is frozen and still checked) and an upcaster turns stored or
in-flight v1 payloads into v2, so consumers only ever handle :class:`OrderSubmitted`.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field, model_validator

from oms_events.base import Event
from oms_events.contracts.common import (
    Address,
    Customer,
    Email,
    Id,
    Name,
    OrderLine,
    Payment,
    check_order_amounts,
    order_total,
)
from oms_events.limits import MAX_LINES, MAX_PAYMENTS
from oms_events.money import Money
from oms_events.registry import registry


class _SubmittedOrder(Event):
    """Fields shared by all versions of OrderSubmitted (abstract: no type_name)."""

    platform_order_ref: Id = Field(
        description="The sales platform's own order number; unique per sales channel."
    )
    sales_channel: Name = Field(description="Where the order was placed, e.g. 'webshop-nl'.")
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=MAX_LINES)
    shipping_address: Address
    shipping_charge: Money = Field(description="What the customer pays for delivery.")
    payments: tuple[Payment, ...] = Field(
        min_length=1,
        max_length=MAX_PAYMENTS,
        description="How the order is paid; may combine several methods.",
    )
    placed_at: AwareDatetime = Field(description="When the customer placed the order.")

    @model_validator(mode="after")
    def _amounts(self) -> _SubmittedOrder:
        check_order_amounts(self.lines, self.shipping_charge, self.payments)
        return self

    @property
    def total(self) -> Money:
        """What the customer owes: all lines plus the shipping charge."""
        return order_total(self.lines, self.shipping_charge)


@registry.register
class OrderSubmittedV1(_SubmittedOrder, type_name="OrderSubmitted", version=1):
    """Version 1 of OrderSubmitted, superseded by version 2 (which nests the customer).

    No longer produced; kept so that v1 messages stay readable (they are upcast to v2).
    """

    customer_id: Id
    customer_email: Email


@registry.register
class OrderSubmitted(_SubmittedOrder, type_name="OrderSubmitted", version=2):
    """A sales platform submitted an order; the order service will place or reject it.

    Stream: the platform order, keyed by ``platform_order_ref``.
    """

    customer: Customer


@registry.upcaster("OrderSubmitted", from_version=1)
def order_submitted_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Move ``customer_id``/``customer_email`` into the nested ``customer`` object."""
    upcast = dict(payload)
    upcast["customer"] = {
        "customer_id": upcast.pop("customer_id"),
        "email": upcast.pop("customer_email"),
    }
    return upcast
