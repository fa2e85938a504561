"""SIGKILL one service in the middle of 200 orders, restart it: every order still settles once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from oms_cli.config import StackConfig
from oms_events.topics import PLATFORM_INGRESS
from tests.e2e.shop import (
    METHODS,
    assert_paid_once,
    assert_reserved_exactly,
    issue_gift_card,
    order_body,
    seed_sku,
    seed_warehouses,
)
from tests.e2e.system import System, running_system, wait_until
from tests.e2e.test_order_flow import ingress_envelope

ORDERS = 200
CHANNEL = "webshop-kill"


async def orders_in_channel(system: System) -> list[dict[str, Any]]:
    async with system.client("order") as order:
        resp = await order.get("/v1/orders", params={"sales_channel": CHANNEL, "limit": "1000"})
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()
    return found


async def settled_count(system: System) -> int:
    return sum(o["status"] in {"confirmed", "cancelled"} for o in await orders_in_channel(system))


@pytest.mark.parametrize("victim", ["order", "inventory", "payments"])
async def test_a_killed_service_recovers_without_doing_anything_twice(
    victim: str, tmp_path: Path
) -> None:
    with running_system(StackConfig(), tmp_path) as system:
        await seed_warehouses(system)
        await seed_sku(system, "KILL-A", {"AMS": 150, "BER": 150})
        await seed_sku(system, "KILL-B", {"BER": 100, "MAD": 100})
        for i in range(4):
            await issue_gift_card(system, f"GC-KILL-{i}", "500.00")
        bodies = []
        for n in range(ORDERS):
            method = METHODS[n % len(METHODS)]
            lines = [("KILL-A", 1, "20.00")] + ([("KILL-B", 1, "30.00")] if n % 2 else [])
            gift = (f"GC-KILL-{n % 4}", "10.00") if method == "gift_card" else None
            bodies.append(
                order_body(
                    lines,
                    method="card" if gift else method,
                    gift_card=gift,
                    channel=CHANNEL,
                    country="DE",
                )
            )

        async def feed() -> None:
            for body in bodies:
                ref = body["platform_order_ref"]
                await system.publish(PLATFORM_INGRESS, ingress_envelope(body), key=ref.encode())
                await asyncio.sleep(0.01)

        feeding = asyncio.create_task(feed())
        await wait_until(lambda: _at_least(system, 40), what="40 orders settled before the kill")
        killed_at = await settled_count(system)
        system.processes[victim].kill()
        await asyncio.sleep(2)
        system.processes[victim].start()
        await feeding
        assert killed_at < ORDERS, "the kill came after the work was done"

        await wait_until(
            lambda: _at_least(system, ORDERS),
            timeout_s=240,
            what=f"all {ORDERS} orders to settle after restarting {victim}",
        )
        orders = await orders_in_channel(system)
        assert len(orders) == ORDERS  # one order per platform reference, none twice
        assert Counter(o["status"] for o in orders) == {"confirmed": ORDERS}

        await assert_reserved_exactly(system, {"KILL-A": ORDERS, "KILL-B": ORDERS // 2})
        await assert_paid_once(system, bodies, orders)


async def _at_least(system: System, n: int) -> bool:
    return await settled_count(system) >= n
