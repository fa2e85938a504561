"""The platforms' payloads (fixtures written from their documented shapes) -> OrderSubmitted."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oms_connectors.mapping import adobe, shopify
from oms_connectors.shops import ShopConfig
from oms_events.money import Money
from oms_platform.refusal import Refusal

FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY = ShopConfig(
    shop="acme",
    platform="shopify",
    sales_channel="shopify-acme",
    api_url="http://x",
    webhook_secret="s",
)
ADOBE = ShopConfig(
    shop="store",
    platform="adobe-commerce",
    sales_channel="adobe-store",
    api_url="http://x",
    intake="poll",
)


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


def refusal(mapper: Any, shop: ShopConfig, body: Any) -> Refusal:
    with pytest.raises(Refusal) as err:
        mapper(shop, body)
    assert err.value.status == 422
    return err.value


def test_a_shopify_order_with_a_discount_maps_to_the_cent() -> None:
    mapped = shopify.map_order(SHOPIFY, fixture("shopify_orders_create.json"))
    order = mapped.order
    assert order.platform_order_ref == "#1001" and order.sales_channel == "shopify-acme"
    # 3 x 19.95 less 7.51 = 52.34 does not divide by 3: 1 unit at 17.44 and 2 at 17.45.
    assert [(ln.line_id, ln.quantity, ln.unit_price.amount) for ln in order.lines] == [
        ("13470110777506", 1, Decimal("17.44")),
        ("13470110777506~2", 2, Decimal("17.45")),
        ("13470110810274", 1, Decimal("10.01")),
    ]
    assert order.total == Money.of("67.30", "EUR") == order.payments[0].amount
    assert order.payments[0].method.value == "card"
    assert order.shipping_address.country == "NL" and order.customer.email == "sanne@example.nl"
    assert {ln.item_id for ln in mapped.lines} == {"13470110777506", "13470110810274"}
    assert mapped.platform_order_id == "5940139491234"


def test_shopify_prices_without_tax_get_their_tax_lines_added() -> None:
    body = fixture("shopify_orders_create.json")
    body["taxes_included"] = False
    body["total_price"] = str(
        Decimal("67.30") + Decimal("9.08") + Decimal("1.74") + Decimal("0.86")
    )
    order = shopify.map_order(SHOPIFY, body).order
    assert order.total == Money.of("78.98", "EUR")


def test_shopify_multi_currency_and_an_unmapped_gateway_are_refused_with_reasons() -> None:
    body = fixture("shopify_orders_create.json")
    body["presentment_currency"] = "USD"
    err = refusal(shopify.map_order, SHOPIFY, body)
    assert err.code == "currency_mixed" and "USD" in err.field_errors()[0].reason
    body = fixture("shopify_orders_create.json")
    body["payment_gateway_names"] = ["Cash App"]
    err = refusal(shopify.map_order, SHOPIFY, body)
    assert err.code == "payment_method_unmapped"
    assert "'Cash App'" in err.field_errors()[0].reason and "acme" in err.field_errors()[0].reason
    own = ShopConfig.model_validate(
        {**SHOPIFY.model_dump(), "payment_methods": {"Cash App": "card"}}
    )
    assert shopify.map_order(own, body).order.payments[0].method.value == "card"


def test_shopify_totals_that_do_not_add_up_and_gift_card_lines_are_refused() -> None:
    body = fixture("shopify_orders_create.json")
    body["total_price"] = "67.31"
    assert refusal(shopify.map_order, SHOPIFY, body).code == "totals_mismatch"
    body = fixture("shopify_orders_create.json")
    body["line_items"][1]["gift_card"] = True
    codes = {e.code for e in refusal(shopify.map_order, SHOPIFY, body).field_errors()}
    assert "line_not_shippable" in codes


def test_an_adobe_configurable_product_becomes_one_line_of_the_sku_that_ships() -> None:
    mapped = adobe.map_order(ADOBE, fixture("adobe_order_configurable.json"))
    order = mapped.order
    assert order.platform_order_ref == "000000204"
    assert [(ln.line_id, ln.sku, ln.quantity, ln.unit_price.amount) for ln in order.lines] == [
        ("511", "SNEAKER-42", 1, Decimal("80.10")),  # the parent row, the child's SKU
        ("513", "BACKPACK-20L", 2, Decimal("53.10")),
    ]
    assert order.shipping_charge == Money.of("4.95", "EUR")
    assert order.total == Money.of("191.25", "EUR") == order.payments[0].amount
    assert order.payments[0].method.value == "bank_transfer"  # checkmo
    assert order.shipping_address.line2 == "Hinterhaus"
    assert order.customer.customer_id == "adobe:store:87"


def test_an_adobe_webhook_body_carries_the_same_entity() -> None:
    entity = fixture("adobe_order_configurable.json")
    wrapped = {"eventName": "sales_order_place_after", "data": {"order": entity}}
    assert adobe.map_order(ADOBE, wrapped).order == adobe.map_order(ADOBE, entity).order


def test_adobe_refusals_multi_currency_bundle_unmapped_method_inexact_amount() -> None:
    body = fixture("adobe_order_configurable.json")
    body["order_currency_code"] = "USD"
    assert refusal(adobe.map_order, ADOBE, body).code == "currency_not_supported"
    multi = ShopConfig.model_validate({**ADOBE.model_dump(), "currencies": ("EUR", "USD")})
    assert refusal(adobe.map_order, multi, body).code == "currency_mixed"
    body = fixture("adobe_order_configurable.json")
    body["payment"]["method"] = "purchaseorder"
    err = refusal(adobe.map_order, ADOBE, body)
    assert err.code == "payment_method_unmapped" and err.field_errors()[0].field == "payment.method"
    body = fixture("adobe_order_configurable.json")
    bundle = copy.deepcopy(body["items"][2])
    bundle.update(item_id=599, product_type="bundle")
    body["items"].append(bundle)
    codes = {e.code for e in refusal(adobe.map_order, ADOBE, body).field_errors()}
    assert "bundle_unsupported" in codes
    body = fixture("adobe_order_configurable.json")
    body["grand_total"] = 191.255
    assert refusal(adobe.map_order, ADOBE, body).code == "amount_inexact"


def test_a_refusal_names_every_problem_at_once() -> None:
    body = fixture("adobe_order_configurable.json")
    body["payment"]["method"] = "purchaseorder"
    del body["customer_email"]
    body["extension_attributes"] = {}
    fields = {e.field for e in refusal(adobe.map_order, ADOBE, body).field_errors()}
    assert {
        "payment.method",
        "customer_email",
        "extension_attributes.shipping_assignments",
    } <= fields
