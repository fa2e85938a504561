"""The Adobe Commerce sandbox against its contract: Magento's order entity (configurable rows,
float totals), the RSA-signed webhook, searchCriteria, and invoice/ship/refund/cancel rules."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from oms_connectors.sandbox import SandboxSettings, ShopConfig, create_sandbox

TOKEN = "adobe-integration-token"
HOOK = "http://connector.test/v1/webhooks/adobe-commerce/demo-adobe"
REST = "/adobe-commerce/demo-adobe/rest/V1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()

ORDER = {
    "email": "anna@example.com",
    "country_id": "NL",
    "lines": [
        {
            "sku": "TSHIRT-RED-M",
            "qty": 2,
            "price": "12.50",
            "discount": "2.00",
            "parent_sku": "TSHIRT",
        },
        {"sku": "MUG-1", "qty": 1, "price": "8.05"},
    ],
    "shipping_amount": "4.95",
    "payment_method": "checkmo",
    "firstname": "Anna",
    "lastname": "de Vries",
    "street": ["Damrak 1"],
    "city": "Amsterdam",
    "postcode": "1012 LG",
    "guest": True,
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def received() -> list[httpx.Request]:
    return []


@pytest.fixture
async def api(
    clock: Clock, received: list[httpx.Request]
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = SandboxSettings(
        shops=[
            ShopConfig(
                shop="demo-adobe",
                platform="adobe-commerce",
                access_token=TOKEN,
                webhook_private_key_pem=PEM,
                webhook_url=HOOK,
            )
        ],
        webhook_backoff_s=0,
    )

    def receive(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json=[{"op": "success"}])

    app = create_sandbox(settings, webhook_transport=httpx.MockTransport(receive), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as client:
        yield client, app.state.sandbox


async def place(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/adobe-commerce/demo-adobe/sandbox/orders", json=ORDER | changes)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()["order"]
    return order


async def get(client: httpx.AsyncClient, order: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"{REST}/orders/{order['entity_id']}", headers=AUTH)
    assert response.status_code == 200
    got: dict[str, Any] = response.json()
    return got


async def test_order_has_configurable_parent_and_child_rows_and_exact_totals(api: Any) -> None:
    client, _ = api
    order = await place(client)
    assert order["increment_id"] == "000000001"
    assert (order["state"], order["status"]) == ("new", "pending")
    assert order["created_at"] == "2026-12-01 10:00:00"
    assert order["customer_is_guest"] == 1 and "customer_id" not in order
    assert order["subtotal"] == 33.05
    assert order["discount_amount"] == -2.0
    assert order["shipping_amount"] == 4.95
    assert order["grand_total"] == 36.0
    assert order["total_due"] == 36.0 and order["total_paid"] == 0
    parent, child, mug = order["items"]
    assert (parent["product_type"], parent["sku"], parent["price"], parent["qty_ordered"]) == (
        "configurable",
        "TSHIRT-RED-M",
        12.5,
        2,
    )
    assert parent["discount_amount"] == 2.0 and parent["row_total"] == 25.0
    assert (child["product_type"], child["sku"], child["price"]) == ("simple", "TSHIRT-RED-M", 0.0)
    assert child["parent_item_id"] == parent["item_id"]
    assert child["parent_item"]["item_id"] == parent["item_id"]
    assert "parent_item_id" not in mug
    shipping = order["extension_attributes"]["shipping_assignments"][0]
    assert shipping["shipping"]["method"] == "flatrate_flatrate"
    assert shipping["shipping"]["address"]["address_type"] == "shipping"
    assert [i["item_id"] for i in shipping["items"]] == [i["item_id"] for i in order["items"]]
    assert order["payment"]["method"] == "checkmo"
    registered = await place(client, guest=False)
    assert registered["customer_is_guest"] == 0 and "customer_id" in registered
    assert registered["increment_id"] == "000000002"


async def test_webhook_signature_verifies_with_the_public_key_only(
    api: Any, received: list[httpx.Request]
) -> None:
    client, sandbox = api
    order = await place(client)
    await sandbox.sender.drain()
    (request,) = received
    body = request.content
    assert httpx.Response(200, content=body).json()["eventName"] == "sales_order_place_after"
    assert (
        httpx.Response(200, content=body).json()["data"]["order"]["entity_id"] == order["entity_id"]
    )
    signature = base64.b64decode(request.headers["x-adobe-commerce-webhook-signature"])
    signed = base64.b64encode(body)  # Adobe's verification page: the base64-encoded body
    KEY.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(InvalidSignature):
        other.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(signature, body + b" ", padding.PKCS1v15(), hashes.SHA256())


async def test_invoice_ship_refund_rules(api: Any) -> None:
    client, _ = api
    order = await place(client)
    oid = order["entity_id"]
    parent, child, mug = order["items"]

    early = await client.post(f"{REST}/order/{oid}/refund", json={"items": []}, headers=AUTH)
    assert early.status_code == 400
    assert "The order does not allow a creditmemo to be created." in early.json()["message"]

    over = await client.post(
        f"{REST}/order/{oid}/invoice",
        headers=AUTH,
        json={"capture": True, "items": [{"order_item_id": mug["item_id"], "qty": 2}]},
    )
    assert over.status_code == 400 and "invalid quantity to invoice" in over.json()["message"]
    invoice = await client.post(f"{REST}/order/{oid}/invoice", json={"capture": True}, headers=AUTH)
    assert invoice.status_code == 200 and isinstance(invoice.json(), int)
    again = await client.post(f"{REST}/order/{oid}/invoice", json={"capture": True}, headers=AUTH)
    assert again.status_code == 400
    got = await get(client, order)
    assert (got["state"], got["status"]) == ("processing", "processing")
    assert got["total_paid"] == 36.0 and got["total_due"] == 0
    invoices = await client.get(
        f"{REST}/invoices",
        headers=AUTH,
        params={
            "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
            "searchCriteria[filter_groups][0][filters][0][value]": str(oid),
        },
    )
    assert invoices.json()["total_count"] == 1
    assert invoices.json()["items"][0]["grand_total"] == 36.0

    child_only = await client.post(
        f"{REST}/order/{oid}/ship",
        headers=AUTH,
        json={"items": [{"order_item_id": child["item_id"], "qty": 1}]},
    )
    assert child_only.status_code == 400
    assert child_only.json()["message"].startswith("Shipment Document Validation Error(s):\n")
    too_many = await client.post(
        f"{REST}/order/{oid}/ship",
        headers=AUTH,
        json={"items": [{"order_item_id": parent["item_id"], "qty": 3}]},
    )
    assert too_many.status_code == 400
    ship = await client.post(
        f"{REST}/order/{oid}/ship",
        headers=AUTH,
        json={
            "items": [
                {"order_item_id": parent["item_id"], "qty": 2},
                {"order_item_id": mug["item_id"], "qty": 1},
            ],
            "notify": False,
            "appendComment": True,
            "comment": {"comment": "Shipped", "is_visible_on_front": 0},
            "tracks": [{"track_number": "3SABC", "title": "PostNL", "carrier_code": "custom"}],
        },
    )
    assert ship.status_code == 200, ship.text
    got = await get(client, order)
    assert (got["state"], got["status"]) == ("complete", "complete")
    assert [i["qty_shipped"] for i in got["items"]] == [2, 0, 1]
    shipments = (
        await client.get(
            f"{REST}/shipments",
            headers=AUTH,
            params={
                "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
                "searchCriteria[filter_groups][0][filters][0][value]": str(oid),
            },
        )
    ).json()
    assert shipments["items"][0]["tracks"][0]["track_number"] == "3SABC"
    assert shipments["items"][0]["tracks"][0]["order_id"] == oid

    over_qty = await client.post(
        f"{REST}/order/{oid}/refund",
        headers=AUTH,
        json={"items": [{"order_item_id": mug["item_id"], "qty": 2}]},
    )
    assert over_qty.status_code == 400
    over_money = await client.post(
        f"{REST}/order/{oid}/refund",
        headers=AUTH,
        json={
            "items": [{"order_item_id": mug["item_id"], "qty": 1}],
            "arguments": {"shipping_amount": 0, "adjustment_positive": 30},
        },
    )
    assert over_money.status_code == 400
    assert "The most money available to refund is 36.00." in over_money.json()["message"]
    part = await client.post(
        f"{REST}/order/{oid}/refund",
        headers=AUTH,
        json={
            "items": [{"order_item_id": mug["item_id"], "qty": 1}],
            "arguments": {"shipping_amount": 0},
        },
    )
    assert part.status_code == 200
    memos = (await client.get(f"{REST}/creditmemos", headers=AUTH)).json()
    assert memos["items"][0]["grand_total"] == 8.05
    assert (await get(client, order))["state"] == "complete"
    rest = await client.post(f"{REST}/order/{oid}/refund", json={}, headers=AUTH)
    assert rest.status_code == 200, rest.text
    got = await get(client, order)
    assert (got["state"], got["status"]) == ("closed", "closed")
    assert got["total_refunded"] == 36.0


async def test_search_criteria_updated_at_gteq_with_paging(api: Any, clock: Clock) -> None:
    client, _ = api
    ids = []
    for _ in range(5):
        ids.append((await place(client))["entity_id"])
        clock.advance(10)
    await client.post(
        f"{REST}/orders/{ids[0]}/comments",
        headers=AUTH,
        json={
            "statusHistory": {
                "comment": "touched",
                "is_customer_notified": 0,
                "is_visible_on_front": 0,
                "parent_id": ids[0],
            }
        },
    )

    def criteria(page: int) -> dict[str, str]:
        prefix = "searchCriteria[filter_groups][0][filters][0]"
        return {
            f"{prefix}[field]": "updated_at",
            f"{prefix}[value]": "2026-12-01 10:20:00",
            f"{prefix}[condition_type]": "gteq",
            "searchCriteria[sortOrders][0][field]": "updated_at",
            "searchCriteria[sortOrders][0][direction]": "ASC",
            "searchCriteria[pageSize]": "2",
            "searchCriteria[currentPage]": str(page),
        }

    first = (await client.get(f"{REST}/orders", params=criteria(1), headers=AUTH)).json()
    assert first["total_count"] == 4
    assert [o["entity_id"] for o in first["items"]] == [ids[2], ids[3]]
    assert first["search_criteria"]["page_size"] == 2
    second = (await client.get(f"{REST}/orders", params=criteria(2), headers=AUTH)).json()
    assert [o["entity_id"] for o in second["items"]] == [ids[4], ids[0]]
    beyond = (await client.get(f"{REST}/orders", params=criteria(3), headers=AUTH)).json()
    assert beyond["items"] == [] and beyond["total_count"] == 4

    by_in = await client.get(
        "/adobe-commerce/demo-adobe/rest/default/V1/orders",
        headers=AUTH,
        params={
            "searchCriteria[filter_groups][0][filters][0][field]": "increment_id",
            "searchCriteria[filter_groups][0][filters][0][value]": "000000001,000000003",
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "in",
        },
    )
    assert sorted(o["entity_id"] for o in by_in.json()["items"]) == [ids[0], ids[2]]
    comments = (await client.get(f"{REST}/orders/{ids[0]}/comments", headers=AUTH)).json()
    assert comments["total_count"] == 1 and comments["items"][0]["comment"] == "touched"


async def test_cancel_answers_true_then_false(api: Any) -> None:
    client, _ = api
    order = await place(client)
    url = f"{REST}/orders/{order['entity_id']}/cancel"
    assert (await client.post(url, headers=AUTH)).json() is True
    got = await get(client, order)
    assert (got["state"], got["status"]) == ("canceled", "canceled")
    assert [i["qty_canceled"] for i in got["items"]] == [2, 2, 1]
    assert (await client.post(url, headers=AUTH)).json() is False
    ship = await client.post(f"{REST}/order/{order['entity_id']}/ship", json={}, headers=AUTH)
    assert ship.status_code == 400

    paid = await place(client)
    await client.post(f"{REST}/order/{paid['entity_id']}/invoice", json={}, headers=AUTH)
    assert (
        await client.post(f"{REST}/orders/{paid['entity_id']}/cancel", headers=AUTH)
    ).json() is False


async def test_rest_needs_the_bearer_token_and_fail_after_keeps_the_effect(api: Any) -> None:
    client, _ = api
    order = await place(client)
    denied = await client.get(
        f"{REST}/orders/{order['entity_id']}", headers={"Authorization": "Bearer wrong"}
    )
    assert denied.status_code == 401
    assert denied.json()["message"] == "The consumer isn't authorized to access %resources."
    missing = await client.get(f"{REST}/orders/999", headers=AUTH)
    assert missing.status_code == 404 and "parameters" in missing.json()

    await client.post(
        "/sandbox/faults",
        json={
            "shop": "demo-adobe",
            "method": "POST",
            "path_suffix": "/ship",
            "mode": "fail_after",
            "status": 503,
            "count": 1,
        },
    )
    lost = await client.post(f"{REST}/order/{order['entity_id']}/ship", json={}, headers=AUTH)
    assert lost.status_code == 503
    got = await get(client, order)
    assert [i["qty_shipped"] for i in got["items"]] == [2, 0, 1]
    again = await client.post(f"{REST}/order/{order['entity_id']}/ship", json={}, headers=AUTH)
    assert again.status_code == 400
    calls = (await client.get("/sandbox/calls", params={"shop": "demo-adobe"})).json()["calls"]
    assert [(c["status"], c["fault"]) for c in calls if c["path"].endswith("/ship")] == [
        (503, "fail_after"),
        (400, None),
    ]
