"""Refunds, shipping, the payment split, stock and order status of a received return."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.contracts.common import ItemCondition, PaymentMethod, ReturnedLine, SkuQuantity
from oms_events.contracts.returns import OrderReturnStatus, ReturnReason
from oms_events.money import Money
from oms_returns.domain.commands import CapturedPayment, DeliveredSku, OrderAccount
from oms_returns.domain.policy import RefundRules
from oms_returns.domain.resolution import Receipt, allocate_refund, resolve

from .conftest import CARD, DELIVERED_AT, GIFT, account, eur

RULES = RefundRules()
CHANGED_MIND = {
    "TEE": frozenset({ReturnReason.NO_LONGER_NEEDED}),
    "MUG": frozenset({ReturnReason.NO_LONGER_NEEDED}),
}


def arrived(
    *lines: tuple[str, int, ItemCondition], missing: tuple[SkuQuantity, ...] = ()
) -> Receipt:
    return Receipt(
        returned=tuple(ReturnedLine(sku=s, quantity=q, condition=c) for s, q, c in lines),
        missing=missing,
    )


OK = ItemCondition.RESELLABLE
BROKEN = ItemCondition.DAMAGED


def test_a_partial_return_refunds_exactly_the_accepted_units_and_no_shipping() -> None:
    outcome = resolve(arrived(("TEE", 1, OK)), CHANGED_MIND, account(), RULES)
    assert [(ln.sku, ln.quantity, ln.amount) for ln in outcome.refund_lines] == [
        ("TEE", 1, eur("19.95"))
    ]
    assert outcome.shipping_refund.is_zero()
    assert outcome.refund_amount == eur("19.95")
    assert outcome.order_status is OrderReturnStatus.PARTIALLY_RETURNED


def test_the_whole_order_back_refunds_shipping_too() -> None:
    everything = arrived(("TEE", 2, OK), ("MUG", 1, OK))
    outcome = resolve(everything, CHANGED_MIND, account(), RULES)
    assert outcome.shipping_refund == eur("4.95")
    assert outcome.refund_amount == eur("57.35")
    assert outcome.order_status is OrderReturnStatus.RETURNED
    no_rule = RefundRules(refund_shipping_on_whole_order=False)
    assert resolve(everything, CHANGED_MIND, account(), no_rule).refund_amount == eur("52.40")


def test_a_return_that_completes_earlier_ones_is_the_whole_order() -> None:
    earlier = account(accepted_before={"TEE": 2})
    outcome = resolve(arrived(("MUG", 1, OK)), CHANGED_MIND, earlier, RULES)
    assert outcome.order_status is OrderReturnStatus.RETURNED
    assert outcome.refund_amount == eur("12.50") + eur("4.95")


def test_shipping_is_refunded_once_per_order() -> None:
    refunded = account(accepted_before={"TEE": 2}, shipping_refunded=eur("4.95"))
    outcome = resolve(arrived(("MUG", 1, OK)), CHANGED_MIND, refunded, RULES)
    assert outcome.shipping_refund.is_zero()
    assert outcome.refund_amount == eur("12.50")


@pytest.mark.parametrize(
    "reason",
    [
        ReturnReason.DAMAGED,
        ReturnReason.WRONG_ITEM,
        ReturnReason.NOT_AS_DESCRIBED,
        ReturnReason.ARRIVED_LATE,
    ],
)
def test_a_shop_fault_reason_refunds_shipping_on_a_partial_return(reason: ReturnReason) -> None:
    outcome = resolve(arrived(("TEE", 1, OK)), {"TEE": frozenset({reason})}, account(), RULES)
    assert outcome.shipping_refund == eur("4.95")
    assert outcome.refund_amount == eur("24.90")


@pytest.mark.parametrize("reason", [ReturnReason.WRONG_SIZE, ReturnReason.OTHER])
def test_a_customer_reason_does_not(reason: ReturnReason) -> None:
    outcome = resolve(arrived(("TEE", 1, OK)), {"TEE": frozenset({reason})}, account(), RULES)
    assert outcome.shipping_refund.is_zero()


def test_the_shop_fault_rule_and_its_reasons_are_settings() -> None:
    late = {"TEE": frozenset({ReturnReason.ARRIVED_LATE})}
    off = RefundRules(refund_shipping_on_shop_fault=False)
    assert resolve(arrived(("TEE", 1, OK)), late, account(), off).shipping_refund.is_zero()
    strict = RefundRules(shop_fault_reasons=frozenset({ReturnReason.WRONG_ITEM}))
    assert resolve(arrived(("TEE", 1, OK)), late, account(), strict).shipping_refund.is_zero()


def test_missing_units_are_not_refunded_and_their_reason_refunds_no_shipping() -> None:
    reasons = {
        "TEE": frozenset({ReturnReason.NO_LONGER_NEEDED}),
        "MUG": frozenset({ReturnReason.DAMAGED}),
    }
    receipt = arrived(("TEE", 1, OK), missing=(SkuQuantity(sku="MUG", quantity=1),))
    outcome = resolve(receipt, reasons, account(), RULES)
    assert outcome.refund_amount == eur("19.95")
    assert outcome.missing == (SkuQuantity(sku="MUG", quantity=1),)


def test_damaged_units_are_refunded_and_written_off_resellable_ones_restocked() -> None:
    receipt = arrived(("TEE", 1, OK), ("TEE", 1, BROKEN), ("MUG", 1, ItemCondition.DEFECTIVE))
    outcome = resolve(receipt, CHANGED_MIND, account(), RULES)
    assert outcome.restock == (SkuQuantity(sku="TEE", quantity=1),)
    assert outcome.write_off == (
        ReturnedLine(sku="TEE", quantity=1, condition=BROKEN),
        ReturnedLine(sku="MUG", quantity=1, condition=ItemCondition.DEFECTIVE),
    )
    assert [(ln.sku, ln.quantity) for ln in outcome.refund_lines] == [("TEE", 2), ("MUG", 1)]
    assert outcome.order_status is OrderReturnStatus.RETURNED


def test_nothing_accepted_leaves_the_order_status_alone() -> None:
    outcome = resolve(
        arrived(missing=(SkuQuantity(sku="TEE", quantity=1),)), CHANGED_MIND, account(), RULES
    )
    assert outcome.order_status is None
    assert outcome.refund_amount.is_zero() and outcome.refunds == ()
    assert outcome.unallocated.is_zero()


# -- the payment split -------------------------------------------------------------------------


def test_gift_cards_are_refunded_last_by_default_and_first_by_setting() -> None:
    last, rest = allocate_refund(eur("40.00"), (GIFT, CARD))
    assert [(r.payment_id, r.amount) for r in last] == [
        ("pay-card", eur("37.35")),
        ("pay-gift", eur("2.65")),
    ]
    first, _ = allocate_refund(eur("40.00"), (CARD, GIFT), gift_card_first=True)
    assert [(r.payment_id, r.amount) for r in first] == [
        ("pay-gift", eur("20.00")),
        ("pay-card", eur("20.00")),
    ]
    assert rest.is_zero()


def test_a_small_refund_goes_to_the_first_method_only() -> None:
    parts, _ = allocate_refund(eur("19.95"), (GIFT, CARD))
    assert [(r.payment_id, r.method, r.amount) for r in parts] == [
        ("pay-card", PaymentMethod.CARD, eur("19.95"))
    ]


def test_other_methods_keep_the_orders_payment_order() -> None:
    paypal = CapturedPayment("pay-pp", PaymentMethod.PAYPAL, eur("5.00"))
    parts, _ = allocate_refund(eur("10.00"), (paypal, GIFT, CARD))
    assert [r.payment_id for r in parts] == ["pay-pp", "pay-card"]


def test_no_payment_gets_back_more_than_it_has_left_and_the_rest_is_unallocated() -> None:
    card = CapturedPayment("pay-card", PaymentMethod.CARD, eur("37.35"), refunded=eur("30.00"))
    parts, rest = allocate_refund(eur("30.00"), (GIFT, card))
    assert [(r.payment_id, r.amount) for r in parts] == [
        ("pay-card", eur("7.35")),
        ("pay-gift", eur("20.00")),
    ]
    assert rest == eur("2.65")
    over = CapturedPayment("pay-x", PaymentMethod.CARD, eur("5.00"), refunded=eur("9.00"))
    assert over.refundable.is_zero()


def test_the_resolution_splits_its_refund_and_accounts_for_every_cent() -> None:
    card_only = account(payments=(CapturedPayment("pay-card", PaymentMethod.CARD, eur("10.00")),))
    outcome = resolve(arrived(("TEE", 1, OK)), CHANGED_MIND, card_only, RULES)
    assert outcome.refund_amount == eur("19.95")
    assert [r.amount for r in outcome.refunds] == [eur("10.00")]
    assert outcome.unallocated == eur("9.95")


# -- exact money -------------------------------------------------------------------------------


def test_amounts_stay_exact_where_floats_would_not() -> None:
    # 3 x 0.10 is 0.30000000000000004 in binary floating point.
    dime = DeliveredSku("PIN", 3, eur("0.10"), DELIVERED_AT)
    pins = account(delivered=(dime,), shipping_charge=eur("0.20"), payments=(CARD,))
    outcome = resolve(arrived(("PIN", 3, OK)), {}, pins, RULES)
    assert outcome.refund_amount.amount == Decimal("0.50")
    assert str(outcome.refund_lines[0].amount) == "0.30 EUR"


@pytest.mark.parametrize(
    ("currency", "price", "expected"), [("JPY", "1980", "3960"), ("KWD", "1.255", "2.510")]
)
def test_amounts_keep_the_currencys_minor_units(currency: str, price: str, expected: str) -> None:
    line = DeliveredSku("TEE", 3, Money.of(price, currency), DELIVERED_AT)
    paid = CapturedPayment("pay-card", PaymentMethod.CARD, Money.of(price, currency) * 3)
    acct = OrderAccount((line,), Money.zero(currency), (paid,))
    outcome = resolve(arrived(("TEE", 2, OK)), {}, acct, RULES)
    assert outcome.refund_amount == Money.of(expected, currency)
    assert outcome.refunds[0].amount == Money.of(expected, currency)
