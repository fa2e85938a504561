"""``oms demo --platform shopify|adobe-commerce``: orders arrive in the platforms' own
formats, through the connectors service, and what the OMS does goes back to the platform.

Customers check out at the platform sandboxes (``oms_cli.platforms``): each order is built
as the platform documents it (a Shopify ``orders/create`` body; an Adobe Commerce sales
order entity, configurable products as parent and child rows) and delivered to the
connector as the platform would (a signed webhook; for ``demo-adobe-poll``, no webhook:
the connector's poller finds it). The demo prints the platform's view of each order, the
OMS order it became (or the reasons it was refused), follows the orders through the
warehouse and carrier simulators to the customer, returns one, and prints what the
platform recorded: shipments with their tracking numbers, delivery, refunds.
"""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console

from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_cli.demo import CATALOGUE, CUSTOMERS, PRICES, seed
from oms_cli.lifecycle import Lifecycle
from oms_cli.platforms import DEMO_SHOPS, DemoShop
from oms_platform.auth import Scope

PLATFORMS = ("shopify", "adobe-commerce")
SKUS = [sku for sku, *_ in CATALOGUE[:6]]


def checkout(shop: DemoShop, rng: random.Random, n: int) -> dict[str, Any]:
    """A customer's basket, in the sandbox's checkout form for ``shop``'s platform."""
    country, city, postcode, name = CUSTOMERS[n % len(CUSTOMERS)]
    first, _, last = name.partition(" ")
    skus = rng.sample(SKUS, k=1 + n % 2)
    email = f"{first.lower()}.{n}@example.com"
    if shop.platform == "shopify":
        lines = [
            {"sku": s, "quantity": 1 + (i + n) % 3, "price": str(PRICES[s])}
            for i, s in enumerate(skus)
        ]
        if n % 3 == 0:  # a discount code on the first line
            lines[0]["discount"] = str((PRICES[skus[0]] * Decimal("0.1")).quantize(Decimal("0.01")))
        return {
            "email": email,
            "country_code": country,
            "first_name": first,
            "last_name": last,
            "address1": f"Hoofdstraat {n + 1}",
            "city": city,
            "zip": postcode,
            "lines": lines,
            "shipping": {"title": "Standard", "price": "4.95"},
            "gateway": "shopify_payments" if n % 2 == 0 else "paypal",
        }
    lines = [
        {"sku": s, "qty": 1 + (i + n) % 2, "price": str(PRICES[s])} for i, s in enumerate(skus)
    ]
    lines[0]["parent_sku"] = str(lines[0]["sku"]).rsplit("-", 1)[0]  # a configurable product
    if n % 3 == 0:
        lines[-1]["discount"] = "5.00"
    return {
        "email": email,
        "country_id": country,
        "firstname": first,
        "lastname": last,
        "street": [f"Hauptstraße {n + 1}"],
        "city": city,
        "postcode": postcode,
        "lines": lines,
        "shipping_amount": "4.95",
        "payment_method": ("checkmo", "banktransfer", "braintree", "paypal_express")[n % 4],
    }


def _summary(shop: DemoShop, order: dict[str, Any]) -> str:
    if shop.platform == "shopify":
        items = ", ".join(f"{li['quantity']} x {li['sku']}" for li in order["line_items"])
        return (
            f"{order['name']} id {order['id']}  {order['currency']} {order['total_price']}  "
            f"{'/'.join(order['payment_gateway_names'])}  [{items}]"
        )
    items = ", ".join(
        f"{int(i['qty_ordered'])} x {i['sku']}{' (configurable)' if i['product_type'] == 'configurable' else ''}"  # noqa: E501
        for i in order["items"]
        if i.get("parent_item_id") is None
    )
    return (
        f"{order['increment_id']} entity {order['entity_id']}  {order['order_currency_code']} "
        f"{order['grand_total']}  {order['payment']['method']}  [{items}]"
    )


async def run_platform_demo(
    config: StackConfig,
    console: Console,
    platform: str,
    *,
    orders: int,
    wait_s: float,
    seed_data: bool = True,
) -> dict[str, int]:
    shops = [s for s in DEMO_SHOPS if s.platform == platform]
    headers = tokens.headers(
        config, (Scope.PLATFORM, Scope.OPERATIONS, Scope.CUSTOMER_SERVICE), subject="staff:demo"
    )
    sandbox = config.platform_sandbox_url
    connectors = config.service_url("connectors")
    rng = random.Random()
    outcome = {"placed": 0, "taken": 0, "refused": 0, "delivered": 0, "refunded": 0}
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        if seed_data:
            await seed(config, console)
            await asyncio.sleep(2)
        placed: list[tuple[DemoShop, dict[str, Any]]] = []
        console.print(f"\n[bold]orders placed at {platform}[/]")
        for n in range(orders):
            shop = shops[n % len(shops)]
            resp = await client.post(
                f"{sandbox}/{platform}/{shop.shop}/sandbox/orders", json=checkout(shop, rng, n)
            )
            resp.raise_for_status()
            order = resp.json()["order"]
            placed.append((shop, order))
            outcome["placed"] += 1
            via = "webhook" if shop.intake != "poll" else "poll"
            console.print(f"{shop.shop:<16} {via:<7} {_summary(shop, order)}")
        console.print("\n[bold]taken by the connector[/]")
        linked: list[tuple[DemoShop, dict[str, Any], str]] = []
        for shop, order in placed:
            pid = str(order["id"] if platform == "shopify" else order["entity_id"])
            ref = order["name"] if platform == "shopify" else order["increment_id"]
            order_id = await _oms_order(client, connectors, shop, pid, ref, console)
            if order_id is None:
                outcome["refused"] += 1
                continue
            outcome["taken"] += 1
            linked.append((shop, order, order_id))
        life = Lifecycle(config, client, console)
        lives = await life.follow(
            [(o.get("name") or o["increment_id"], oid) for _s, o, oid in linked], wait_s
        )
        outcome["delivered"] = sum(1 for lf in lives if lf.status == "delivered")
        console.print("\n[bold]a return[/]")
        await life.start_returns(lives, 1, f"{platform}-{rng.randrange(10**6)}")
        await asyncio.sleep(1)
        console.print(f"\n[bold]what {platform} recorded[/]")
        for shop, order, _order_id in linked:
            pid = str(order["id"] if platform == "shopify" else order["entity_id"])
            refunded = await _platform_record(
                client, connectors, sandbox, shop, pid, console, wait_s=20
            )
            outcome["refunded"] += refunded
    console.print(
        f"\n{outcome['placed']} placed, {outcome['taken']} taken, {outcome['refused']} refused, "
        f"{outcome['delivered']} delivered, {outcome['refunded']} refunded at the platform"
    )
    return outcome


async def _oms_order(
    client: httpx.AsyncClient,
    connectors: str,
    shop: DemoShop,
    pid: str,
    ref: str,
    console: Console,
) -> str | None:
    """Wait until the connector took the order and the OMS placed it (or refused it)."""
    for _ in range(60):
        got = await client.get(f"{connectors}/v1/shops/{shop.shop}/orders/{pid}")
        if got.status_code == 200 and got.json().get("order_id"):
            order_id = str(got.json()["order_id"])
            console.print(f"{ref:<12} -> {order_id}  ({len(got.json()['lines'])} OMS lines)")
            return order_id
        refusals = await client.get(f"{connectors}/v1/shops/{shop.shop}/refusals")
        for r in refusals.json().get("refusals", []) if refusals.status_code == 200 else []:
            if r.get("platform_order_id") == pid:
                console.print(f"[yellow]{ref:<12} refused: {r['code']}: {r['reason'][:120]}[/]")
                return None
        await asyncio.sleep(0.5)
    console.print(f"[yellow]{ref:<12} not taken yet[/]")
    return None


async def _platform_record(
    client: httpx.AsyncClient,
    connectors: str,
    sandbox: str,
    shop: DemoShop,
    pid: str,
    console: Console,
    *,
    wait_s: float,
) -> int:
    """Print what the platform holds for the order once the connector's actions are done;
    returns 1 if it recorded a refund."""
    actions: list[dict[str, Any]] = []
    for _ in range(int(wait_s * 2)):
        got = await client.get(f"{connectors}/v1/shops/{shop.shop}/orders/{pid}")
        actions = got.json().get("outbound", []) if got.status_code == 200 else []
        if all(a["status"] != "pending" for a in actions):
            break
        await asyncio.sleep(0.5)
    done = ", ".join(f"{a['action']} {a['status']}" for a in actions) or "nothing yet"
    if shop.platform == "shopify":
        token = await _token(shop)
        api = f"{sandbox}/shopify/{shop.shop}/admin/api/2025-01/orders/{pid}"
        order = (await client.get(f"{api}.json", headers=token)).json().get("order", {})
        refunds = (await client.get(f"{api}/refunds.json", headers=token)).json().get("refunds", [])
        ships = [
            f"{f.get('tracking_company')} {f.get('tracking_number')} ({f.get('shipment_status') or 'in transit'})"  # noqa: E501
            for f in order.get("fulfillments", [])
        ]
        money = [t["amount"] for r in refunds for t in r.get("transactions", [])]
        console.print(
            f"{order.get('name')}: {order.get('fulfillment_status') or 'unfulfilled'}; "
            f"fulfillments {ships or '-'}; refunds {money or '-'}; "
            f"cancelled {bool(order.get('cancelled_at'))}  ({done})"
        )
        return 1 if refunds else 0
    token = await _token(shop)
    base = f"{sandbox}/adobe-commerce/{shop.shop}/rest/V1"
    order = (await client.get(f"{base}/orders/{pid}", headers=token)).json()
    crit = {
        "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
        "searchCriteria[filter_groups][0][filters][0][value]": pid,
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
    }
    ships = (await client.get(f"{base}/shipments", params=crit, headers=token)).json()
    memos = (await client.get(f"{base}/creditmemos", params=crit, headers=token)).json()
    tracks = [t["track_number"] for s in ships.get("items", []) for t in s.get("tracks", [])]
    refunds = [m.get("grand_total") for m in memos.get("items", [])]
    console.print(
        f"{order.get('increment_id')}: {order.get('state')}/{order.get('status')}; "
        f"tracks {tracks or '-'}; credit memos {refunds or '-'}  ({done})"
    )
    return 1 if refunds else 0


async def _token(shop: DemoShop) -> dict[str, str]:
    from oms_cli.secrets import random_secret

    secret = random_secret(StackConfig(), f"shop-{shop.shop}.token").read_text().strip()
    if shop.platform == "shopify":
        return {"X-Shopify-Access-Token": secret}
    return {"Authorization": f"Bearer {secret}"}
