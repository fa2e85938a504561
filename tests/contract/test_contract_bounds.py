"""Every bound of every contract: the limit itself is accepted, one past it is refused.

Payloads are the catalogue's examples with one value changed, validated as a consumer (or
an HTTP route with the contract as its body) would; the refusal must say what is wrong.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from oms_events import decode_envelope, encode_envelope, parse
from oms_events.base import Event
from oms_events.contracts import (
    LowStockDetected,
    LowStockThresholdSet,
    OrderBillingOpened,
    OrderCancelled,
    OrderConfirmed,
    OrderPacked,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    OrderStockRecorded,
    OrderSubmitted,
    OrderSubmittedV1,
    PaymentDeclined,
    PromotionPlanned,
    ReturnReceived,
    ReturnRequested,
    ShipmentBilled,
    ShipmentDispatched,
    SkuRegistered,
    StockAdjusted,
    StockIssued,
    StockReceived,
    StockReservationFailed,
    StockReserved,
    StockShipped,
    StockTransferred,
    WarehouseRegistered,
)
from oms_events.examples import example
from oms_events.limits import (
    MAX_ALLOCATIONS,
    MAX_BODY_BYTES,
    MAX_GRAMS,
    MAX_LINES,
    MAX_MILLIMETRES,
    MAX_PAYMENTS,
    MAX_PROMOTION_SKUS,
    MAX_QUANTITY,
    MAX_REJECTION_REASONS,
    MAX_STOCK_LEVEL,
    MAX_WAREHOUSE_PRIORITY,
    parse_json,
)
from oms_events.registry import envelope_for


def payload(cls: type[Event]) -> dict[str, Any]:
    return example(cls).model_dump(mode="json")


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``value`` at ``path`` (``lines.0.quantity``)."""
    edited = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: Any = edited
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return edited


def refusal(cls: type[Event], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        cls.model_validate(data)
    # Like ContractViolation's summary; an error of the whole payload has no location.
    return "; ".join(
        ": ".join(filter(None, [".".join(map(str, e["loc"])), e["msg"]]))
        for e in caught.value.errors(include_url=False)
    )


# -- numbers ------------------------------------------------------------------------------

INTEGER_BOUNDS = [
    (OrderPlaced, "lines.0.quantity", MAX_QUANTITY),
    (OrderSubmitted, "lines.0.quantity", MAX_QUANTITY),
    (OrderConfirmed, "allocations.0.quantity", MAX_QUANTITY),
    (StockReserved, "allocations.0.quantity", MAX_QUANTITY),
    (OrderShipped, "lines.0.quantity", MAX_STOCK_LEVEL),
    (StockShipped, "lines.0.quantity", MAX_STOCK_LEVEL),
    (ShipmentDispatched, "lines.0.quantity", MAX_STOCK_LEVEL),
    (ReturnReceived, "lines.0.quantity", MAX_STOCK_LEVEL),
    (ReturnRequested, "lines.0.quantity", MAX_STOCK_LEVEL),
    (StockIssued, "quantity", MAX_STOCK_LEVEL),
    (StockReceived, "quantity", MAX_STOCK_LEVEL),
    (StockTransferred, "quantity", MAX_STOCK_LEVEL),
    (StockReservationFailed, "shortages.0.requested", MAX_STOCK_LEVEL),
    (StockReservationFailed, "shortages.0.available", MAX_STOCK_LEVEL),
    (StockAdjusted, "counted_quantity", MAX_STOCK_LEVEL),
    (StockAdjusted, "delta", MAX_STOCK_LEVEL),
    (LowStockThresholdSet, "threshold", MAX_STOCK_LEVEL),
    (LowStockDetected, "available", MAX_STOCK_LEVEL),
    (LowStockDetected, "threshold", MAX_STOCK_LEVEL),
    (SkuRegistered, "weight_grams", MAX_GRAMS),
    (SkuRegistered, "length_mm", MAX_MILLIMETRES),
    (SkuRegistered, "width_mm", MAX_MILLIMETRES),
    (SkuRegistered, "height_mm", MAX_MILLIMETRES),
    (ShipmentDispatched, "weight_grams", MAX_GRAMS),
    (OrderPacked, "weight_grams", MAX_GRAMS),
    (WarehouseRegistered, "priority", MAX_WAREHOUSE_PRIORITY),
]


@pytest.mark.parametrize(
    ("cls", "path", "limit"),
    INTEGER_BOUNDS,
    ids=[f"{c.__name__}.{p}" for c, p, _ in INTEGER_BOUNDS],
)
def test_integers_up_to_their_bound(cls: type[Event], path: str, limit: int) -> None:
    data = payload(cls)
    assert cls.model_validate(set_path(data, path, limit))
    # (A refused item of a list also leaves the list short: that error may follow.)
    reason = refusal(cls, set_path(data, path, limit + 1))
    assert reason.startswith(f"{path}: Input should be less than or equal to {limit}")
    assert "less than or equal" in refusal(cls, set_path(data, path, 10**309))


def test_a_stock_delta_is_bounded_below_too() -> None:
    data = payload(StockAdjusted)
    assert StockAdjusted.model_validate({**data, "delta": -MAX_STOCK_LEVEL})
    reason = refusal(StockAdjusted, {**data, "delta": -MAX_STOCK_LEVEL - 1})
    assert reason == f"delta: Input should be greater than or equal to {-MAX_STOCK_LEVEL}"


def test_quantities_stay_strict_whole_numbers() -> None:
    data = payload(OrderPlaced)
    for wrong in ["2", 2.0, True]:
        assert "Input should be a valid integer" in refusal(
            OrderPlaced, set_path(data, "lines.0.quantity", wrong)
        )
    assert "greater than 0" in refusal(OrderPlaced, set_path(data, "lines.0.quantity", 0))


# -- lists --------------------------------------------------------------------------------

LIST_BOUNDS = [
    (OrderSubmitted, "lines", MAX_LINES),
    (OrderSubmittedV1, "lines", MAX_LINES),
    (OrderPlaced, "lines", MAX_LINES),
    (OrderBillingOpened, "lines", MAX_LINES),
    (OrderSubmitted, "payments", MAX_PAYMENTS),
    (OrderSubmittedV1, "payments", MAX_PAYMENTS),
    (OrderPlaced, "payments", MAX_PAYMENTS),
    (OrderBillingOpened, "payments", MAX_PAYMENTS),
    (ShipmentBilled, "payments", MAX_PAYMENTS),
    (ShipmentBilled, "lines", MAX_LINES),
    (ShipmentDispatched, "lines", MAX_LINES),
    (OrderShipped, "lines", MAX_LINES),
    (StockShipped, "lines", MAX_LINES),
    (ReturnRequested, "lines", MAX_LINES),
    (StockReservationFailed, "shortages", MAX_LINES),
    (StockReserved, "decisions", MAX_LINES),
    (StockReserved, "allocations", MAX_ALLOCATIONS),
    (OrderConfirmed, "allocations", MAX_ALLOCATIONS),
    (OrderStockRecorded, "allocations", MAX_ALLOCATIONS),
    (OrderRejected, "reasons", MAX_REJECTION_REASONS),
    (PromotionPlanned, "skus", MAX_PROMOTION_SKUS),
]


@pytest.mark.parametrize(
    ("cls", "field", "limit"), LIST_BOUNDS, ids=[f"{c.__name__}.{f}" for c, f, _ in LIST_BOUNDS]
)
def test_lists_up_to_their_bound(cls: type[Event], field: str, limit: int) -> None:
    data = payload(cls)
    item = data[field][0]
    # Amounts stay small, so the order's totals (also bounded) are not what is tested here.
    assert cls.model_validate({**data, field: [item] * limit})
    reason = refusal(cls, {**data, field: [item] * (limit + 1)})
    assert (
        reason
        == f"{field}: Tuple should have at most {limit} items after validation, not {limit + 1}"
    )


# -- text ---------------------------------------------------------------------------------

TEXT_BOUNDS = [
    (OrderPlaced, "order_id", 100),
    (OrderPlaced, "platform_order_ref", 100),
    (OrderPlaced, "sales_channel", 200),
    (OrderPlaced, "customer.customer_id", 100),
    (OrderPlaced, "lines.0.line_id", 100),
    (OrderPlaced, "lines.0.sku", 64),
    (OrderPlaced, "shipping_address.recipient", 200),
    (OrderPlaced, "shipping_address.line1", 200),
    (OrderPlaced, "shipping_address.line2", 200),
    (OrderPlaced, "shipping_address.postal_code", 20),
    (OrderPlaced, "shipping_address.city", 200),
    (OrderPlaced, "shipping_address.region", 200),
    (OrderPlaced, "shipping_address.phone", 40),
    (OrderPlaced, "payments.0.payment_id", 100),
    (OrderPlaced, "payments.0.gift_card_code", 100),
    (OrderCancelled, "detail", 2000),
    (OrderRejected, "reasons.0.detail", 2000),
    (PaymentDeclined, "provider_message", 2000),
    (StockReserved, "reasoning", 2000),
    (PromotionPlanned, "skus.0", 64),
]
MULTI_LINE = {"detail", "reasons.0.detail", "provider_message", "reasoning"}


@pytest.mark.parametrize(
    ("cls", "path", "limit"), TEXT_BOUNDS, ids=[f"{c.__name__}.{p}" for c, p, _ in TEXT_BOUNDS]
)
def test_strings_up_to_their_length_and_without_control_characters(
    cls: type[Event], path: str, limit: int
) -> None:
    data = payload(cls)
    # Lengths count characters, not bytes: a 4-byte emoji is one.
    assert cls.model_validate(set_path(data, path, "🎁" * limit))
    reason = refusal(cls, set_path(data, path, "🎁" * (limit + 1)))
    assert reason.startswith(f"{path}: String should have at most {limit} characters")
    for control in ["\x00", "\x1b", "\x7f", "\x85", "\u009f"]:
        reason = refusal(cls, set_path(data, path, f"a{control}b"))
        assert reason.startswith(f"{path}: String should match pattern '^[^\\x00-")
    for layout in ["\t", "\n", "\r\n"]:
        text = f"first{layout}second"
        if path in MULTI_LINE:
            assert cls.model_validate(set_path(data, path, text))
        else:
            assert "should match pattern" in refusal(cls, set_path(data, path, text))


@pytest.mark.parametrize("control", ["\x00", "\n", "\x7f", "\x9f"])
def test_email_addresses_refuse_control_characters(control: str) -> None:
    data = payload(OrderPlaced)
    at_limit = "a" * (254 - len("@example.com")) + "@example.com"
    assert OrderPlaced.model_validate(set_path(data, "customer.email", at_limit))
    assert refusal(OrderPlaced, set_path(data, "customer.email", "a" + at_limit)) == (
        "customer.email: String should have at most 254 characters"
    )
    reason = refusal(OrderPlaced, set_path(data, "customer.email", f"noor{control}@example.com"))
    assert reason.startswith("customer.email: String should match pattern")


# -- money --------------------------------------------------------------------------------


def order_in(currency: str, price: str, shipping: str) -> dict[str, Any]:
    data = payload(OrderPlaced)
    for line in data["lines"]:
        line["unit_price"] = {"amount": price, "currency": currency}
    data["shipping_charge"] = {"amount": shipping, "currency": currency}
    for p in data["payments"]:
        p["amount"] = {"amount": shipping, "currency": currency}
    return data


def test_amounts_have_the_currencys_decimal_places_on_the_wire() -> None:
    assert OrderPlaced.model_validate(order_in("JPY", "2500", "500")).total.amount == 5500 + 2500
    assert OrderPlaced.model_validate(order_in("KWD", "2.125", "0.500"))
    reason = refusal(OrderPlaced, order_in("JPY", "2500.5", "500"))
    assert reason.startswith(
        "lines.0.unit_price: Value error, JPY amounts have at most 0 decimal places (ISO 4217)"
    )
    reason = refusal(OrderPlaced, order_in("EUR", "19.95", "4.955"))
    assert "shipping_charge: Value error, EUR amounts have at most 2 decimal places" in reason
    reason = refusal(OrderPlaced, order_in("KWD", "2.1255", "0.500"))
    assert reason.startswith("lines.0.unit_price.amount: Value error, amount must be a plain")
    reason = refusal(OrderPlaced, order_in("EUR", "1000000000000", "4.95"))
    assert reason.startswith("lines.0.unit_price.amount: Value error, amount must be a plain")


def test_an_orders_sums_are_within_the_amount_bounds() -> None:
    # The largest price times a quantity of 2 would need 13 digits.
    reason = refusal(OrderPlaced, order_in("EUR", "999999999999.99", "4.95"))
    assert reason == (
        "Value error, lines.0: unit_price x quantity must have at most 12 digits before the point"
    )
    reason = refusal(OrderPlaced, order_in("EUR", "400000000000", "4.95"))
    assert reason == "Value error, the lines together must have at most 12 digits before the point"
    reason = refusal(OrderPlaced, order_in("EUR", "333333333333.33", "0.01"))
    assert reason == "Value error, the order total must have at most 12 digits before the point"
    data = order_in("EUR", "19.95", "4.95")
    data["payments"] = [
        {**data["payments"][0], "amount": {"amount": "600000000000", "currency": "EUR"}}
    ] * 2
    reason = refusal(OrderPlaced, data)
    assert (
        reason == "Value error, the payments together must have at most 12 digits before the point"
    )


def test_a_valid_orders_totals_are_valid_money() -> None:
    order = OrderPlaced.model_validate(order_in("EUR", "333333333333.33", "0.00"))
    assert str(order.total) == "999999999999.99 EUR"
    assert max(line.line_total for line in order.lines).amount < 10**12


# -- size of the largest messages ------------------------------------------------------------


def test_the_largest_order_fits_one_request_body_and_one_message() -> None:
    def longest(limit: int) -> str:
        return "🎁" * limit  # four bytes in UTF-8, one character

    data = payload(OrderSubmitted)
    data.update(platform_order_ref=longest(100), sales_channel=longest(200))
    data["customer"] = {"customer_id": longest(100), "email": "a" * 242 + "@example.com"}
    line = {
        "line_id": longest(100),
        "sku": longest(64),
        "quantity": 1,
        "unit_price": {"amount": "-100000000.001", "currency": "KWD"},
    }
    payment = {
        "payment_id": longest(100),
        "method": "gift_card",
        "amount": {"amount": "-100000000.001", "currency": "KWD"},
        "gift_card_code": longest(100),
    }
    address = {
        **{f: longest(200) for f in ["recipient", "line1", "line2", "city", "region"]},
        **{"postal_code": longest(20), "phone": longest(40), "country": "NL"},
    }
    data.update(
        lines=[line] * MAX_LINES,
        payments=[payment] * MAX_PAYMENTS,
        shipping_address=address,
        shipping_charge={"amount": "-100000000.001", "currency": "KWD"},
    )
    body = json.dumps(data, ensure_ascii=False).encode()
    order = OrderSubmitted.model_validate(parse_json(body))
    env = envelope_for(
        order,
        stream_id=longest(200),
        stream_version=2**31 - 1,
        correlation_id=longest(200),
        causation_id=longest(200),
        actor=longest(200),
        producer=longest(100),
    )
    raw = encode_envelope(env)
    assert len(body) <= MAX_BODY_BYTES
    assert len(raw) <= MAX_BODY_BYTES
    assert parse(decode_envelope(raw)) == order


# -- promotion uplift -----------------------------------------------------------------------


@pytest.mark.parametrize("uplift", ["1000", "0.000001", "2.5", "999.999999"])
def test_uplifts_within_bounds(uplift: str) -> None:
    promotion = PromotionPlanned.model_validate(
        {**payload(PromotionPlanned), "expected_uplift": uplift}
    )
    assert promotion.model_dump(mode="json")["expected_uplift"] == uplift


@pytest.mark.parametrize(
    ("uplift", "reason"),
    [
        ("1000.000001", "less than or equal to 1000"),
        ("9999", "less than or equal to 1000"),
        ("10000", "plain decimal string"),
        ("0", "greater than 0"),
        ("2.1234567", "plain decimal string"),
        ("1e2", "plain decimal string"),
        ("NaN", "plain decimal string"),
        ("12345678901234567890", "plain decimal string"),
    ],
)
def test_uplifts_beyond_bounds(uplift: str, reason: str) -> None:
    assert reason in refusal(
        PromotionPlanned, {**payload(PromotionPlanned), "expected_uplift": uplift}
    )


def test_uplifts_built_in_code_are_written_plainly() -> None:
    data = payload(PromotionPlanned)
    promotion = PromotionPlanned.model_validate({**data, "expected_uplift": Decimal("1E+2")})
    assert promotion.model_dump(mode="json")["expected_uplift"] == "100"
    for value, reason in [
        (Decimal("2.1234567"), "at most 6 decimal places"),
        (Decimal("1E-999999999"), "at most 6 decimal places"),
        (Decimal("1E+999999999"), "less than or equal to 1000"),
        (Decimal("NaN"), "finite number"),
    ]:
        assert reason in refusal(PromotionPlanned, {**data, "expected_uplift": value})
