"""The state of an order's billing as payments folds it: the billing stream and its payments.

See :mod:`oms_payments.domain.billing` for what the billing decides and its rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from oms_events.base import Event
from oms_events.contracts import (
    OrderBillingCancelled,
    OrderBillingOpened,
    OrderLine,
    Payment,
    ShipmentBilled,
    SkuQuantity,
)
from oms_events.contracts.payments import ShipmentBillingReversed, UnitsWaived
from oms_events.money import Money
from oms_payments.domain import payment as pay
from oms_payments.domain.payment import PaymentState

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Billing:
    """The order's own billing stream, folded."""

    order_id: str = ""
    opened: bool = False
    cancelled: str | None = None
    customer_email: str = ""
    currency: str = "EUR"
    lines: tuple[OrderLine, ...] = ()
    shipping_charge: Decimal = ZERO
    payments: tuple[Payment, ...] = ()
    shipments: Mapping[str, ShipmentBilled] = field(default_factory=dict)
    billed_units: Mapping[str, int] = field(default_factory=dict)
    """Order line id -> units billed so far."""
    waived: Mapping[str, UnitsWaived] = field(default_factory=dict)
    """Fulfilment id -> its short-picked units, waived."""
    waived_units: Mapping[str, int] = field(default_factory=dict)
    """Order line id -> units waived so far."""
    reversed: Mapping[str, ShipmentBillingReversed] = field(default_factory=dict)
    """Shipment id -> its reversal (a lost or returned parcel), billed or not yet."""

    @property
    def billed_total(self) -> Decimal:
        return sum((s.amount.amount for s in self.shipments.values()), ZERO)

    @property
    def settled(self) -> bool:
        """Every ordered unit is billed or waived: nothing more will be charged."""
        return bool(self.lines) and all(
            self.billed_units.get(line.line_id, 0) + self.waived_units.get(line.line_id, 0)
            >= line.quantity
            for line in self.lines
        )

    def billed_to(self, payment_id: str) -> Decimal:
        """The sum of a payment's shares of the shipments billed."""
        return sum(
            (
                share.amount.amount
                for s in self.shipments.values()
                for share in s.payments
                if share.payment_id == payment_id
            ),
            ZERO,
        )

    @property
    def payment_ids(self) -> list[str]:
        return [p.payment_id for p in self.payments]

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)


@dataclass(frozen=True, slots=True)
class OrderBilling:
    """What billing decisions need: the order's billing and the state of its payments.

    A billing decision touches the order's stream and its payments' streams together
    (opening requests each payment, a shipment requests captures), so its state is both;
    the handler loads them and routes each decided event to its own stream.
    """

    billing: Billing = field(default_factory=Billing)
    payments: Mapping[str, PaymentState] = field(default_factory=dict)
    """The state of each payment of the order (and of any payment id it names), by id."""

    def payment(self, payment_id: str) -> PaymentState:
        return self.payments.get(payment_id) or PaymentState(payment_id=payment_id)


def evolve_billing(billing: Billing, event: Event) -> Billing:
    """The order's billing after one event of its own stream."""
    match event:
        case OrderBillingOpened():
            return replace(
                billing,
                order_id=event.order_id,
                opened=True,
                customer_email=event.customer_email,
                currency=event.shipping_charge.currency,
                lines=event.lines,
                shipping_charge=event.shipping_charge.amount,
                payments=event.payments,
            )
        case OrderBillingCancelled():
            return replace(billing, order_id=event.order_id, cancelled=event.reason)
        case ShipmentBilled():
            units, _, _ = count_units(billing, event.lines, billing.billed_units)
            return replace(
                billing,
                shipments=MappingProxyType({**billing.shipments, event.shipment_id: event}),
                billed_units=MappingProxyType(units),
            )
        case UnitsWaived():
            units, _, _ = count_units(billing, event.lines, billing.waived_units)
            return replace(
                billing,
                waived=MappingProxyType({**billing.waived, event.fulfilment_id: event}),
                waived_units=MappingProxyType(units),
            )
        case ShipmentBillingReversed():
            return replace(
                billing,
                reversed=MappingProxyType({**billing.reversed, event.shipment_id: event}),
            )
    return billing


def evolve(state: OrderBilling, event: Event) -> OrderBilling:
    """Billing events move the billing, payment events the payment they name."""
    if isinstance(event, pay.PAYMENT_EVENTS):
        payment_id = str(getattr(event, "payment_id"))  # noqa: B009 (every one has it)
        moved = pay.evolve(state.payment(payment_id), event)
        return replace(state, payments=MappingProxyType({**state.payments, payment_id: moved}))
    return replace(state, billing=evolve_billing(state.billing, event))


def folded(state: OrderBilling, events: Sequence[Event]) -> OrderBilling:
    """``state`` after ``events`` (decided, not yet recorded)."""
    for event in events:
        state = evolve(state, event)
    return state


# -- valuation -------------------------------------------------------------------------


def count_units(
    billing: Billing, items: Sequence[SkuQuantity], counted: Mapping[str, int]
) -> tuple[dict[str, int], Decimal, list[SkuQuantity]]:
    """``counted`` (billed or waived units per line) after ``items``, their value, and the
    units taken (per SKU). A line takes only units it has neither billed nor waived."""
    units = dict(counted)
    value = ZERO
    taken: dict[str, int] = {}
    for item in items:
        left = item.quantity
        for line in billing.lines:
            if line.sku != item.sku or left == 0:
                continue
            done = billing.billed_units.get(line.line_id, 0) + billing.waived_units.get(
                line.line_id, 0
            )
            done += units.get(line.line_id, 0) - counted.get(line.line_id, 0)
            take = min(left, line.quantity - done)
            if take > 0:
                units[line.line_id] = units.get(line.line_id, 0) + take
                value += line.unit_price.amount * take
                taken[item.sku] = taken.get(item.sku, 0) + take
                left -= take
    return units, value, [SkuQuantity(sku=sku, quantity=q) for sku, q in taken.items()]
