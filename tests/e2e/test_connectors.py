"""Platform orders through the connectors service, on the running stack (`oms up`): the
Shopify and Adobe Commerce sandboxes, the connector, every service and the simulators.

What issue 11 asks: a platform's own order becomes an OMS order that flows to delivered;
the platform records the shipment with its tracking and, after a return, the refund, each
exactly once (also when the platform's answer to the call is lost); a wrong signature is
refused and changes nothing; a webhook delivered twice makes one order; an unmappable
payment method is refused with a reason the shop can read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from rich.console import Console

from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_cli.demo import seed
from oms_cli.lifecycle import Lifecycle
from oms_cli.secrets import random_secret
from oms_connectors.signatures import shopify_signature
from oms_platform.auth import Scope

pytestmark = pytest.mark.integration

CONFIG = StackConfig()
SANDBOX = CONFIG.platform_sandbox_url
CONNECTORS = CONFIG.service_url("connectors")
SHOPIFY = f"{SANDBOX}/shopify/demo-shopify"
ADOBE = f"{SANDBOX}/adobe-commerce/demo-adobe"


def secret(name: str) -> str:
    return random_secret(CONFIG, name).read_text().strip()


SHOPIFY_API = {"X-Shopify-Access-Token": secret("shop-demo-shopify.token")}
ADOBE_API = {"Authorization": f"Bearer {secret('shop-demo-adobe.token')}"}


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    headers = tokens.headers(
        CONFIG, (Scope.PLATFORM, Scope.OPERATIONS, Scope.CUSTOMER_SERVICE), subject="staff:e2e"
    )
    async with httpx.AsyncClient(timeout=30, headers=headers) as c:
        await seed(CONFIG, Console(quiet=True))
        await asyncio.sleep(2)
        yield c


async def until(check: Any, within_s: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.5)


async def taken(client: httpx.AsyncClient, shop: str, pid: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        got = await client.get(f"{CONNECTORS}/v1/shops/{shop}/orders/{pid}")
        return got.json() if got.status_code == 200 and got.json().get("order_id") else None

    found: dict[str, Any] = await until(check)
    return found


async def all_sent(client: httpx.AsyncClient, shop: str, pid: str, kinds: set[str]) -> None:
    async def check() -> bool:
        doc = (await client.get(f"{CONNECTORS}/v1/shops/{shop}/orders/{pid}")).json()
        done = {a["action"] for a in doc["outbound"] if a["status"] == "done"}
        return kinds <= done

    await until(check, 60)


async def deliver_and_return(client: httpx.AsyncClient, ref: str, order_id: str) -> None:
    life = Lifecycle(CONFIG, client, Console(quiet=True))
    lives = await life.follow([(ref, order_id)], 120)
    assert lives[0].status == "delivered", lives[0]
    await life.start_returns(lives, 1, f"e2e-{order_id}")


async def refusals(client: httpx.AsyncClient, shop: str) -> list[dict[str, Any]]:
    got = await client.get(f"{CONNECTORS}/v1/shops/{shop}/refusals", params={"limit": 500})
    found: list[dict[str, Any]] = got.json()["refusals"]
    return found


async def test_a_shopify_order_flows_to_delivered_and_its_shipment_and_refund_reach_shopify_once(
    client: httpx.AsyncClient,
) -> None:
    # The answer to the first fulfillment call and the first refund call is lost after
    # Shopify made them: the connector must find them instead of making them twice.
    for suffix in ("fulfillments.json", "refunds.json"):
        await client.post(
            f"{SANDBOX}/sandbox/faults",
            json={
                "shop": "demo-shopify",
                "method": "POST",
                "path_suffix": suffix,
                "mode": "fail_after",
                "status": 503,
                "count": 1,
            },
        )
    checkout = {
        "email": "sanne@example.nl",
        "country_code": "NL",
        "first_name": "Sanne",
        "last_name": "de Vries",
        "address1": "Damrak 1",
        "city": "Amsterdam",
        "zip": "1012 AB",
        "lines": [{"sku": "MUG-ENAMEL-WHT", "quantity": 3, "price": "12.50", "discount": "2.51"}],
        "shipping": {"title": "Standard", "price": "4.95"},
        "gateway": "shopify_payments",
    }
    made = await client.post(f"{SHOPIFY}/sandbox/orders", json=checkout)
    assert made.status_code == 201, made.text
    order = made.json()["order"]
    pid = str(order["id"])
    doc = await taken(client, "demo-shopify", pid)
    # 3 x 12.50 - 2.51 = 34.99: one unit at 11.66, two at 11.67.
    assert sorted(ln["quantity"] for ln in doc["lines"]) == [1, 2]
    oms = (await client.get(f"{CONFIG.service_url('order')}/v1/orders/{doc['order_id']}")).json()
    assert oms["platform_order_ref"] == order["name"]
    await deliver_and_return(client, order["name"], doc["order_id"])
    await all_sent(client, "demo-shopify", pid, {"ship", "deliver", "refund"})

    api = f"{SHOPIFY}/admin/api/2025-01/orders/{pid}"
    fulfillments = (await client.get(f"{api}/fulfillments.json", headers=SHOPIFY_API)).json()
    assert len(fulfillments["fulfillments"]) == 1
    shipped = fulfillments["fulfillments"][0]
    parcel = oms.get("timeline")
    assert shipped["tracking_number"] and shipped["shipment_status"] == "delivered", parcel
    refunds = (await client.get(f"{api}/refunds.json", headers=SHOPIFY_API)).json()["refunds"]
    assert len(refunds) == 1
    outbound = (await client.get(f"{CONNECTORS}/v1/shops/demo-shopify/orders/{pid}")).json()
    tries = {a["action"]: a["attempts"] for a in outbound["outbound"]}
    assert tries["ship"] >= 2 and tries["refund"] >= 2  # the lost answers were retried
    await client.delete(f"{SANDBOX}/sandbox/faults")


async def test_an_adobe_commerce_order_with_a_configurable_product_is_shipped_and_credited_once(
    client: httpx.AsyncClient,
) -> None:
    checkout = {
        "email": "lena@example.de",
        "country_id": "DE",
        "firstname": "Lena",
        "lastname": "Schmidt",
        "street": ["Invalidenstraße 116"],
        "city": "Berlin",
        "postcode": "10115",
        "shipping_amount": "4.95",
        "payment_method": "checkmo",
        "lines": [
            {"sku": "TSHIRT-BLU-M", "qty": 2, "price": "19.95", "parent_sku": "TSHIRT"},
            {"sku": "MUG-ENAMEL-WHT", "qty": 1, "price": "12.50", "discount": "2.50"},
        ],
    }
    made = await client.post(f"{ADOBE}/sandbox/orders", json=checkout)
    assert made.status_code == 201, made.text
    entity = made.json()["order"]
    pid = str(entity["entity_id"])
    doc = await taken(client, "demo-adobe", pid)
    parent = next(i for i in entity["items"] if i["product_type"] == "configurable")
    assert {ln["item_id"] for ln in doc["lines"]} >= {str(parent["item_id"])}
    assert len(doc["lines"]) == 2  # the child row is not a line of its own
    await deliver_and_return(client, entity["increment_id"], doc["order_id"])
    await all_sent(client, "demo-adobe", pid, {"ship", "deliver", "refund"})
    crit = {
        "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
        "searchCriteria[filter_groups][0][filters][0][value]": pid,
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
    }
    base = f"{ADOBE}/rest/V1"
    ships = (await client.get(f"{base}/shipments", params=crit, headers=ADOBE_API)).json()
    assert ships["total_count"] == 1 and len(ships["items"][0]["tracks"]) == 1
    memos = (await client.get(f"{base}/creditmemos", params=crit, headers=ADOBE_API)).json()
    assert memos["total_count"] == 1


async def test_a_wrong_signature_is_refused_and_a_redelivered_webhook_makes_one_order(
    client: httpx.AsyncClient,
) -> None:
    body = json.dumps({"id": 1, "name": "#forged"}).encode()
    url = f"{CONNECTORS}/v1/webhooks/shopify/demo-shopify"
    before = await refusals(client, "demo-shopify")
    forged = await client.post(
        url,
        content=body,
        headers={
            "X-Shopify-Hmac-Sha256": shopify_signature(b"not the secret", body),
            "X-Shopify-Webhook-Id": "forged-1",
            "X-Shopify-Topic": "orders/create",
            "Content-Type": "application/json",
        },
    )
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_signature"
    assert await refusals(client, "demo-shopify") == before

    checkout = {
        "email": "daan@example.nl",
        "country_code": "NL",
        "first_name": "Daan",
        "last_name": "Bakker",
        "address1": "Oudegracht 2",
        "city": "Utrecht",
        "zip": "3511 CE",
        "lines": [{"sku": "TSHIRT-BLU-M", "quantity": 1, "price": "19.95"}],
        "shipping": {"title": "Standard", "price": "4.95"},
        "gateway": "paypal",
    }
    order = (await client.post(f"{SHOPIFY}/sandbox/orders", json=checkout)).json()["order"]
    first = await taken(client, "demo-shopify", str(order["id"]))
    again = await client.post(f"{SHOPIFY}/sandbox/orders/{order['id']}/redeliver")
    assert again.status_code == 202
    await asyncio.sleep(2)
    deliveries = (await client.get(f"{SHOPIFY}/sandbox/deliveries")).json()["deliveries"]
    mine = [d for d in deliveries if d["key"] == str(order["id"])]
    assert len(mine) >= 2 and all(d["status"] in (200, 202) for d in mine)
    assert len({d["headers"]["X-Shopify-Webhook-Id"] for d in mine}) == 1
    found = (
        await client.get(
            f"{CONFIG.service_url('order')}/v1/orders",
            params={"platform_order_ref": order["name"], "sales_channel": "shopify-demo"},
        )
    ).json()
    found = found if isinstance(found, list) else [found]
    assert [o["order_id"] for o in found] == [first["order_id"]]


async def test_an_unmappable_payment_method_is_refused_with_a_reason_the_shop_reads(
    client: httpx.AsyncClient,
) -> None:
    checkout = {
        "email": "lotte@example.be",
        "country_code": "BE",
        "first_name": "Lotte",
        "last_name": "Peeters",
        "address1": "Meir 1",
        "city": "Antwerpen",
        "zip": "2000",
        "lines": [{"sku": "TSHIRT-BLU-M", "quantity": 1, "price": "19.95"}],
        "shipping": {"title": "Standard", "price": "4.95"},
        "gateway": "Cash App",
    }
    order = (await client.post(f"{SHOPIFY}/sandbox/orders", json=checkout)).json()["order"]

    async def refused() -> dict[str, Any] | None:
        return next(
            (
                r
                for r in await refusals(client, "demo-shopify")
                if r["platform_order_id"] == str(order["id"])
            ),
            None,
        )

    found = await until(refused, 30)
    assert found["code"] == "payment_method_unmapped" and found["via"] == "webhook"
    assert "'Cash App'" in found["errors"][0]["reason"]
    deliveries = (await client.get(f"{SHOPIFY}/sandbox/deliveries")).json()["deliveries"]
    assert {d["status"] for d in deliveries if d["key"] == str(order["id"])} == {422}
    got = await client.get(f"{CONNECTORS}/v1/shops/demo-shopify/orders/{order['id']}")
    assert got.status_code == 404
