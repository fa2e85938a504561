"""The shop's return settings, as small immutable values the commands carry.

Settings travel with the command (the handler reads them from configuration) instead of
living in the decider, so a decision depends only on what it is given and a test can
state the rule it exercises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from oms_events.contracts.returns import ReturnReason

SHOP_FAULT_REASONS = frozenset(
    {
        ReturnReason.DAMAGED,
        ReturnReason.DEFECTIVE,
        ReturnReason.WRONG_ITEM,
        ReturnReason.NOT_AS_DESCRIBED,
        ReturnReason.ARRIVED_LATE,
    }
)
"""Reasons that are the shop's (or its carrier's) fault, not the customer's choice."""


@dataclass(frozen=True, slots=True)
class ReturnWindow:
    """How long a customer may ask, and how long an authorised return waits for the goods.

    ``days_after_delivery`` counts from the delivery of the SKU asked about (a split order
    may have been delivered on several days); a request at exactly the end of the window
    is still in it. An authorisation lapses ``authorisation_valid_for`` after it is given.
    """

    days_after_delivery: timedelta = timedelta(days=30)
    authorisation_valid_for: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class RefundRules:
    """When shipping is refunded, and in which order the payments are refunded.

    Shipping (what is left of the order's shipping charge, once per order) is refunded when
    the return completes the order (every delivered unit is back and accepted) and/or when
    any accepted unit came back for one of ``shop_fault_reasons``. Gift cards are refunded
    last by default (the customer gets their money back where it came from first); with
    ``gift_card_first`` they are refunded first, keeping the money as shop credit.
    """

    refund_shipping_on_whole_order: bool = True
    refund_shipping_on_shop_fault: bool = True
    shop_fault_reasons: frozenset[ReturnReason] = field(default=SHOP_FAULT_REASONS)
    gift_card_first: bool = False
