"""An Adobe Commerce (Magento 2) sales order entity -> ``OrderSubmitted``.

The entity as ``GET /rest/V1/orders/{id}`` returns it, and as the Commerce webhooks send it
(``{"data": {"order": ...}}`` for observer webhooks, ``{"order": ...}`` for plugin ones):
``entity_id``, ``increment_id`` (the OMS ``platform_order_ref``), ``items[]``, ``payment``,
the totals, ``order_currency_code``/``base_currency_code``, ``customer_*`` and the shipping
address under ``extension_attributes.shipping_assignments[].shipping.address``. Amounts are
JSON numbers.

A configurable product is two rows: the parent (``product_type`` ``configurable``), which
carries the price, quantity and discount, and its child (``parent_item_id`` set, price 0),
the simple product that is picked and shipped. The OMS line is the parent's row (its
``item_id``, which Adobe Commerce ships and refunds by) with the child's SKU. A bundle's
children are priced in ways the entity does not settle alone: refused.

A row costs ``row_total_incl_tax`` less its ``discount_amount``; shipping costs
``shipping_incl_tax`` less ``shipping_discount_amount``; they must come to ``grand_total``.
An order whose currency differs from the store's base currency (a store view that shows and
charges another currency) is refused, as are virtual and downloadable rows (nothing to
ship), a payment method missing from the shop's table, and a cancelled or closed order.
"""

from __future__ import annotations

from datetime import UTC, datetime
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

NOT_SHIPPED = frozenset({"virtual", "downloadable", "giftcard"})
CLOSED_STATES = frozenset({"canceled", "closed"})


def order_entity(body: Any) -> Any:
    """The order entity of a webhook body (observer or plugin webhook) or a REST answer."""
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict) and isinstance(data.get("order"), dict):
            return data["order"]
        if isinstance(body.get("order"), dict) and "entity_id" not in body:
            return body["order"]
    return body


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_time(value: Any) -> datetime | None:
    """Adobe Commerce writes ``2026-12-01 10:15:00`` in UTC, without a zone."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _shipping_address(entity: dict[str, Any]) -> dict[str, Any] | None:
    ext = entity.get("extension_attributes")
    if isinstance(ext, dict):
        for assignment in ext.get("shipping_assignments") or []:
            shipping = assignment.get("shipping") if isinstance(assignment, dict) else None
            address = shipping.get("address") if isinstance(shipping, dict) else None
            if isinstance(address, dict):
                return address
    for address in entity.get("addresses") or []:  # the webhooks' "addresses" list
        if isinstance(address, dict) and address.get("address_type") == "shipping":
            return address
    return None


def _row_total(item: dict[str, Any], currency: str, where: str, problems: Problems) -> Money | None:
    if item.get("row_total_incl_tax") is not None:
        gross = money(
            item.get("row_total_incl_tax"), currency, f"{where}.row_total_incl_tax", problems
        )
    else:
        parts = [
            money(item.get(k, 0), currency, f"{where}.{k}", problems)
            for k in ("row_total", "tax_amount", "discount_tax_compensation_amount")
        ]
        gross = None if None in parts else Money.total([p for p in parts if p], currency)
    discount = money(
        item.get("discount_amount", 0) or 0, currency, f"{where}.discount_amount", problems
    )
    if gross is None or discount is None:
        return None
    return gross - abs_money(discount)


def abs_money(value: Money) -> Money:
    return -value if value.amount < 0 else value


def map_order(shop: ShopConfig, body: Any) -> MappedOrder:
    """Map a sales order entity, or raise ``Refusal`` (422) naming every problem."""
    problems = Problems()
    entity = order_entity(body)
    if not isinstance(entity, dict):
        problems.add("order", "malformed", "the body holds no order entity")
        problems.refuse_if_any("not an Adobe Commerce order")
        raise AssertionError("unreachable")
    entity_id = entity.get("entity_id")
    ref = _text(entity.get("increment_id"))
    if not isinstance(entity_id, int) or isinstance(entity_id, bool):
        problems.add("entity_id", "malformed", "the order's entity_id must be an integer")
    if ref is None:
        problems.add("increment_id", "malformed", "the order's increment_id is missing")
    currency = _text(entity.get("order_currency_code")) or ""
    base = _text(entity.get("base_currency_code")) or currency
    if currency not in shop.currencies:
        problems.add(
            "order_currency_code",
            "currency_not_supported",
            f"shop {shop.shop} takes orders in {', '.join(shop.currencies)}, not {currency!r}",
        )
    elif base != currency:
        problems.add(
            "order_currency_code",
            "currency_mixed",
            f"the order is charged in {currency} and booked in {base}: the OMS charges and "
            "refunds one currency per order",
        )
    if entity.get("state") in CLOSED_STATES:
        problems.add("state", "order_closed", f"the order is {entity.get('state')} at the shop")
    problems.refuse_if_any(f"Adobe Commerce order {ref or entity_id} cannot be taken")

    items = entity.get("items")
    if not isinstance(items, list):
        problems.add("items", "malformed", "the order's items must be a list")
        items = []
    children: dict[Any, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, dict) and item.get("parent_item_id") is not None:
            children.setdefault(item["parent_item_id"], item)
    lines: list[OrderLine] = []
    platform_lines: list[PlatformLine] = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            problems.add(where, "malformed", "expected an object")
            continue
        if item.get("parent_item_id") is not None:
            continue  # a configurable's child: shipped as its parent's line
        kind = item.get("product_type", "simple")
        if kind == "bundle":
            problems.add(where, "bundle_unsupported", "bundle products are not supported yet")
            continue
        if kind in NOT_SHIPPED or item.get("is_virtual") in (1, True):
            problems.add(where, "line_not_shippable", f"a {kind} item needs no shipping")
            continue
        item_id = item.get("item_id")
        child = children.get(item_id) if kind == "configurable" else None
        sku = _text((child or item).get("sku"))
        if kind == "configurable" and child is None:
            problems.add(
                where, "configurable_without_child", "the configurable row has no child row"
            )
            continue
        if sku is None:
            problems.add(f"{where}.sku", "sku_missing", "the item has no SKU")
            continue
        qty = item.get("qty_ordered")
        quantity = (
            int(qty)
            if isinstance(qty, int | float) and not isinstance(qty, bool) and qty == int(qty)
            else None
        )
        if quantity is None or quantity < 1:
            problems.add(
                f"{where}.qty_ordered", "quantity_invalid", "a whole number of units above 0"
            )
            continue
        if item_id is None:
            problems.add(f"{where}.item_id", "malformed", "the item's item_id is missing")
            continue
        total = _row_total(item, currency, where, problems)
        if total is None:
            continue
        if total.amount < 0:
            problems.add(where, "amount_invalid", "the item's discount exceeds its price")
            continue
        for line in split_line(str(item_id), sku, quantity, total):
            lines.append(line)
            platform_lines.append(PlatformLine(line.line_id, str(item_id), sku, line.quantity))

    if entity.get("shipping_incl_tax") is not None:
        shipping = money(entity.get("shipping_incl_tax"), currency, "shipping_incl_tax", problems)
    else:
        shipping = money(entity.get("shipping_amount", 0), currency, "shipping_amount", problems)
    ship_discount = money(
        entity.get("shipping_discount_amount", 0) or 0,
        currency,
        "shipping_discount_amount",
        problems,
    )
    if shipping is not None and ship_discount is not None:
        shipping = shipping - abs_money(ship_discount)
    paid = money(entity.get("grand_total"), currency, "grand_total", problems)
    raw_payment = entity.get("payment")
    payment: dict[str, Any] = raw_payment if isinstance(raw_payment, dict) else {}
    code = _text(payment.get("method"))
    method = None
    if code is None:
        problems.add("payment.method", "payment_missing", "the order has no payment method")
    else:
        method = payment_method(code, shop.payment_table(), shop.shop, "payment.method", problems)
    check_lines(lines, problems)
    totals_match(paid, lines, shipping, "grand_total", problems)
    address = _shipping_address(entity)
    if address is None:
        problems.add(
            "extension_attributes.shipping_assignments",
            "address_missing",
            "the order has no shipping address",
        )
        address = {}
    email = _text(entity.get("customer_email"))
    if email is None:
        problems.add("customer_email", "email_missing", "the order has no customer e-mail")
    placed_at = parse_time(entity.get("created_at"))
    if placed_at is None:
        problems.add("created_at", "malformed", "created_at is not 'YYYY-MM-DD HH:MM:SS'")
    problems.refuse_if_any(f"Adobe Commerce order {ref} cannot be taken")

    assert paid is not None and shipping is not None and method is not None and email
    assert placed_at is not None
    street = address.get("street")
    street_lines = (
        [s for s in street if isinstance(s, str) and s.strip()]
        if isinstance(street, list)
        else [street]
        if isinstance(street, str)
        else []
    )
    guest = entity.get("customer_is_guest") in (1, True)
    payload = {
        "platform_order_ref": ref,
        "sales_channel": shop.sales_channel,
        "customer": {
            "customer_id": customer_id(
                "adobe", shop.shop, None if guest else entity.get("customer_id"), email
            ),
            "email": email,
        },
        "lines": [ln.model_dump(mode="json") for ln in lines],
        "shipping_address": {
            "recipient": " ".join(
                p for p in (_text(address.get("firstname")), _text(address.get("lastname"))) if p
            )
            or None,
            "line1": street_lines[0].strip() if street_lines else None,
            "line2": ", ".join(s.strip() for s in street_lines[1:]) or None,
            "postal_code": _text(address.get("postcode")),
            "city": _text(address.get("city")),
            "region": _text(address.get("region")),
            "country": _text(address.get("country_id")),
            "phone": _text(address.get("telephone")),
        },
        "shipping_charge": shipping.model_dump(mode="json"),
        "payments": [
            {
                "payment_id": f"adobe-{shop.shop}-{entity_id}",
                "method": method.value,
                "amount": paid.model_dump(mode="json"),
            }
        ],
        "placed_at": placed_at.isoformat(),
    }
    order = build(payload, problems)
    problems.refuse_if_any(f"Adobe Commerce order {ref} cannot be taken")
    assert order is not None
    return MappedOrder(str(entity_id), order, tuple(platform_lines))
