"""Order factories: "a customer checks out" turned into the order as each platform documents it
(Shopify's ``orders/create`` order, Magento's ``GET /V1/orders/{id}`` sales order entity)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from oms_connectors.sandbox import money
from oms_connectors.sandbox.core import Ids, Json

COUNTRIES = {
    "NL": "Netherlands",
    "BE": "Belgium",
    "DE": "Germany",
    "FR": "France",
    "GB": "United Kingdom",
    "US": "United States",
    "ES": "Spain",
    "IT": "Italy",
    "AT": "Austria",
    "LU": "Luxembourg",
    "DK": "Denmark",
    "SE": "Sweden",
    "PL": "Poland",
    "IE": "Ireland",
    "CH": "Switzerland",
}

Amount = str


def _amount(value: str, info: ValidationInfo) -> str:
    money.parse(value, info.field_name or "amount")
    return value


class ShopifyLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    price: Amount
    discount: Amount = "0.00"
    """The whole line's discount (not per unit)."""
    title: str | None = None
    grams: int = Field(default=500, ge=0)

    _check = field_validator("price", "discount")(_amount)


class ShopifyShipping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = "Standard"
    price: Amount = "0.00"
    code: str | None = None

    _check = field_validator("price")(_amount)


class ShopifyCheckout(BaseModel):
    """Body of ``POST /shopify/{shop}/sandbox/orders`` (our own, simple shape)."""

    model_config = ConfigDict(extra="forbid")

    email: str = "customer@example.com"
    country_code: str = Field(default="NL", pattern=r"^[A-Z]{2}$")
    lines: list[ShopifyLine] = Field(min_length=1)
    shipping: ShopifyShipping = Field(default_factory=ShopifyShipping)
    gateway: str = "shopify_payments"
    presentment_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    first_name: str = "Anna"
    last_name: str = "de Vries"
    address1: str = "Damrak 1"
    address2: str | None = None
    city: str = "Amsterdam"
    zip: str = "1012 LG"
    province: str | None = None
    phone: str | None = None
    taxes_included: bool = True
    note: str | None = None


class AdobeLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1)
    qty: int = Field(ge=1)
    price: Amount
    discount: Amount = "0.00"
    """The whole row's discount."""
    parent_sku: str | None = None
    """Set: a configurable product (parent row + child row), the child being ``sku``."""
    name: str | None = None
    weight: float = Field(default=1.0, ge=0)

    _check = field_validator("price", "discount")(_amount)


class AdobeCheckout(BaseModel):
    """Body of ``POST /adobe-commerce/{store}/sandbox/orders`` (our own, simple shape)."""

    model_config = ConfigDict(extra="forbid")

    email: str = "customer@example.com"
    country_id: str = Field(default="NL", pattern=r"^[A-Z]{2}$")
    lines: list[AdobeLine] = Field(min_length=1)
    shipping_amount: Amount = "0.00"
    payment_method: str = "checkmo"
    order_currency_code: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    firstname: str = "Anna"
    lastname: str = "de Vries"
    street: list[str] = Field(default_factory=lambda: ["Damrak 1"], min_length=1)
    city: str = "Amsterdam"
    postcode: str = "1012 LG"
    region: str | None = None
    telephone: str = "+31201234567"
    guest: bool = False

    _check = field_validator("shipping_amount")(_amount)


def stable_id(text: str, digits: int) -> int:
    """The same product/variant id for the same SKU every time (a catalogue we don't have)."""
    low = 10 ** (digits - 1)
    digest = int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)
    return int(low + digest % (9 * low))


def shopify_time(at: datetime) -> str:
    """ISO 8601 with offset, seconds precision, as Shopify writes timestamps."""
    return at.isoformat(timespec="seconds")


def magento_time(at: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, as Magento's REST API writes timestamps."""
    return at.strftime("%Y-%m-%d %H:%M:%S")


# --- Shopify ---------------------------------------------------------------------------------


def money_set(amount: Decimal, shop_currency: str, presentment_currency: str) -> Json:
    """Shopify's ``*_set``: the amount in shop and presentment money (the sandbox's rate is 1)."""
    return {
        "shop_money": {"amount": money.text(amount), "currency_code": shop_currency},
        "presentment_money": {"amount": money.text(amount), "currency_code": presentment_currency},
    }


def shopify_address(c: ShopifyCheckout) -> Json:
    return {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "name": f"{c.first_name} {c.last_name}".strip(),
        "company": None,
        "address1": c.address1,
        "address2": c.address2,
        "city": c.city,
        "zip": c.zip,
        "province": c.province,
        "province_code": None,
        "country": COUNTRIES.get(c.country_code, c.country_code),
        "country_code": c.country_code,
        "phone": c.phone,
        "latitude": None,
        "longitude": None,
    }


def build_shopify_order(
    c: ShopifyCheckout, *, ids: Ids, number: int, shop: str, currency: str, at: datetime
) -> Json:
    """The order JSON of an ``orders/create`` webhook, totals computed exactly."""
    order_id = ids()
    shown = c.presentment_currency or currency
    lines: list[Json] = []
    applications: list[Json] = []
    gross = discounts = Decimal(0)
    for line in c.lines:
        price, discount = money.parse(line.price, "price"), money.parse(line.discount, "discount")
        gross += price * line.quantity
        discounts += discount
        allocations: list[Json] = []
        if discount > 0:
            allocations.append(
                {
                    "amount": money.text(discount),
                    "amount_set": money_set(discount, currency, shown),
                    "discount_application_index": len(applications),
                }
            )
            applications.append(
                {
                    "type": "manual",
                    "value": money.text(discount),
                    "value_type": "fixed_amount",
                    "allocation_method": "one",
                    "target_selection": "explicit",
                    "target_type": "line_item",
                    "title": f"Discount on {line.sku}",
                    "description": f"Discount on {line.sku}",
                }
            )
        line_id = ids()
        title = line.title or f"Product {line.sku}"
        lines.append(
            {
                "id": line_id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                "variant_id": stable_id("variant:" + line.sku, 14),
                "product_id": stable_id("product:" + line.sku, 13),
                "sku": line.sku,
                "name": title,
                "title": title,
                "variant_title": None,
                "vendor": "Sandbox",
                "quantity": line.quantity,
                "current_quantity": line.quantity,
                "fulfillable_quantity": line.quantity,
                "fulfillment_service": "manual",
                "fulfillment_status": None,
                "requires_shipping": True,
                "taxable": True,
                "gift_card": False,
                "grams": line.grams,
                "price": money.text(price),
                "price_set": money_set(price, currency, shown),
                "total_discount": money.text(discount),
                "total_discount_set": money_set(discount, currency, shown),
                "discount_allocations": allocations,
                "tax_lines": [],
                "duties": [],
                "properties": [],
            }
        )
    shipping_price = money.parse(c.shipping.price, "shipping.price")
    subtotal = gross - discounts
    total = subtotal + shipping_price
    customer_id = stable_id("customer:" + c.email, 13)
    shipping_line_id = ids()
    token = secrets.token_hex(16)
    created = shopify_time(at)
    name = f"#{number}"
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": name,
        "order_number": number,
        "number": number - 1000,
        "token": token,
        "confirmation_number": token[:9].upper(),
        "email": c.email,
        "contact_email": c.email,
        "phone": c.phone,
        "created_at": created,
        "updated_at": created,
        "processed_at": created,
        "closed_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "confirmed": True,
        "test": False,
        "currency": currency,
        "presentment_currency": shown,
        "total_price": money.text(total),
        "total_price_set": money_set(total, currency, shown),
        "subtotal_price": money.text(subtotal),
        "subtotal_price_set": money_set(subtotal, currency, shown),
        "total_line_items_price": money.text(gross),
        "total_line_items_price_set": money_set(gross, currency, shown),
        "total_discounts": money.text(discounts),
        "total_discounts_set": money_set(discounts, currency, shown),
        "total_shipping_price_set": money_set(shipping_price, currency, shown),
        "total_tax": money.text(Decimal(0)),
        "total_tax_set": money_set(Decimal(0), currency, shown),
        "total_outstanding": money.text(Decimal(0)),
        "current_total_price": money.text(total),
        "current_subtotal_price": money.text(subtotal),
        "current_total_discounts": money.text(discounts),
        "current_total_tax": money.text(Decimal(0)),
        "total_weight": sum(li["grams"] * li["quantity"] for li in lines),
        "taxes_included": c.taxes_included,
        "tax_lines": [],
        "financial_status": "paid",
        "fulfillment_status": None,
        "gateway": c.gateway,
        "payment_gateway_names": [c.gateway],
        "source_name": "web",
        "tags": "",
        "note": c.note,
        "note_attributes": [],
        "buyer_accepts_marketing": False,
        "customer_locale": "en",
        "order_status_url": f"https://{shop}.myshopify.com/orders/{token}/authenticate",
        "customer": {
            "id": customer_id,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
            "email": c.email,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "phone": c.phone,
            "currency": currency,
            "state": "disabled",
            "verified_email": True,
        },
        "shipping_address": shopify_address(c),
        "billing_address": shopify_address(c),
        "line_items": lines,
        "discount_applications": applications,
        "discount_codes": [],
        "shipping_lines": [
            {
                "id": shipping_line_id,
                "title": c.shipping.title,
                "code": c.shipping.code or c.shipping.title,
                "source": "shopify",
                "price": money.text(shipping_price),
                "price_set": money_set(shipping_price, currency, shown),
                "discounted_price": money.text(shipping_price),
                "discounted_price_set": money_set(shipping_price, currency, shown),
                "discount_allocations": [],
                "tax_lines": [],
                "carrier_identifier": None,
                "requested_fulfillment_service_id": None,
            }
        ],
        "fulfillments": [],
        "refunds": [],
    }


def build_fulfillment_order(order: Json, *, ids: Ids, shop_id: int, at: datetime) -> Json:
    """The one fulfillment order Shopify opens for a new order at the shop's single location."""
    fo_id = ids()
    return {
        "id": fo_id,
        "shop_id": shop_id,
        "order_id": order["id"],
        "assigned_location_id": shop_id + 1,
        "request_status": "unsubmitted",
        "status": "open",
        "supported_actions": ["create_fulfillment", "move"],
        "fulfill_at": None,
        "created_at": shopify_time(at),
        "updated_at": shopify_time(at),
        "destination": {
            k: order["shipping_address"][k]
            for k in (
                "first_name",
                "last_name",
                "address1",
                "address2",
                "city",
                "zip",
                "province",
                "country",
                "phone",
            )
        }
        | {"email": order["email"]},
        "line_items": [
            {
                "id": ids(),
                "shop_id": shop_id,
                "fulfillment_order_id": fo_id,
                "line_item_id": li["id"],
                "inventory_item_id": stable_id("inventory:" + li["sku"], 14),
                "variant_id": li["variant_id"],
                "quantity": li["quantity"],
                "fulfillable_quantity": li["quantity"],
            }
            for li in order["line_items"]
            if li["requires_shipping"]
        ],
    }


def shopify_transaction(
    *,
    ids: Ids,
    order: Json,
    kind: str,
    gateway: str,
    amount: Decimal,
    parent_id: int | None,
    at: datetime,
) -> Json:
    tx_id = ids()
    return {
        "id": tx_id,
        "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{tx_id}",
        "order_id": order["id"],
        "kind": kind,
        "gateway": gateway,
        "status": "success",
        "message": "Sandbox transaction",
        "created_at": shopify_time(at),
        "processed_at": shopify_time(at),
        "test": False,
        "authorization": f"sandbox-{tx_id}",
        "parent_id": parent_id,
        "amount": money.text(amount),
        "currency": order["presentment_currency"],
        "source_name": "web",
        "error_code": None,
        "user_id": None,
        "device_id": None,
        "location_id": None,
        "receipt": {},
    }


# --- Adobe Commerce ------------------------------------------------------------------------

PAYMENT_TITLES = {
    "checkmo": "Check / Money order",
    "banktransfer": "Bank Transfer Payment",
    "cashondelivery": "Cash On Delivery",
    "free": "No Payment Information Required",
}


def _item_row(
    *,
    item_id: int,
    order_id: int,
    sku: str,
    name: str,
    product_type: str,
    product_sku: str,
    qty: int,
    price: Decimal,
    discount: Decimal,
    weight: float,
    at: str,
) -> Json:
    row = price * qty
    n = money.number
    return {
        "item_id": item_id,
        "order_id": order_id,
        "quote_item_id": item_id + 1000,
        "store_id": 1,
        "created_at": at,
        "updated_at": at,
        "product_id": stable_id("product:" + product_sku, 4),
        "product_type": product_type,
        "sku": sku,
        "name": name,
        "is_virtual": 0,
        "is_qty_decimal": 0,
        "no_discount": 0,
        "free_shipping": 0,
        "weight": weight,
        "row_weight": weight * qty,
        "qty_ordered": qty,
        "qty_invoiced": 0,
        "qty_shipped": 0,
        "qty_refunded": 0,
        "qty_canceled": 0,
        "price": n(price),
        "base_price": n(price),
        "original_price": n(price),
        "base_original_price": n(price),
        "price_incl_tax": n(price),
        "base_price_incl_tax": n(price),
        "row_total": n(row),
        "base_row_total": n(row),
        "row_total_incl_tax": n(row),
        "base_row_total_incl_tax": n(row),
        "row_invoiced": 0,
        "base_row_invoiced": 0,
        "discount_amount": n(discount),
        "base_discount_amount": n(discount),
        "discount_percent": 0,
        "discount_invoiced": 0,
        "base_discount_invoiced": 0,
        "discount_refunded": 0,
        "base_discount_refunded": 0,
        "amount_refunded": 0,
        "base_amount_refunded": 0,
        "tax_amount": 0,
        "base_tax_amount": 0,
        "tax_percent": 0,
        "tax_invoiced": 0,
        "base_tax_invoiced": 0,
        "discount_tax_compensation_amount": 0,
        "base_discount_tax_compensation_amount": 0,
    }


def adobe_address(
    c: AdobeCheckout, *, address_type: Literal["billing", "shipping"], entity_id: int, order_id: int
) -> Json:
    return {
        "address_type": address_type,
        "entity_id": entity_id,
        "parent_id": order_id,
        "firstname": c.firstname,
        "lastname": c.lastname,
        "street": list(c.street),
        "city": c.city,
        "postcode": c.postcode,
        "country_id": c.country_id,
        "region": c.region,
        "region_code": None,
        "region_id": 0,
        "telephone": c.telephone,
        "email": c.email,
    }


def build_adobe_order(
    c: AdobeCheckout,
    *,
    entity_id: int,
    increment: int,
    item_ids: Ids,
    currency: str,
    at: datetime,
) -> Json:
    """The sales order entity of ``GET /V1/orders/{id}``: floats for money like Magento's REST."""
    now = magento_time(at)
    items: list[Json] = []
    gross = discounts = Decimal(0)
    qty_total = 0
    for line in c.lines:
        price, discount = money.parse(line.price, "price"), money.parse(line.discount, "discount")
        gross += price * line.qty
        discounts += discount
        qty_total += line.qty
        name = line.name or f"Product {line.parent_sku or line.sku}"
        row = partial(
            _item_row, order_id=entity_id, sku=line.sku, qty=line.qty, weight=line.weight, at=now
        )
        if line.parent_sku is None:
            items.append(
                row(
                    item_id=item_ids(),
                    name=name,
                    product_type="simple",
                    product_sku=line.sku,
                    price=price,
                    discount=discount,
                )
            )
            continue
        parent = row(
            item_id=item_ids(),
            name=name,
            product_type="configurable",
            product_sku=line.parent_sku,
            price=price,
            discount=discount,
        )
        parent["product_options"] = {"info_buyRequest": {"qty": line.qty}, "simple_sku": line.sku}
        child = row(
            item_id=item_ids(),
            name=f"{name} ({line.sku})",
            product_type="simple",
            product_sku=line.sku,
            price=Decimal(0),
            discount=Decimal(0),
        )
        child["parent_item_id"] = parent["item_id"]
        items += [parent, child]
    shipping = money.parse(c.shipping_amount, "shipping_amount")
    grand = gross - discounts + shipping
    n = money.number
    code = c.order_currency_code or currency
    customer: Json = (
        {"customer_is_guest": 1, "customer_group_id": 0}
        if c.guest
        else {
            "customer_is_guest": 0,
            "customer_group_id": 1,
            "customer_id": stable_id("customer:" + c.email, 3),
        }
    )
    shipping_total = {
        "shipping_amount": n(shipping),
        "base_shipping_amount": n(shipping),
        "shipping_incl_tax": n(shipping),
        "base_shipping_incl_tax": n(shipping),
        "shipping_tax_amount": 0,
        "base_shipping_tax_amount": 0,
        "shipping_discount_amount": 0,
        "base_shipping_discount_amount": 0,
        "shipping_discount_tax_compensation_amount": 0,
    }
    return {
        "entity_id": entity_id,
        "increment_id": f"{increment:09d}",
        "state": "new",
        "status": "pending",
        "created_at": now,
        "updated_at": now,
        "store_id": 1,
        "store_name": "Main Website\nMain Website Store\nDefault Store View",
        "quote_id": entity_id + 1000,
        "protect_code": secrets.token_hex(3),
        "remote_ip": "127.0.0.1",
        "customer_email": c.email,
        "customer_firstname": c.firstname,
        "customer_lastname": c.lastname,
        "customer_note_notify": 1,
        **customer,
        "email_sent": 1,
        "is_virtual": 0,
        "base_currency_code": currency,
        "global_currency_code": currency,
        "store_currency_code": currency,
        "order_currency_code": code,
        "base_to_global_rate": 1,
        "base_to_order_rate": 1,
        "store_to_base_rate": 0,
        "store_to_order_rate": 0,
        "grand_total": n(grand),
        "base_grand_total": n(grand),
        "subtotal": n(gross),
        "base_subtotal": n(gross),
        "subtotal_incl_tax": n(gross),
        "base_subtotal_incl_tax": n(gross),
        "discount_amount": n(-discounts),
        "base_discount_amount": n(-discounts),
        "discount_tax_compensation_amount": 0,
        "base_discount_tax_compensation_amount": 0,
        **shipping_total,
        "shipping_description": "Flat Rate - Fixed",
        "tax_amount": 0,
        "base_tax_amount": 0,
        "total_qty_ordered": qty_total,
        "total_item_count": len(c.lines),
        "weight": sum(line.weight * line.qty for line in c.lines),
        "total_paid": 0,
        "base_total_paid": 0,
        "total_due": n(grand),
        "base_total_due": n(grand),
        "total_invoiced": 0,
        "base_total_invoiced": 0,
        "total_refunded": 0,
        "base_total_refunded": 0,
        "total_offline_refunded": 0,
        "base_total_offline_refunded": 0,
        "total_canceled": 0,
        "base_total_canceled": 0,
        "subtotal_invoiced": 0,
        "subtotal_refunded": 0,
        "discount_invoiced": 0,
        "discount_refunded": 0,
        "shipping_invoiced": 0,
        "shipping_refunded": 0,
        "base_shipping_refunded": 0,
        "adjustment_positive": 0,
        "adjustment_negative": 0,
        "billing_address_id": entity_id * 2 - 1,
        "billing_address": adobe_address(
            c, address_type="billing", entity_id=entity_id * 2 - 1, order_id=entity_id
        ),
        "payment": {
            "entity_id": entity_id,
            "parent_id": entity_id,
            "method": c.payment_method,
            "amount_ordered": n(grand),
            "base_amount_ordered": n(grand),
            "shipping_amount": n(shipping),
            "base_shipping_amount": n(shipping),
            "amount_paid": 0,
            "base_amount_paid": 0,
            "amount_refunded": 0,
            "base_amount_refunded": 0,
            "account_status": None,
            "cc_last4": None,
            "additional_information": (
                [PAYMENT_TITLES[c.payment_method]] if c.payment_method in PAYMENT_TITLES else []
            ),
        },
        "items": items,
        "status_histories": [],
        "extension_attributes": {
            "shipping_assignments": [
                {
                    "shipping": {
                        "address": adobe_address(
                            c, address_type="shipping", entity_id=entity_id * 2, order_id=entity_id
                        ),
                        "method": "flatrate_flatrate",
                        "total": shipping_total,
                    },
                    "items": [],
                }
            ],
            "payment_additional_info": [
                {
                    "key": "method_title",
                    "value": PAYMENT_TITLES.get(c.payment_method, c.payment_method),
                }
            ],
            "applied_taxes": [],
            "item_applied_taxes": [],
        },
    }
