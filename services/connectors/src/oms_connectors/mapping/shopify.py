"""A Shopify ``orders/create`` webhook body -> ``OrderSubmitted``.

Read as Shopify documents the Order resource: ``id`` (the order's id in the Admin API),
``name`` (``#1001``, what the shop and its customer call it: the OMS
``platform_order_ref``), ``line_items[]`` (``id``, ``sku``, ``quantity``, ``price``,
``discount_allocations``, ``tax_lines``, ``requires_shipping``), ``shipping_lines[]``,
``shipping_address``, ``total_price``, ``currency``/``presentment_currency``,
``taxes_included`` and ``payment_gateway_names``. Amounts are decimal strings.

What a customer pays for a line is ``price * quantity`` less its discount allocations, plus
its tax lines when the shop's prices exclude tax; shipping the same way. Their sum must be
``total_price``. Refused, with the field and the reason: an order shown to the customer in
another currency than the shop's (``presentment_currency`` differs: it would be charged and
refunded in one currency and booked in another), a currency the shop is not set up for, a
line that needs no shipping (a gift card or a download: nothing for the OMS to ship), a
line without a SKU, no gateway or several (the webhook does not say how much each took), a
gateway missing from the shop's payment table, a test order, a cancelled order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oms_connectors.mapping.common import (
    MappedOrder,
    PlatformLine,
    Problems,
    build,
    check_lines,
    customer_id,
    money,
    payment_method,
    split_line,
    totals_match,
)
from oms_connectors.shops import ShopConfig
from oms_events.contracts.common import OrderLine
from oms_events.money import Money


def _sum(values: list[Any], key: str, currency: str, where: str, problems: Problems) -> Money:
    total = Money.zero(currency)
    for i, entry in enumerate(values):
        if not isinstance(entry, dict):
            problems.add(f"{where}[{i}]", "malformed", "expected an object")
            continue
        found = money(entry.get(key), currency, f"{where}[{i}].{key}", problems)
        if found is not None:
            total = total + found
    return total


def _list(
    body: dict[str, Any], key: str, problems: Problems, where: str | None = None
) -> list[Any]:
    value = body.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(where or key, "malformed", "expected a list")
        return []
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def map_order(shop: ShopConfig, body: Any) -> MappedOrder:
    """Map an ``orders/create`` body, or raise ``Refusal`` (422) naming every problem."""
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("body", "malformed", "the webhook body is not a JSON object")
        problems.refuse_if_any("not a Shopify order")
        raise AssertionError("unreachable")
    order_id = body.get("id")
    name = _text(body.get("name"))
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        problems.add("id", "malformed", "the order's id must be an integer")
    if name is None:
        problems.add("name", "malformed", "the order's name (#1001) is missing")
    currency = _text(body.get("currency")) or ""
    presentment = _text(body.get("presentment_currency")) or currency
    if currency not in shop.currencies:
        problems.add(
            "currency",
            "currency_not_supported",
            f"shop {shop.shop} takes orders in {', '.join(shop.currencies)}, not {currency!r}",
        )
    elif presentment != currency:
        problems.add(
            "presentment_currency",
            "currency_mixed",
            f"the customer was shown {presentment} and the shop books {currency}: the OMS "
            "charges and refunds one currency per order",
        )
    if body.get("test") is True:
        problems.add("test", "test_order", "a test order is not fulfilled")
    if body.get("cancelled_at"):
        problems.add("cancelled_at", "order_cancelled", "the order is cancelled at the shop")
    problems.refuse_if_any(f"Shopify order {name or order_id} cannot be taken")

    taxes_included = bool(body.get("taxes_included", True))
    lines: list[OrderLine] = []
    platform_lines: list[PlatformLine] = []
    for i, item in enumerate(_list(body, "line_items", problems)):
        where = f"line_items[{i}]"
        if not isinstance(item, dict):
            problems.add(where, "malformed", "expected an object")
            continue
        sku = _text(item.get("sku"))
        quantity = item.get("quantity")
        item_id = item.get("id")
        if item.get("requires_shipping") is False or item.get("gift_card") is True:
            problems.add(
                where, "line_not_shippable", "the line needs no shipping (gift card or download)"
            )
            continue
        if sku is None:
            problems.add(f"{where}.sku", "sku_missing", "the line has no SKU the OMS can stock")
            continue
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            problems.add(f"{where}.quantity", "quantity_invalid", "a whole number of units above 0")
            continue
        if item_id is None:
            problems.add(f"{where}.id", "malformed", "the line's id is missing")
            continue
        price = money(item.get("price"), currency, f"{where}.price", problems)
        if price is None:
            continue
        allocations = _list(item, "discount_allocations", problems, f"{where}.discount_allocations")
        if allocations:
            discount = _sum(
                allocations, "amount", currency, f"{where}.discount_allocations", problems
            )
        else:
            discount = money(
                item.get("total_discount", "0"), currency, f"{where}.total_discount", problems
            ) or Money.zero(currency)
        tax = Money.zero(currency)
        if not taxes_included:
            tax = _sum(
                _list(item, "tax_lines", problems, f"{where}.tax_lines"),
                "price",
                currency,
                f"{where}.tax_lines",
                problems,
            )
        total = price * quantity - discount + tax
        if total.amount < 0:
            problems.add(where, "amount_invalid", "the line's discount exceeds its price")
            continue
        for line in split_line(str(item_id), sku, quantity, total):
            lines.append(line)
            platform_lines.append(PlatformLine(line.line_id, str(item_id), sku, line.quantity))

    shipping = Money.zero(currency)
    for i, ship in enumerate(_list(body, "shipping_lines", problems)):
        where = f"shipping_lines[{i}]"
        if not isinstance(ship, dict):
            problems.add(where, "malformed", "expected an object")
            continue
        key = "discounted_price" if ship.get("discounted_price") is not None else "price"
        charged = money(ship.get(key), currency, f"{where}.{key}", problems)
        if charged is None:
            continue
        if key == "price":
            charged = charged - _sum(
                _list(ship, "discount_allocations", problems),
                "amount",
                currency,
                f"{where}.discount_allocations",
                problems,
            )
        if not taxes_included:
            charged = charged + _sum(
                _list(ship, "tax_lines", problems),
                "price",
                currency,
                f"{where}.tax_lines",
                problems,
            )
        shipping = shipping + charged

    gateways = [g for g in _list(body, "payment_gateway_names", problems) if isinstance(g, str)]
    method = None
    if not gateways:
        problems.add(
            "payment_gateway_names", "payment_missing", "the order names no payment gateway"
        )
    elif len(gateways) > 1:
        problems.add(
            "payment_gateway_names",
            "payment_split_unknown",
            f"paid with {len(gateways)} gateways; the webhook does not say how much each took",
        )
    else:
        method = payment_method(
            gateways[0], shop.payment_table(), shop.shop, "payment_gateway_names[0]", problems
        )
    paid = money(body.get("total_price"), currency, "total_price", problems)
    check_lines(lines, problems)
    totals_match(paid, lines, shipping, "total_price", problems)

    address = body.get("shipping_address")
    if not isinstance(address, dict):
        problems.add("shipping_address", "address_missing", "the order has no shipping address")
        address = {}
    email = (
        _text(body.get("email"))
        or _text(body.get("contact_email"))
        or _text(
            (body.get("customer") or {}).get("email")
            if isinstance(body.get("customer"), dict)
            else None
        )
    )
    if email is None:
        problems.add("email", "email_missing", "the order has no customer e-mail")
    problems.refuse_if_any(f"Shopify order {name} cannot be taken")

    assert paid is not None and method is not None and email is not None
    raw_customer = body.get("customer")
    customer: dict[str, Any] = raw_customer if isinstance(raw_customer, dict) else {}
    recipient = _text(address.get("name")) or " ".join(
        p for p in (_text(address.get("first_name")), _text(address.get("last_name"))) if p
    )
    placed_at = body.get("created_at")
    payload = {
        "platform_order_ref": name,
        "sales_channel": shop.sales_channel,
        "customer": {
            "customer_id": customer_id("shopify", shop.shop, customer.get("id"), email),
            "email": email,
        },
        "lines": [ln.model_dump(mode="json") for ln in lines],
        "shipping_address": {
            "recipient": recipient or None,
            "line1": _text(address.get("address1")),
            "line2": _text(address.get("address2")),
            "postal_code": _text(address.get("zip")),
            "city": _text(address.get("city")),
            "region": _text(address.get("province")),
            "country": _text(address.get("country_code")),
            "phone": _text(address.get("phone")),
        },
        "shipping_charge": shipping.model_dump(mode="json"),
        "payments": [
            {
                "payment_id": f"shopify-{shop.shop}-{order_id}",
                "method": method.value,
                "amount": paid.model_dump(mode="json"),
            }
        ],
        "placed_at": _iso(placed_at),
    }
    order = build(payload, problems)
    problems.refuse_if_any(f"Shopify order {name} cannot be taken")
    assert order is not None
    return MappedOrder(str(order_id), order, tuple(platform_lines))


def _iso(value: Any) -> Any:
    """Shopify writes ISO 8601 with an offset; pydantic reads it as an aware datetime."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).isoformat()
        except ValueError:
            return value
    return value


__all__ = ["map_order"]
