"""`oms demo`: seed warehouses, SKUs, stock and gift cards, place realistic orders, then
follow them to the customer's door and back.

Orders arrive at a steady rate by both intake paths (HTTP and the platform ingress topic),
from several countries, with every payment method, and a few that must fail: declined
payments (a customer e-mail with ``+decline``) and shortages (a limited print with little
stock). Every 9th order asks for a desk lamp (stocked in Madrid only) and coffee (in
Amsterdam only), so it is split over two warehouses. Each order's outcome is printed as
the services settle it; then :mod:`oms_cli.lifecycle` follows the confirmed ones through
the simulators to delivery, starts a few returns, posts feedback and prints a summary.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console

from oms_cli import kafka, tokens
from oms_cli.config import StackConfig
from oms_cli.lifecycle import Lifecycle
from oms_events.codec import encode_envelope
from oms_events.contracts import OrderSubmitted
from oms_events.registry import envelope_for
from oms_events.topics import PLATFORM_INGRESS
from oms_platform.access import PLATFORM, kafka_user
from oms_platform.auth import Scope
from oms_platform.relay import create_producer, message_headers

WAREHOUSES = [
    {"code": "AMS", "name": "Amsterdam DC", "country": "NL", "priority": 1, "active": True},
    {"code": "BER", "name": "Berlin DC", "country": "DE", "priority": 2, "active": True},
    {"code": "MAD", "name": "Madrid DC", "country": "ES", "priority": 3, "active": True},
]

# sku, name, grams, (l, w, h) mm, price, stock per warehouse
Stock = dict[str, int]
CATALOGUE: list[tuple[str, str, int, tuple[int, int, int], str, Stock]] = [
    ("TSHIRT-BLU-M", "T-shirt blue M", 180, (300, 250, 20), "19.95", {"AMS": 400, "BER": 200}),
    ("MUG-ENAMEL-WHT", "Enamel mug white", 320, (120, 100, 100), "12.50", {"AMS": 150, "MAD": 150}),
    ("SNEAKER-42", "Runner sneaker 42", 900, (330, 220, 120), "89.00", {"BER": 80, "MAD": 60}),
    (
        "BACKPACK-20L",
        "Backpack 20 L",
        700,
        (450, 300, 150),
        "59.00",
        {"AMS": 60, "BER": 60, "MAD": 60},
    ),
    (
        "HEADPHONES-BT",
        "Bluetooth headphones",
        250,
        (200, 180, 90),
        "129.00",
        {"AMS": 40, "BER": 25},
    ),
    ("LAMP-DESK", "Desk lamp", 1100, (400, 200, 200), "45.00", {"MAD": 70}),
    ("YOGA-MAT", "Yoga mat", 1500, (610, 150, 150), "35.00", {"BER": 90, "MAD": 40}),
    ("COFFEE-1KG", "Coffee beans 1 kg", 1000, (250, 120, 80), "24.90", {"AMS": 300}),
    ("LIMITED-PRINT", "Limited art print", 300, (600, 80, 80), "149.00", {"AMS": 3}),
]
PRICES = {sku: Decimal(price) for sku, _, _, _, price, _ in CATALOGUE}

CUSTOMERS = [
    ("NL", "Amsterdam", "1012 AB", "Sanne de Vries"),
    ("NL", "Utrecht", "3511 CE", "Daan Bakker"),
    ("DE", "Berlin", "10115", "Lena Schmidt"),
    ("DE", "München", "80331", "Jonas Weber"),
    ("BE", "Antwerpen", "2000", "Lotte Peeters"),
    ("FR", "Lyon", "69001", "Camille Martin"),
    ("ES", "Madrid", "28001", "Lucía García"),
    ("IT", "Milano", "20121", "Giulia Rossi"),
]
METHODS = ["card", "ideal", "paypal", "bank_transfer", "gift_card", "invoice", "cash_on_delivery"]
GIFT_CARDS = [f"GIFT-DEMO-{i:04d}" for i in range(1, 9)]
"""The demo's gift card codes. Like a shopper typing one at checkout, the demo shop gives
a code only to the payments service, in exchange for the card's token, and pays with the
token: no code is ever in an order."""
FINAL = {"confirmed", "cancelled", "rejected", "shipped", "delivered"}


@dataclass
class DemoOrder:
    ref: str
    channel: str
    body: dict[str, Any]
    via: str
    expect: str
    order_id: str | None = None
    status: str | None = None
    detail: str = ""


def _money(amount: Decimal) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency": "EUR"}


def make_order(rng: random.Random, n: int, run: str, gift_cards: Sequence[str]) -> DemoOrder:
    """One realistic order; some declined, every 11th asks for the scarce print, every 9th
    is split over two warehouses (Madrid's lamp, Amsterdam's coffee). ``gift_cards`` are
    the tokens of the cards that gift card payments use (:func:`gift_card_tokens`)."""
    country, city, postal, name = rng.choice(CUSTOMERS)
    skus = rng.sample([c[0] for c in CATALOGUE if c[0] != "LIMITED-PRINT"], rng.randint(1, 3))
    expect = "confirmed"
    if n % 9 == 4:
        skus = ["LAMP-DESK", "COFFEE-1KG"]
        expect = "confirmed (split)"
    if n % 11 == 10:
        skus = ["LIMITED-PRINT"]
        expect = "confirmed or cancelled (stock)"
    quantities = {sku: 1 if sku == "LIMITED-PRINT" else rng.randint(1, 2) for sku in skus}
    lines = [
        {"line_id": f"l{i + 1}", "sku": sku, "quantity": qty, "unit_price": _money(PRICES[sku])}
        for i, (sku, qty) in enumerate(quantities.items())
    ]
    shipping = Decimal("4.95")
    total = sum((PRICES[sku] * qty for sku, qty in quantities.items()), shipping)
    method = METHODS[n % len(METHODS)]
    email = f"{name.split()[0].lower()}.{n}@example.com"
    if n % 5 == 2 and method in {"card", "paypal", "invoice"}:
        email = email.replace("@", "+decline@")
        expect = "cancelled (payment)"
    ref = f"WEB-{run}-{n:04d}"
    payments: list[dict[str, Any]] = []
    if method == "gift_card":
        gift = min(Decimal("20.00"), total)
        payments.append(
            {
                "payment_id": f"{ref}-p1",
                "method": "gift_card",
                "amount": _money(gift),
                "gift_card": gift_cards[n % len(gift_cards)],
            }
        )
        if total > gift:
            payments.append(
                {"payment_id": f"{ref}-p2", "method": "card", "amount": _money(total - gift)}
            )
    else:
        payments.append({"payment_id": f"{ref}-p1", "method": method, "amount": _money(total)})
    channel = f"webshop-{country.lower()}"
    body = {
        "platform_order_ref": ref,
        "sales_channel": channel,
        "customer": {"customer_id": f"cus-{abs(hash(name)) % 100000}", "email": email},
        "lines": lines,
        "shipping_address": {
            "recipient": name,
            "line1": "Hoofdstraat 1",
            "postal_code": postal,
            "city": city,
            "country": country,
        },
        "shipping_charge": _money(shipping),
        "payments": payments,
        "placed_at": datetime.now(UTC).isoformat(),
    }
    via = "http" if n % 2 == 0 else "ingress"
    return DemoOrder(ref, channel, body, via, expect)


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> httpx.Response:
    resp = await client.post(url, json=body)
    if resp.status_code >= 500:
        resp.raise_for_status()
    return resp


SEED_SCOPES = (Scope.OPERATIONS, Scope.WAREHOUSE, Scope.CUSTOMER_SERVICE)
"""The demo's stock keeper: warehouses, SKUs, receipts, thresholds, gift cards."""
SHOP = "platform:demo-shop"
"""The demo's shop: places orders, follows them, asks for returns, gives feedback."""


def shop_headers(config: StackConfig) -> dict[str, str]:
    return tokens.headers(config, (Scope.PLATFORM,), subject=SHOP)


async def gift_card_tokens(
    config: StackConfig, client: httpx.AsyncClient, codes: Sequence[str] = GIFT_CARDS
) -> list[str]:
    """Each code's token, as the shop asks for it at checkout (``client`` is the shop's)."""
    url = f"{config.service_url('payments')}/v1/gift-cards/tokens"
    found = []
    for code in codes:
        resp = await client.post(url, json={"code": code})
        resp.raise_for_status()
        found.append(str(resp.json()["card"]))
    return found


async def seed(config: StackConfig, console: Console) -> None:
    """Warehouses, SKUs, stock, thresholds and gift cards (safe to run again)."""
    inv = config.service_url("inventory")
    pay = config.service_url("payments")
    staff = tokens.headers(config, SEED_SCOPES, subject="staff:demo-seeder")
    async with httpx.AsyncClient(timeout=30, headers=staff) as client:
        for warehouse in WAREHOUSES:
            await _post(client, f"{inv}/v1/warehouses", warehouse)
        for sku, name, grams, (length, width, height), _, stock in CATALOGUE:
            await _post(
                client,
                f"{inv}/v1/skus",
                {
                    "sku": sku,
                    "name": name,
                    "weight_grams": grams,
                    "length_mm": length,
                    "width_mm": width,
                    "height_mm": height,
                },
            )
            for wh, qty in stock.items():
                await _post(
                    client,
                    f"{inv}/v1/stock/receipts",
                    {
                        "sku": sku,
                        "warehouse": wh,
                        "quantity": qty,
                        "reference": f"demo-{uuid.uuid4().hex[:6]}",
                    },
                )
                await client.put(
                    f"{inv}/v1/stock/{sku}/{wh}/threshold",
                    json={"low_stock_threshold": max(1, qty // 10)},
                )
        for code in GIFT_CARDS:
            await _post(
                client, f"{pay}/v1/gift-cards", {"code": code, "balance": _money(Decimal("100.00"))}
            )
    console.print(
        f"seeded {len(WAREHOUSES)} warehouses, {len(CATALOGUE)} SKUs, {len(GIFT_CARDS)} gift cards"
    )


async def place(
    config: StackConfig, order: DemoOrder, client: httpx.AsyncClient, producer: Any
) -> None:
    base = config.service_url("order")
    if order.via == "http":
        resp = await client.post(
            f"{base}/v1/orders", json=order.body, headers={"Idempotency-Key": order.ref}
        )
        if resp.status_code in (200, 201):
            order.order_id = resp.json()["order_id"]
        else:
            order.status, order.detail = "rejected", resp.text[:120]
        return
    submitted = OrderSubmitted.model_validate(order.body)
    env = envelope_for(
        submitted,
        stream_id=f"platform-{order.channel}-{order.ref}",
        stream_version=1,
        correlation_id=order.ref,
        causation_id=None,
        actor=f"platform:{order.channel}",
        producer="platform",
    )
    await producer.send_and_wait(
        PLATFORM_INGRESS,
        value=encode_envelope(env),
        key=order.ref.encode(),
        headers=message_headers(env),
    )


async def settle(config: StackConfig, order: DemoOrder, client: httpx.AsyncClient) -> bool:
    """Refresh an order's status; True once it is final."""
    base = config.service_url("order")
    if order.order_id is None:
        if order.status == "rejected":
            return True
        resp = await client.get(
            f"{base}/v1/orders",
            params={"platform_order_ref": order.ref, "sales_channel": order.channel},
        )
        if resp.status_code != 200:
            return False
        answer = resp.json()
        found = answer[0] if isinstance(answer, list) and answer else answer
        if not isinstance(found, dict) or "order_id" not in found:
            return False
        order.order_id = str(found["order_id"])
    resp = await client.get(f"{base}/v1/orders/{order.order_id}")
    if resp.status_code != 200:
        return False
    doc = resp.json()
    order.status = str(doc.get("status"))
    cancellation = doc.get("cancellation") or {}
    if cancellation:
        order.detail = f"{cancellation.get('reason')}: {cancellation.get('detail') or ''}"[:90]
    else:
        warehouses = sorted({a["warehouse_id"] for a in doc.get("allocations", [])})
        order.detail = f"ships from {' + '.join(warehouses)}" if warehouses else ""
    return order.status in FINAL


async def run_demo(
    config: StackConfig,
    console: Console,
    *,
    orders: int,
    rate: float,
    seed_data: bool = True,
    follow: bool = True,
    wait_s: float = 120.0,
    returns: int = 3,
) -> Counter[str]:
    """Place the orders and report them; with ``follow``, then follow the confirmed ones
    to delivery (at most ``wait_s``), start ``returns`` returns and give feedback."""
    if seed_data:
        await seed(config, console)
        await asyncio.sleep(2)  # let the order service learn the SKUs
    rng = random.Random()
    run = uuid.uuid4().hex[:4].upper()
    # As a sales platform would: its user may write the ingress topic and nothing else.
    producer = create_producer(kafka.connection(config, kafka_user(PLATFORM)))
    await producer.start()
    pending: list[DemoOrder] = []
    placed: list[DemoOrder] = []
    outcomes: Counter[str] = Counter()
    try:
        async with httpx.AsyncClient(timeout=30, headers=shop_headers(config)) as client:
            cards = await gift_card_tokens(config, client)
            for n in range(orders):
                order = make_order(rng, n, run, cards)
                await place(config, order, client, producer)
                pending.append(order)
                placed.append(order)
                await asyncio.sleep(1 / rate)
                pending = await _report_settled(config, pending, client, console, outcomes)
            deadline = asyncio.get_running_loop().time() + 60
            while pending and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.5)
                pending = await _report_settled(config, pending, client, console, outcomes)
            for order in pending:
                console.print(f"[yellow]… {order.ref} still {order.status or 'pending'}[/]")
                outcomes["unsettled"] += 1
    finally:
        await producer.stop()
    if follow:
        await follow_lives(config, console, placed, run, wait_s=wait_s, returns=returns)
    return outcomes


async def follow_lives(
    config: StackConfig,
    console: Console,
    placed: list[DemoOrder],
    run: str,
    *,
    wait_s: float,
    returns: int,
) -> None:
    """Confirmed orders to delivered (through the simulators), returns, feedback, summary."""
    confirmed = [
        (o.ref, o.order_id)
        for o in placed
        if o.order_id and o.status not in {"cancelled", "rejected", None}
    ]
    if not confirmed:
        return
    async with httpx.AsyncClient(timeout=30, headers=shop_headers(config)) as client:
        life = Lifecycle(config, client, console)
        lives = await life.follow(confirmed, wait_s)
        if returns:
            console.print("\n[bold]returns[/]")
            await life.start_returns(lives, returns, run)
        await life.give_feedback(lives)
        life.summary(lives)


async def _report_settled(
    config: StackConfig,
    pending: list[DemoOrder],
    client: httpx.AsyncClient,
    console: Console,
    outcomes: Counter[str],
) -> list[DemoOrder]:
    still = []
    for order in pending:
        if await settle(config, order, client):
            colour = {"confirmed": "green", "cancelled": "red"}.get(order.status or "", "yellow")
            methods = "+".join(p["method"] for p in order.body["payments"])
            total = sum(Decimal(p["amount"]["amount"]) for p in order.body["payments"])
            console.print(
                f"[{colour}]{order.status:<10}[/] {order.ref}  {order.via:<7} "
                f"{order.body['shipping_address']['country']}  {methods:<22} €{total:>8}  "
                f"{order.order_id or ''} {order.detail}"
            )
            outcomes[order.status or "?"] += 1
        else:
            still.append(order)
    return still
