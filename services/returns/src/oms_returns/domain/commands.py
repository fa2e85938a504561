"""What the returns service is asked to do, and the plain values about the order it needs.

The return's own stream knows only the return. What the order delivered, what earlier
returns took back and what the payments captured live in other services; the handler
loads them (from its read models of their events) into :class:`Delivered` and
:class:`OrderAccount` and passes them in the command, with the clock and the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from oms_events.contracts.common import PaymentMethod
from oms_events.contracts.returns import ReturnReason
from oms_events.money import Money
from oms_returns.domain.policy import RefundRules, ReturnWindow
from oms_returns.domain.rma import rma_number

# -- what the order says (loaded by the handler) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveredSku:
    """Units of one SKU delivered to the customer, at what price, and when.

    One entry per SKU: a return names SKUs, not order lines. If an order had one SKU on
    lines at different prices, the handler passes the lowest, so a refund never exceeds
    what the customer paid for any of the units.
    """

    sku: str
    quantity: int
    unit_price: Money
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a return request is decided against.

    ``already_returned`` counts, per SKU, the units of the order's *other* returns that
    are authorised and not expired, or were accepted: units on their way back cannot be
    asked for twice.
    """

    lines: tuple[DeliveredSku, ...]
    already_returned: Mapping[str, int] = field(default_factory=dict)

    def of(self, sku: str) -> DeliveredSku | None:
        return next((d for d in self.lines if d.sku == sku), None)


@dataclass(frozen=True, slots=True)
class CapturedPayment:
    """One of the order's payments: what was captured and what was refunded of it already."""

    payment_id: str
    method: PaymentMethod
    captured: Money
    refunded: Money | None = None
    """None: nothing refunded yet."""

    @property
    def refundable(self) -> Money:
        """What may still go back to this payment (never below zero)."""
        left = self.captured - self.refunded if self.refunded is not None else self.captured
        return left if left.amount > 0 else Money.zero(self.captured.currency)


@dataclass(frozen=True, slots=True)
class OrderAccount:
    """What a received return's refund is computed from.

    ``accepted_before``: units of this order accepted back by earlier returns (for "the
    whole order came back" and the order's status). ``shipping_refunded``: shipping already
    refunded by an earlier return, so shipping is refunded at most once.
    """

    delivered: tuple[DeliveredSku, ...]
    shipping_charge: Money
    payments: tuple[CapturedPayment, ...]
    accepted_before: Mapping[str, int] = field(default_factory=dict)
    shipping_refunded: Money | None = None

    @property
    def currency(self) -> str:
        return self.shipping_charge.currency

    def price_of(self, sku: str) -> Money | None:
        return next((d.unit_price for d in self.delivered if d.sku == sku), None)


# -- the commands ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestedLine:
    sku: str
    quantity: int
    reason: ReturnReason
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class RequestReturn:
    """A customer asks to send back ``lines`` of ``order_id``.

    ``request_id`` (the request's idempotency key, or an id the handler generates) names the
    return: :attr:`rma` is derived from it, and the handler loads ``return-<rma>``.
    ``warehouse`` is where the goods go; ``label_cost`` is what the booked label costs.
    """

    request_id: str
    order_id: str
    lines: tuple[RequestedLine, ...]
    warehouse: str
    delivered: Delivered
    now: datetime
    label_cost: Money | None = None
    window: ReturnWindow = field(default_factory=ReturnWindow)

    @property
    def rma(self) -> str:
        return rma_number(self.request_id)


class Condition(StrEnum):
    """A returned line as the warehouse finds it; ``missing``: authorised but not in the parcel."""

    RESELLABLE = "resellable"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class ReceivedLine:
    sku: str
    quantity: int
    condition: Condition


@dataclass(frozen=True, slots=True)
class ReceiveReturn:
    """The warehouse opened the parcel of ``rma``: per line the units and their condition.

    Authorised units the receipt does not mention are missing, as if listed so.
    """

    rma: str
    lines: tuple[ReceivedLine, ...]
    account: OrderAccount
    rules: RefundRules = field(default_factory=RefundRules)


@dataclass(frozen=True, slots=True)
class ExpireReturn:
    """A sweep found ``rma`` authorised and not received; ``now`` is the sweep's clock."""

    rma: str
    now: datetime


ReturnCommand = RequestReturn | ReceiveReturn | ExpireReturn
