"""The Shopify sandbox against its contract: Shopify's documented order, webhook and Admin REST
behaviour (totals, HMAC, fulfilment/refund/cancel rules, faults, auth)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from oms_connectors.sandbox import SandboxSettings, ShopConfig, create_sandbox

SECRET = "shpss_test_secret"
TOKEN = "shpat_test_token"
HOOK = "http://connector.test/v1/webhooks/shopify/demo-shopify"
ADMIN = "/shopify/demo-shopify/admin/api/2025-01"
AUTH = {"X-Shopify-Access-Token": TOKEN}

CHECKOUT = {
    "email": "anna@example.com",
    "country_code": "NL",
    "lines": [
        {"sku": "MUG-1", "quantity": 2, "price": "12.50", "discount": "2.00"},
        {"sku": "PEN-1", "quantity": 3, "price": "0.10"},
    ],
    "shipping": {"title": "Standard", "price": "4.95"},
    "gateway": "shopify_payments",
    "first_name": "Anna",
    "last_name": "de Vries",
    "address1": "Damrak 1",
    "city": "Amsterdam",
    "zip": "1012 LG",
    "taxes_included": True,
}


class Receiver:
    """The connector's webhook endpoint, answering the statuses it is told to, in turn."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def api(receiver: Receiver) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = SandboxSettings(
        shops=[
            ShopConfig(
                shop="demo-shopify",
                platform="shopify",
                access_token=TOKEN,
                webhook_secret=SECRET,
                currency="EUR",
                webhook_url=HOOK,
            )
        ],
        webhook_tries=3,
        webhook_backoff_s=0,
    )
    app = create_sandbox(settings, webhook_transport=httpx.MockTransport(receiver))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        yield client, app.state.sandbox


async def checkout(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/shopify/demo-shopify/sandbox/orders", json=CHECKOUT | changes)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()["order"]
    return order


def hmac_of(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def test_checkout_builds_the_documented_order_with_exact_totals(api: Any) -> None:
    client, _ = api
    order = await checkout(client)
    assert order["name"] == "#1001" and order["order_number"] == 1001
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
    assert order["total_line_items_price"] == "25.30"
    assert order["total_discounts"] == "2.00"
    assert order["subtotal_price"] == "23.30"
    assert order["total_price"] == "28.25"
    assert order["total_price_set"]["shop_money"] == {"amount": "28.25", "currency_code": "EUR"}
    assert order["financial_status"] == "paid" and order["fulfillment_status"] is None
    assert order["created_at"].endswith("+00:00")
    mug = order["line_items"][0]
    assert mug["price"] == "12.50" and mug["quantity"] == 2 and mug["fulfillable_quantity"] == 2
    assert mug["discount_allocations"] == [
        {
            "amount": "2.00",
            "amount_set": mug["discount_allocations"][0]["amount_set"],
            "discount_application_index": 0,
        }
    ]
    assert order["discount_applications"][0]["value"] == "2.00"
    assert order["shipping_lines"][0]["price"] == "4.95"
    assert order["shipping_address"]["name"] == "Anna de Vries"
    assert order["shipping_address"]["country"] == "Netherlands"
    assert (await checkout(client))["name"] == "#1002"

    txs = (await client.get(f"{ADMIN}/orders/{order['id']}/transactions.json", headers=AUTH)).json()
    assert [(t["kind"], t["status"], t["amount"]) for t in txs["transactions"]] == [
        ("sale", "success", "28.25")
    ]
    fos = await client.get(f"{ADMIN}/orders/{order['id']}/fulfillment_orders.json", headers=AUTH)
    (fo,) = fos.json()["fulfillment_orders"]
    assert fo["status"] == "open" and fo["order_id"] == order["id"]
    assert [(li["line_item_id"], li["fulfillable_quantity"]) for li in fo["line_items"]] == [
        (order["line_items"][0]["id"], 2),
        (order["line_items"][1]["id"], 3),
    ]


async def test_webhook_is_signed_and_retried_with_the_same_webhook_id(
    api: Any, receiver: Receiver
) -> None:
    client, sandbox = api
    receiver.statuses = [500, 200]
    order = await checkout(client)
    await sandbox.sender.drain()

    first, second = receiver.requests
    assert str(first.url) == HOOK
    assert first.headers["X-Shopify-Topic"] == "orders/create"
    assert first.headers["X-Shopify-Shop-Domain"] == "demo-shopify.myshopify.com"
    assert first.headers["X-Shopify-Webhook-Id"] == second.headers["X-Shopify-Webhook-Id"]
    assert first.content == second.content
    assert first.headers["X-Shopify-Hmac-Sha256"] == hmac_of(SECRET, first.content)
    assert first.headers["X-Shopify-Hmac-Sha256"] != hmac_of("wrong secret", first.content)
    assert httpx.Response(200, content=first.content).json()["id"] == order["id"]

    deliveries = (await client.get("/shopify/demo-shopify/sandbox/deliveries")).json()
    assert [(a["attempt"], a["status"]) for a in deliveries["deliveries"]] == [(1, 500), (2, 200)]

    again = await client.post(f"/shopify/demo-shopify/sandbox/orders/{order['id']}/redeliver")
    assert again.status_code == 202
    await sandbox.sender.drain()
    assert receiver.requests[2].headers["X-Shopify-Webhook-Id"] == again.json()["webhook_id"]
    assert again.json()["webhook_id"] == first.headers["X-Shopify-Webhook-Id"]


async def test_raw_webhook_is_delivered_as_given(api: Any, receiver: Receiver) -> None:
    client, sandbox = api
    fixture = b'{"id": 1, "name": "#9999", "line_items": []}'
    response = await client.post("/shopify/demo-shopify/sandbox/webhooks", content=fixture)
    assert response.status_code == 202
    await sandbox.sender.drain()
    (request,) = receiver.requests
    assert request.content == fixture
    assert request.headers["X-Shopify-Hmac-Sha256"] == hmac_of(SECRET, fixture)


async def fulfil(client: httpx.AsyncClient, fo: dict[str, Any], items: list[Any]) -> httpx.Response:
    body = {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {"fulfillment_order_id": fo["id"], "fulfillment_order_line_items": items}
            ],
            "tracking_info": {"number": "3SABC123", "company": "PostNL"},
            "notify_customer": False,
        }
    }
    return await client.post(f"{ADMIN}/fulfillments.json", json=body, headers=AUTH)


async def fulfillment_order(client: httpx.AsyncClient, order: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(
        f"{ADMIN}/orders/{order['id']}/fulfillment_orders.json", headers=AUTH
    )
    fo: dict[str, Any] = response.json()["fulfillment_orders"][0]
    return fo


async def test_fulfilment_then_over_fulfilment_is_refused(api: Any) -> None:
    client, _ = api
    order = await checkout(client)
    fo = await fulfillment_order(client, order)
    mug, pen = fo["line_items"]

    first = await fulfil(
        client, fo, [{"id": mug["id"], "quantity": 2}, {"id": pen["id"], "quantity": 1}]
    )
    assert first.status_code == 201, first.text
    fulfillment = first.json()["fulfillment"]
    assert fulfillment["status"] == "success" and fulfillment["shipment_status"] is None
    assert fulfillment["tracking_number"] == "3SABC123"
    assert fulfillment["tracking_numbers"] == ["3SABC123"]
    assert [(li["sku"], li["quantity"]) for li in fulfillment["line_items"]] == [
        ("MUG-1", 2),
        ("PEN-1", 1),
    ]

    over = await fulfil(client, fo, [{"id": pen["id"], "quantity": 3}])
    assert over.status_code == 422
    assert over.json() == {"errors": ["Invalid fulfillment order line item quantity requested."]}

    got = (await client.get(f"{ADMIN}/orders/{order['id']}.json", headers=AUTH)).json()["order"]
    assert got["fulfillment_status"] == "partial"
    assert [li["fulfillable_quantity"] for li in got["line_items"]] == [0, 2]
    assert (await fulfillment_order(client, order))["status"] == "in_progress"

    events = f"{ADMIN}/orders/{order['id']}/fulfillments/{fulfillment['id']}/events.json"
    delivered = await client.post(events, json={"event": {"status": "delivered"}}, headers=AUTH)
    assert delivered.status_code == 201
    assert delivered.json()["fulfillment_event"]["status"] == "delivered"
    bad = await client.post(events, json={"event": {"status": "teleported"}}, headers=AUTH)
    assert bad.status_code == 422
    listed = (await client.get(events, headers=AUTH)).json()["fulfillment_events"]
    assert [e["status"] for e in listed] == ["delivered"]
    shown = await client.get(f"{ADMIN}/orders/{order['id']}/fulfillments.json", headers=AUTH)
    assert shown.json()["fulfillments"][0]["shipment_status"] == "delivered"

    rest = await fulfil(client, fo, [{"id": pen["id"], "quantity": 2}])
    assert rest.status_code == 201
    got = (await client.get(f"{ADMIN}/orders/{order['id']}.json", headers=AUTH)).json()["order"]
    assert got["fulfillment_status"] == "fulfilled"
    assert (await fulfillment_order(client, order))["status"] == "closed"


async def test_refund_above_the_sale_is_refused(api: Any) -> None:
    client, _ = api
    order = await checkout(client)
    txs = await client.get(f"{ADMIN}/orders/{order['id']}/transactions.json", headers=AUTH)
    sale = txs.json()["transactions"][0]
    mug = order["line_items"][0]

    def refund(amount: str, qty: int = 1) -> dict[str, Any]:
        return {
            "refund": {
                "currency": "EUR",
                "notify": False,
                "note": "damaged",
                "refund_line_items": [
                    {"line_item_id": mug["id"], "quantity": qty, "restock_type": "no_restock"}
                ],
                "transactions": [
                    {
                        "parent_id": sale["id"],
                        "amount": amount,
                        "kind": "refund",
                        "gateway": "shopify_payments",
                    }
                ],
            }
        }

    url = f"{ADMIN}/orders/{order['id']}/refunds.json"
    too_much = await client.post(url, json=refund("28.26"), headers=AUTH)
    assert too_much.status_code == 422
    assert "base" in too_much.json()["errors"]

    ok = await client.post(url, json=refund("11.50"), headers=AUTH)
    assert ok.status_code == 201, ok.text
    created = ok.json()["refund"]
    assert created["refund_line_items"][0]["subtotal"] == "11.50"
    assert [(t["kind"], t["amount"], t["parent_id"]) for t in created["transactions"]] == [
        ("refund", "11.50", sale["id"])
    ]
    left_over = await client.post(url, json=refund("16.76"), headers=AUTH)
    assert left_over.status_code == 422
    too_many = await client.post(url, json=refund("1.00", qty=2), headers=AUTH)
    assert too_many.status_code == 422
    assert "refund_line_items.quantity" in too_many.json()["errors"]

    got = (await client.get(f"{ADMIN}/orders/{order['id']}.json", headers=AUTH)).json()["order"]
    assert got["financial_status"] == "partially_refunded"
    listed = (await client.get(url, headers=AUTH)).json()["refunds"]
    assert [r["id"] for r in listed] == [created["id"]]


async def test_cancel_after_fulfilment_is_refused_and_twice_too(api: Any) -> None:
    client, _ = api
    shipped = await checkout(client)
    fo = await fulfillment_order(client, shipped)
    assert (
        await fulfil(client, fo, [{"id": fo["line_items"][0]["id"], "quantity": 1}])
    ).status_code == 201
    refused = await client.post(f"{ADMIN}/orders/{shipped['id']}/cancel.json", headers=AUTH)
    assert refused.status_code == 422
    assert refused.json() == {"error": "Cannot cancel an order that has been fulfilled"}

    order = await checkout(client)
    url = f"{ADMIN}/orders/{order['id']}/cancel.json"
    cancelled = await client.post(url, json={"reason": "customer"}, headers=AUTH)
    assert cancelled.status_code == 200
    assert cancelled.json()["order"]["cancel_reason"] == "customer"
    assert cancelled.json()["order"]["cancelled_at"] is not None
    assert (await client.post(url, headers=AUTH)).status_code == 422
    assert (await fulfillment_order(client, order))["status"] == "closed"
    fo = await fulfillment_order(client, order)
    assert (
        await fulfil(client, fo, [{"id": fo["line_items"][0]["id"], "quantity": 1}])
    ).status_code == 422


async def test_fail_after_records_the_effect_once_and_answers_503(api: Any) -> None:
    client, _ = api
    order = await checkout(client)
    fo = await fulfillment_order(client, order)
    fault = {
        "shop": "demo-shopify",
        "method": "POST",
        "path_suffix": "fulfillments.json",
        "mode": "fail_after",
        "status": 503,
        "count": 1,
    }
    assert (await client.post("/sandbox/faults", json=fault)).status_code == 201

    lost = await fulfil(client, fo, [{"id": fo["line_items"][0]["id"], "quantity": 1}])
    assert lost.status_code == 503
    done = await client.get(f"{ADMIN}/orders/{order['id']}/fulfillments.json", headers=AUTH)
    assert len(done.json()["fulfillments"]) == 1
    assert (
        await fulfil(client, fo, [{"id": fo["line_items"][0]["id"], "quantity": 1}])
    ).status_code == 201

    before = fault | {"mode": "fail_before"}
    await client.post("/sandbox/faults", json=before)
    refused = await fulfil(client, fo, [{"id": fo["line_items"][1]["id"], "quantity": 1}])
    assert refused.status_code == 503
    done = await client.get(f"{ADMIN}/orders/{order['id']}/fulfillments.json", headers=AUTH)
    assert len(done.json()["fulfillments"]) == 2

    calls = (await client.get("/sandbox/calls", params={"shop": "demo-shopify"})).json()["calls"]
    posts = [
        (c["status"], c["fault"])
        for c in calls
        if c["path"].endswith("fulfillments.json") and c["method"] == "POST"
    ]
    assert posts == [(503, "fail_after"), (201, None), (503, "fail_before")]


async def test_admin_api_needs_the_access_token(api: Any) -> None:
    client, _ = api
    order = await checkout(client)
    url = f"{ADMIN}/orders/{order['id']}.json"
    for headers in ({}, {"X-Shopify-Access-Token": "wrong"}):
        response = await client.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }
    assert (await client.get(url, headers=AUTH)).status_code == 200
    missing = await client.get(f"{ADMIN}/orders/1.json", headers=AUTH)
    assert missing.status_code == 404 and missing.json() == {"errors": "Not Found"}
