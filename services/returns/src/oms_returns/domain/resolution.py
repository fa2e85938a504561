"""What a received return comes to: refund, shipping, payment split, stock, order status.

Pure functions over the receipt and the order's :class:`~commands.OrderAccount`.

* **Accepted units** are the units that arrived, resellable, damaged or defective alike: the
  customer sent them back, and a unit damaged on the way back (or the very damage they
  returned it for) is the shop's and the carrier's risk, not the customer's. **Missing**
  units (authorised, not in the parcel) are not refunded.
* **The refund** is exactly ``unit_price * units`` per accepted SKU, plus shipping by
  :class:`~policy.RefundRules`: what is left of the order's shipping charge, when this
  return completes the order or an accepted unit came back for a shop-fault reason.
* **Rounding**: there is none to do. Every amount is a unit price times whole units, the
  shipping charge, or a part of a payment taken whole up to its remaining capture; nothing
  is divided or multiplied by a rate, so every result is exact in the currency's minor
  units (``Money`` refuses anything finer).
* **Payment split**: the refund fills the order's payments one after the other, each up to
  what it has left to refund (captured minus refunded): non-gift-card payments in the
  order's payment order, gift cards last (or first, by setting). What no payment can take
  is ``unallocated``, left for customer service rather than refunded twice or invented.
* **Stock**: resellable units are restocked, damaged and defective ones written off.
* **Order status**: ``returned`` when every delivered unit has been accepted back over all
  the order's returns, ``partially_returned`` when some have, none when none has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from oms_events.contracts.common import ItemCondition, PaymentMethod, ReturnedLine, SkuQuantity
from oms_events.contracts.returns import (
    MethodRefund,
    OrderReturnStatus,
    RefundLine,
    ReturnReason,
)
from oms_events.money import Money
from oms_returns.domain.commands import CapturedPayment, OrderAccount
from oms_returns.domain.policy import RefundRules


@dataclass(frozen=True, slots=True)
class Receipt:
    """A checked receipt: what arrived per SKU and condition, and what did not."""

    returned: tuple[ReturnedLine, ...]
    missing: tuple[SkuQuantity, ...] = ()

    def accepted(self) -> dict[str, int]:
        """Accepted units per SKU: everything that arrived, whatever its condition."""
        return per_sku((ln.sku, ln.quantity) for ln in self.returned)

    def restock(self) -> tuple[SkuQuantity, ...]:
        """Resellable units per SKU: what goes back on the shelf."""
        units = per_sku(
            (ln.sku, ln.quantity)
            for ln in self.returned
            if ln.condition is ItemCondition.RESELLABLE
        )
        return tuple(SkuQuantity(sku=s, quantity=q) for s, q in units.items())

    def write_off(self) -> tuple[ReturnedLine, ...]:
        """Damaged and defective lines: back in the building, never back in stock."""
        return tuple(ln for ln in self.returned if ln.condition is not ItemCondition.RESELLABLE)


@dataclass(frozen=True, slots=True)
class Resolution:
    refund_lines: tuple[RefundLine, ...]
    shipping_refund: Money
    refund_amount: Money
    refunds: tuple[MethodRefund, ...]
    unallocated: Money
    order_status: OrderReturnStatus | None
    restock: tuple[SkuQuantity, ...]
    write_off: tuple[ReturnedLine, ...]
    missing: tuple[SkuQuantity, ...]


def resolve(
    receipt: Receipt,
    reasons: Mapping[str, frozenset[ReturnReason]],
    account: OrderAccount,
    rules: RefundRules,
) -> Resolution:
    """The whole outcome of ``receipt`` (``reasons``: why each SKU was returned)."""
    accepted = receipt.accepted()
    lines = refund_lines(accepted, account)
    shipping = shipping_refund(accepted, reasons, account, rules)
    total = Money.total((ln.amount for ln in lines), account.currency) + shipping
    refunds, unallocated = allocate_refund(total, account.payments, rules.gift_card_first)
    return Resolution(
        refund_lines=lines,
        shipping_refund=shipping,
        refund_amount=total,
        refunds=refunds,
        unallocated=unallocated,
        order_status=order_status(accepted, account),
        restock=receipt.restock(),
        write_off=receipt.write_off(),
        missing=receipt.missing,
    )


def refund_lines(accepted: Mapping[str, int], account: OrderAccount) -> tuple[RefundLine, ...]:
    """One refund line per accepted SKU: its delivered unit price times the accepted units."""
    lines = []
    for sku, quantity in accepted.items():
        price = account.price_of(sku)
        if price is None:
            raise ValueError(f"the order account has no price for accepted SKU {sku!r}")
        lines.append(
            RefundLine(sku=sku, quantity=quantity, unit_price=price, amount=price * quantity)
        )
    return tuple(lines)


def whole_order_back(accepted: Mapping[str, int], account: OrderAccount) -> bool:
    """True when, with ``accepted``, every delivered unit has been accepted back."""
    back = per_sku([*account.accepted_before.items(), *accepted.items()])
    return bool(account.delivered) and all(
        back.get(d.sku, 0) >= d.quantity for d in account.delivered
    )


def shipping_refund(
    accepted: Mapping[str, int],
    reasons: Mapping[str, frozenset[ReturnReason]],
    account: OrderAccount,
    rules: RefundRules,
) -> Money:
    """What is left of the shipping charge when a rule of ``rules`` applies, else zero.

    Only accepted units count: a return whose damaged item never arrived refunds no
    shipping for it. Shipping is refunded once per order (``shipping_refunded`` is taken off).
    """
    zero = Money.zero(account.currency)
    left = account.shipping_charge - (account.shipping_refunded or zero)
    if left <= zero or not any(accepted.values()):
        return zero
    if rules.refund_shipping_on_whole_order and whole_order_back(accepted, account):
        return left
    faults = {r for sku, q in accepted.items() if q > 0 for r in reasons.get(sku, frozenset())}
    if rules.refund_shipping_on_shop_fault and faults & rules.shop_fault_reasons:
        return left
    return zero


def refund_order(
    payments: Iterable[CapturedPayment], gift_card_first: bool
) -> list[CapturedPayment]:
    """The payments in the order they are refunded (stable: the order's own order otherwise)."""

    def late(p: CapturedPayment) -> bool:
        return (p.method is PaymentMethod.GIFT_CARD) != gift_card_first

    return sorted(payments, key=late)


def allocate_refund(
    amount: Money, payments: Iterable[CapturedPayment], gift_card_first: bool = False
) -> tuple[tuple[MethodRefund, ...], Money]:
    """Split ``amount`` over ``payments`` in refund order; returns the parts and the rest.

    Each payment takes as much as it has left to refund, whole (no proportional split, so no
    rounding); payments that take nothing are left out.
    """
    rest = amount
    parts = []
    for payment in refund_order(payments, gift_card_first):
        if rest.amount <= 0:
            break
        take = min(rest, payment.refundable)
        if take.amount > 0:
            parts.append(
                MethodRefund(payment_id=payment.payment_id, method=payment.method, amount=take)
            )
            rest = rest - take
    return tuple(parts), rest


def order_status(accepted: Mapping[str, int], account: OrderAccount) -> OrderReturnStatus | None:
    """The order's status once ``accepted`` is added to what earlier returns took back."""
    back = per_sku([*account.accepted_before.items(), *accepted.items()])
    if not any(q > 0 for q in back.values()):
        return None
    if whole_order_back(accepted, account):
        return OrderReturnStatus.RETURNED
    return OrderReturnStatus.PARTIALLY_RETURNED


def per_sku(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Quantities per SKU, in first-seen order."""
    total: dict[str, int] = {}
    for sku, quantity in pairs:
        total[sku] = total.get(sku, 0) + quantity
    return total
