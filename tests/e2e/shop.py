"""A small shop for the e2e tests: seeding over HTTP, order bodies, waiting for outcomes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.system import System, wait_until

WAREHOUSES = [
    {"code": "AMS", "name": "Amsterdam DC", "country": "NL", "priority": 1, "active": True},
    {"code": "BER", "name": "Berlin DC", "country": "DE", "priority": 2, "active": True},
    {"code": "MAD", "name": "Madrid DC", "country": "ES", "priority": 3, "active": True},
]
COUNTRIES = {"NL": "Amsterdam", "DE": "Berlin", "ES": "Madrid", "BE": "Gent", "FR": "Lille"}
METHODS = ["card", "ideal", "paypal", "bank_transfer", "gift_card", "invoice", "cash_on_delivery"]
FINAL = {"confirmed", "cancelled"}

GIFT_CARD_TOKENS: dict[str, str] = {}
"""The shop's gift card wallet: each card's token by code, for the cards the tests issued or
exchanged. Orders pay with the token; a code never goes into an order (the order service
refuses one). Tokens depend only on the payments key (``.oms/secrets``), the same for every
system of a test session."""


def money(amount: Decimal | str) -> dict[str, str]:
    return {"amount": f"{Decimal(amount):.2f}", "currency": "EUR"}


async def seed_warehouses(system: System) -> None:
    async with system.client("inventory") as inv:
        for warehouse in WAREHOUSES:
            resp = await inv.post("/v1/warehouses", json=warehouse)
            assert resp.status_code in (200, 201), resp.text


async def seed_sku(system: System, sku: str, stock: dict[str, int], price: str = "10.00") -> None:
    """Register ``sku`` and receive ``stock`` per warehouse; wait until orders may use it."""
    async with system.client("inventory") as inv:
        resp = await inv.post(
            "/v1/skus",
            json={
                "sku": sku,
                "name": sku.title(),
                "weight_grams": 500,
                "length_mm": 200,
                "width_mm": 150,
                "height_mm": 100,
            },
        )
        assert resp.status_code in (200, 201), resp.text
        for warehouse, quantity in stock.items():
            resp = await inv.post(
                "/v1/stock/receipts",
                json={
                    "sku": sku,
                    "warehouse": warehouse,
                    "quantity": quantity,
                    "reference": f"seed-{uuid.uuid4().hex[:8]}",
                },
            )
            assert resp.status_code == 201, resp.text
    await wait_until(lambda: sku_known(system, sku), what=f"the order service to learn {sku}")


async def sku_known(system: System, sku: str) -> bool:
    """The order service accepts orders for ``sku`` (it consumed SkuRegistered)."""
    probe = order_body([(sku, 1, "1.00")], ref=f"probe-{uuid.uuid4().hex[:8]}")
    probe["payments"][0]["amount"] = money("-1")  # invalid on purpose: nothing gets placed
    async with system.client("order") as order:
        resp = await order.post("/v1/orders", json=probe)
    return "unknown_sku" not in resp.text


async def issue_gift_card(system: System, code: str, balance: str) -> str:
    """Issue the card ``code`` with ``balance``; returns its token (kept in the wallet)."""
    async with system.client("payments") as pay:
        resp = await pay.post("/v1/gift-cards", json={"code": code, "balance": money(balance)})
        assert resp.status_code in (200, 201), resp.text
    assert code not in resp.text, resp.text
    GIFT_CARD_TOKENS[code] = token = str(resp.json()["card"])
    return token


async def gift_card_token(system: System, code: str) -> str:
    """The card's token for ``code``, asked for as a shop does at checkout."""
    async with system.client("payments") as pay:
        resp = await pay.post("/v1/gift-cards/tokens", json={"code": code})
    assert resp.status_code == 200, resp.text
    GIFT_CARD_TOKENS[code] = token = str(resp.json()["card"])
    return token


def order_body(
    lines: Sequence[tuple[str, int, str]],
    *,
    ref: str | None = None,
    country: str = "NL",
    method: str = "card",
    email: str | None = None,
    gift_card: tuple[str, str] | None = None,
    channel: str = "webshop-e2e",
) -> dict[str, Any]:
    """An OrderSubmitted v2 body; ``gift_card`` = (code, amount) pays part by gift card,
    with the card's token from the wallet (issue or exchange the code first)."""
    ref = ref or f"E2E-{uuid.uuid4().hex[:10]}"
    shipping = Decimal("4.95")
    total = sum((Decimal(price) * qty for _, qty, price in lines), shipping)
    payments: list[dict[str, Any]] = []
    if gift_card is not None:
        code, amount = gift_card
        payments.append(
            {
                "payment_id": f"{ref}-gift",
                "method": "gift_card",
                "amount": money(amount),
                "gift_card": GIFT_CARD_TOKENS[code],
            }
        )
        total -= Decimal(amount)
    if total > 0:
        payments.append({"payment_id": f"{ref}-pay", "method": method, "amount": money(total)})
    return {
        "platform_order_ref": ref,
        "sales_channel": channel,
        "customer": {"customer_id": f"cus-{ref}", "email": email or f"{ref.lower()}@example.com"},
        "lines": [
            {"line_id": f"l{i}", "sku": sku, "quantity": qty, "unit_price": money(price)}
            for i, (sku, qty, price) in enumerate(lines, start=1)
        ],
        "shipping_address": {
            "recipient": "E2E Tester",
            "line1": "Teststraat 1",
            "postal_code": "1000 AA",
            "city": COUNTRIES[country],
            "country": country,
        },
        "shipping_charge": money(shipping),
        "payments": payments,
        "placed_at": datetime.now(UTC).isoformat(),
    }


async def place(system: System, body: dict[str, Any], **headers: str) -> str:
    async with system.client("order") as order:
        resp = await order.post("/v1/orders", json=body, headers=headers)
    assert resp.status_code in (200, 201), resp.text
    return str(resp.json()["order_id"])


async def get_order(system: System, order_id: str, **params: str) -> dict[str, Any]:
    async with system.client("order") as order:
        resp = await order.get(f"/v1/orders/{order_id}", params=params)
    assert resp.status_code == 200, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


async def settled(
    system: System, order_id: str, timeout_s: float = 120, statuses: set[str] = FINAL
) -> dict[str, Any]:
    """The order once its status is one of ``statuses``."""

    async def check() -> dict[str, Any] | None:
        doc = await get_order(system, order_id)
        return doc if doc["status"] in statuses else None

    result: dict[str, Any] = await wait_until(
        check, timeout_s=timeout_s, what=f"order {order_id} to settle"
    )
    return result


async def stock(system: System, sku: str) -> dict[str, dict[str, int]]:
    """``{warehouse: {"on_hand", "reserved", "available"}}`` of ``sku``."""
    async with system.client("inventory") as inv:
        resp = await inv.get(f"/v1/stock/{sku}")
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    rows = doc["warehouses"] if isinstance(doc, dict) and "warehouses" in doc else doc
    if isinstance(rows, dict):
        return {wh: dict(v) for wh, v in rows.items()}
    return {row["warehouse"]: row for row in rows}


async def order_payments(system: System, order_id: str) -> list[dict[str, Any]]:
    async with system.client("payments") as pay:
        resp = await pay.get(f"/v1/orders/{order_id}/payments")
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    payments: list[dict[str, Any]] = doc["payments"] if isinstance(doc, dict) else doc
    return payments


def timeline_types(order: dict[str, Any]) -> list[str]:
    return [entry["type"] for entry in order["timeline"]]


async def assert_reserved_exactly(system: System, wanted: Mapping[str, int]) -> None:
    """No double reservation: what inventory holds of each SKU is what the orders asked for."""
    for sku, quantity in wanted.items():
        levels = await stock(system, sku)
        assert sum(lv["reserved"] for lv in levels.values()) == quantity, (sku, levels)
        assert all(lv["available"] >= 0 for lv in levels.values()), (sku, levels)


async def assert_paid_once(
    system: System, bodies: Sequence[dict[str, Any]], orders: Sequence[dict[str, Any]]
) -> None:
    """No double authorisation or capture: each payment of ``orders`` (placed from
    ``bodies``) authorised once for its amount, captured at once only if paid up front."""
    by_ref = {b["platform_order_ref"]: b for b in bodies}
    gate = asyncio.Semaphore(8)

    async def check(pay: httpx.AsyncClient, order: dict[str, Any]) -> None:
        async with gate:
            resp = await pay.get(f"/v1/orders/{order['order_id']}/payments")
        assert resp.status_code == 200, resp.text
        payments = {p["payment_id"]: p for p in resp.json()["payments"]}
        for asked in by_ref[order["platform_order_ref"]]["payments"]:
            payment = payments[asked["payment_id"]]
            amount = Decimal(asked["amount"]["amount"])
            assert Decimal(payment["authorized"]["amount"]) == amount, payment
            captured = Decimal(payment["captured"]["amount"])
            expected = amount if asked["method"] in {"ideal", "bank_transfer"} else 0
            assert captured == expected, payment
            authorizations = [h for h in payment["history"] if h["type"] == "PaymentAuthorized"]
            assert len(authorizations) == 1, payment["history"]

    async with system.client("payments") as pay:
        await asyncio.gather(*(check(pay, order) for order in orders))
