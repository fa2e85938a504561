"""A demo-sized run for the browser tests: the demo's catalogue and order mix (every
payment method, a few declined, a scarce print, split orders) placed on a whole system,
followed to the door by the simulators, then a few returns and every customer's rating."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from oms_cli.demo import CATALOGUE, GIFT_CARDS, make_order
from tests.e2e.shop import (
    GIFT_CARD_TOKENS,
    issue_gift_card,
    place,
    seed_sku,
    seed_warehouses,
    settled,
)
from tests.e2e.system import System

ORDERS = 24
RETURNS = (  # reason, what the warehouse finds
    ("damaged", "damaged"),
    ("no_longer_needed", "resellable"),
    ("wrong_size", "resellable"),
)
DONE = {"delivered", "cancelled", "rejected"}


@dataclass
class Placed:
    ref: str
    order_id: str
    email: str
    status: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Demo:
    """What the run placed, for the tests to look for on the pages."""

    system: System
    orders: list[Placed]
    returns: list[str] = field(default_factory=list)
    """RMA numbers."""
    ratings: dict[str, int] = field(default_factory=dict)
    """order id -> rating."""

    def delivered(self) -> list[Placed]:
        return [o for o in self.orders if o.status == "delivered"]


async def seed(system: System) -> None:
    await seed_warehouses(system)
    await asyncio.gather(
        *(seed_sku(system, sku, stock, price) for sku, _, _, _, price, stock in CATALOGUE)
    )
    for code in GIFT_CARDS:
        await issue_gift_card(system, code, "100.00")


async def place_orders(system: System, count: int = ORDERS) -> list[Placed]:
    rng = random.Random(9)
    run = uuid.uuid4().hex[:4].upper()
    placed = []
    cards = [GIFT_CARD_TOKENS[code] for code in GIFT_CARDS]
    for n in range(count):
        order = make_order(rng, n, run, cards)
        order_id = await place(system, order.body, **{"Idempotency-Key": order.ref})
        email = str(order.body["customer"]["email"])
        placed.append(Placed(order.ref, order_id, email))
    return placed


async def until_done(system: System, orders: list[Placed]) -> None:
    async def one(order: Placed) -> None:
        doc = await settled(system, order.order_id, timeout_s=150, statuses=DONE)
        order.status = str(doc["status"])
        order.lines = list(doc.get("lines") or [])

    await asyncio.gather(*(one(o) for o in orders))


async def start_return(system: System, order: Placed, reason: str, condition: str) -> str:
    """Ask for one unit of the order's first line back (retrying while the returns service
    has not heard of the delivery yet), and receive it in ``condition``."""
    sku = order.lines[0]["sku"]
    body = {"reason": reason, "lines": [{"sku": sku, "quantity": 1}]}
    headers = {"Idempotency-Key": f"browser-return-{order.order_id}"}
    async with system.client("returns") as returns:
        resp: httpx.Response | None = None
        for _ in range(60):
            resp = await returns.post(
                f"/v1/orders/{order.order_id}/returns", json=body, headers=headers
            )
            if resp.status_code in (200, 201):
                break
            await asyncio.sleep(0.5)
        assert resp is not None and resp.status_code in (200, 201), resp and resp.text
        rma = str(resp.json()["rma"])
        receipt = {"lines": [{"sku": sku, "quantity": 1, "condition": condition}]}
        got = await returns.post(f"/v1/returns/{rma}/received", json=receipt)
        assert got.status_code == 200, got.text
    return rma


async def rate(system: System, order: Placed, rating: int) -> None:
    async with system.client("order") as client:
        resp = await client.post(
            f"/v1/orders/{order.order_id}/feedback",
            json={"rating": rating, "comment": "thanks" if rating > 3 else "could be better"},
        )
    assert resp.status_code == 201, resp.text


async def run_demo(system: System) -> Demo:
    """Seed, place, wait for every order to be delivered or cancelled, return a few,
    rate the delivered ones."""
    await seed(system)
    demo = Demo(system, await place_orders(system))
    await until_done(system, demo.orders)
    delivered = demo.delivered()
    assert len(delivered) >= len(RETURNS) + 5, [o.status for o in demo.orders]
    for order, (reason, condition) in zip(delivered, RETURNS, strict=False):
        demo.returns.append(await start_return(system, order, reason, condition))
    for i, order in enumerate(delivered):
        demo.ratings[order.order_id] = 1 + (i * 3) % 5
        await rate(system, order, demo.ratings[order.order_id])
    return demo
