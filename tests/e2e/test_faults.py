"""Orders keep flowing through a broker crash, a PostgreSQL crash and a SIGKILL of each service.

The issue's fault acceptance: 300 orders (600 by default here) on the ingress topic at 20 a
second; meanwhile the Kafka broker is SIGKILLed and restarted (at ~5 s), PostgreSQL is
stopped with ``pg_ctl stop -m immediate`` and restarted (at ~20 s), and inventory, payments
and order are each SIGKILLed once and restarted. Each fault also waits for a share of the
orders to be sent, and the orders are paced (after an outage they resume at the same rate
rather than in one burst), so every fault strikes while orders are in flight however long
the broker takes to come back. Afterwards every order is confirmed exactly once, the
reserved stock and the authorised amounts are exact, and nothing was dead-lettered.

This module stops and starts the PostgreSQL and Kafka of the stack it runs against
(``StackConfig()``, so ``OMS_*`` variables choose it) and leaves them running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_cli.config import StackConfig
from oms_events.codec import decode_envelope
from oms_events.topics import ORDER_EVENTS, PAYMENTS_EVENTS, PLATFORM_INGRESS
from oms_platform.relay import message_headers
from tests.e2e import chaos
from tests.e2e.records import (
    Publisher,
    dead_letter_rows,
    dead_letter_summary,
    delete_topics,
    envelopes,
    log_excerpt,
    parked_rows,
    read_to_end,
    summarise,
    topics,
    wait_ready,
)
from tests.e2e.shop import (
    METHODS,
    issue_gift_card,
    order_body,
    seed_sku,
    seed_warehouses,
)
from tests.e2e.system import System, running_system
from tests.e2e.test_order_flow import ingress_envelope

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ORDERS = int(os.environ.get("OMS_E2E_FAULT_ORDERS", "600"))
"""At least the issue's 300; 600 at 20 a second keep orders in flight through all five
faults, however fast the system catches up after each."""
RATE_PER_S = 20.0
CHANNEL = "webshop-faults"
SETTLE_TIMEOUT_S = 150.0
"""After the last fault and the last order sent: how long the system gets to catch up."""
GIFT_CARDS = 4
PRICES = {"FAULT-A": "20.00", "FAULT-B": "7.50", "FAULT-C": "35.00"}


def stock_plan(orders: int) -> dict[str, dict[str, int]]:
    """Enough for every order, spread so that the first warehouse runs out and orders split."""
    return {
        "FAULT-A": {"AMS": orders // 2, "BER": orders},
        "FAULT-B": {"BER": orders // 2, "MAD": orders},
        "FAULT-C": {"MAD": orders // 6, "AMS": orders // 2},
    }


def order_lines(n: int) -> list[tuple[str, int, str]]:
    lines = [("FAULT-A", 1, PRICES["FAULT-A"])]
    if n % 2:
        lines.append(("FAULT-B", 2, PRICES["FAULT-B"]))
    if n % 3 == 0:
        lines.append(("FAULT-C", 1, PRICES["FAULT-C"]))
    return lines


def order_bodies(orders: int) -> list[dict[str, Any]]:
    bodies = []
    for n in range(orders):
        method = METHODS[n % len(METHODS)]
        gift = (f"GC-FAULT-{n % GIFT_CARDS}", "10.00") if method == "gift_card" else None
        bodies.append(
            order_body(
                order_lines(n),
                ref=f"FAULT-{n:04d}-{os.urandom(3).hex()}",
                method="card" if gift else method,
                gift_card=gift,
                channel=CHANNEL,
                country=["NL", "DE", "ES", "BE", "FR"][n % 5],
            )
        )
    return bodies


# -- reading the order service while things break ------------------------------------------


async def orders_in_channel(system: System) -> list[dict[str, Any]] | None:
    """The channel's orders, or None while the order service cannot answer."""
    try:
        async with system.client("order", timeout_s=5) as client:
            resp = await client.get(
                "/v1/orders", params={"sales_channel": CHANNEL, "limit": "1000"}
            )
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    found: list[dict[str, Any]] = resp.json()
    return found


async def confirmed_count(system: System) -> int | None:
    found = await orders_in_channel(system)
    return None if found is None else sum(o["status"] == "confirmed" for o in found)


# -- the faults ---------------------------------------------------------------------------


@dataclass
class FaultLog:
    """When each fault happened, how long it took to undo, how far the orders were."""

    started: float
    entries: list[str] = field(default_factory=list)
    last_restored: float = 0.0
    sent: int = 0
    """Orders sent so far."""

    def note(self, text: str) -> None:
        self.entries.append(f"t={time.monotonic() - self.started:6.1f}s  {text}")

    def __str__(self) -> str:
        return "\n".join(self.entries)


@dataclass
class Fault:
    at_s: float
    """When it strikes (seconds after the first order), at the earliest."""
    after_sent: float
    """... and once this share of the orders has been sent."""
    name: str
    inject: Callable[[], Awaitable[None]]
    undo: Callable[[], Awaitable[None]]
    pause_s: float = 1.0
    exclusive: bool = True
    """Undone before the next fault strikes; otherwise the next may strike while this one
    is being undone (a service restarting while another is killed)."""


MIN_GAP_S = 5.0
"""Between two faults striking."""


def faults(system: System, stack: StackConfig) -> list[Fault]:
    async def kill(service: str) -> None:
        await asyncio.to_thread(system.processes[service].kill)

    async def start(service: str) -> None:
        await asyncio.to_thread(system.processes[service].start)

    async def kill_broker() -> None:
        await asyncio.to_thread(chaos.kill_broker, stack)

    async def stop_postgres() -> None:
        await asyncio.to_thread(chaos.stop_postgres_immediately, stack)

    async def restart_stack() -> None:
        await asyncio.to_thread(chaos.restart_stack, stack)

    def service_fault(at_s: float, share: float, service: str) -> Fault:
        return Fault(
            at_s,
            share,
            f"SIGKILL {service}",
            lambda: kill(service),
            lambda: start(service),
            1.0,
            False,
        )

    # The broker and the database one after the other, each while orders are being
    # processed; then the services, each killed while orders are still in flight.
    return [
        Fault(5, 0.2, "SIGKILL the Kafka broker", kill_broker, restart_stack, 1.0),
        Fault(20, 0.4, "pg_ctl stop -m immediate", stop_postgres, restart_stack, 3.0),
        service_fault(27, 0.55, "inventory"),
        service_fault(32, 0.7, "payments"),
        service_fault(37, 0.85, "order"),
    ]


async def run_faults(system: System, plan: list[Fault], log: FaultLog) -> list[int | None]:
    """The faults in order, each undone; the number of orders confirmed when each struck."""
    loop = asyncio.get_running_loop()
    confirmed_at: list[int | None] = []
    undoing: list[asyncio.Task[None]] = []
    last_strike = -MIN_GAP_S

    async def undo(fault: Fault, began: float) -> None:
        await asyncio.sleep(fault.pause_s)
        await fault.undo()
        log.note(f"  {fault.name}: restored after {loop.time() - began:.1f}s")

    try:
        for fault in plan:
            delay = max(log.started + fault.at_s, last_strike + MIN_GAP_S) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            while log.sent < fault.after_sent * ORDERS:  # noqa: ASYNC110 (a counter, polled)
                await asyncio.sleep(0.1)
            confirmed = await confirmed_count(system)
            confirmed_at.append(confirmed)
            log.note(f"{fault.name} ({confirmed} of {ORDERS} orders confirmed)")
            began = last_strike = loop.time()
            await fault.inject()
            undoing.append(asyncio.create_task(undo(fault, began), name=f"undo {fault.name}"))
            if fault.exclusive:
                await undoing[-1]
        await asyncio.gather(*undoing)
    finally:
        for task in undoing:
            task.cancel()
    log.last_restored = loop.time()
    return confirmed_at


async def feed(
    publisher: Publisher, system: System, bodies: list[dict[str, Any]], log: FaultLog
) -> None:
    """Send the orders at RATE_PER_S (after the broker is back, at that rate again)."""
    loop = asyncio.get_running_loop()
    topic = system.topic(PLATFORM_INGRESS)
    last = log.started - 1 / RATE_PER_S
    for n, body in enumerate(bodies):
        delay = max(log.started + n / RATE_PER_S, last + 1 / RATE_PER_S) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        last = loop.time()
        value = ingress_envelope(body)
        await publisher.send(
            topic,
            value,
            key=body["platform_order_ref"].encode(),
            headers=message_headers(decode_envelope(value)),
        )
        log.sent = n + 1
    log.note(f"all {len(bodies)} orders sent ({publisher.resends} resends)")


# -- what must hold afterwards -------------------------------------------------------------


async def wait_for_every_order(
    system: System, bodies: list[dict[str, Any]], timeout_s: float
) -> tuple[list[dict[str, Any]], float]:
    """The channel's orders once all are confirmed (or the timeout passed); and how long."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    found: list[dict[str, Any]] = []
    while loop.time() - began < timeout_s:
        found = await orders_in_channel(system) or found
        if len(found) >= len(bodies) and all(o["status"] == "confirmed" for o in found):
            break
        if len(found) >= len(bodies) and all(
            o["status"] in {"confirmed", "cancelled"} for o in found
        ):
            break  # settled, but not all confirmed: waiting longer changes nothing
        await asyncio.sleep(1.0)
    return found, loop.time() - began


async def order_summary(system: System, order_id: str) -> str:
    async with system.client("order") as client:
        resp = await client.get(f"/v1/orders/{order_id}")
    if resp.status_code != 200:
        return f"{order_id}: GET answered {resp.status_code}"
    doc = resp.json()
    timeline = [e["type"] for e in doc.get("timeline", [])]
    return f"{order_id} ({doc.get('platform_order_ref')}): {doc['status']}, timeline {timeline}"


async def dead_letters_everywhere(system: System) -> dict[str, list[Any]]:
    """Every record on this run's dead-letter topics, and every row of its dead-letter and
    parked-event tables (all of them are this test's own: fresh topics, scratch databases)."""
    kafka = system.stack.kafka
    found: dict[str, list[Any]] = {}
    for topic in sorted(t for t in await topics(kafka) if t.startswith(system.prefix)):
        if topic.endswith(".dlq"):
            records = await read_to_end(kafka, topic)
            if records:
                found[f"topic {topic}"] = [dead_letter_summary(r) for r in records]
    for service, dsn in system.databases.items():
        rows = await asyncio.to_thread(dead_letter_rows, dsn)
        if rows:
            found[f"{service} dead_letters"] = rows
        parked = await asyncio.to_thread(parked_rows, dsn)
        if parked:
            found[f"{service} parked_events"] = parked
    return found


def authorised(payment: dict[str, Any]) -> Decimal:
    """The authorised amount of a payment view (either spelling of the field)."""
    value = payment.get("authorized", payment.get("authorised"))
    assert isinstance(value, dict), f"no authorised amount in {payment}"
    return Decimal(value["amount"])


async def payment_problems(system: System, order_id: str, body: dict[str, Any]) -> list[str]:
    """How the payments API's view of one order differs from what the order asked for."""
    async with system.client("payments") as client:
        resp = await client.get(f"/v1/orders/{order_id}/payments")
    if resp.status_code != 200:
        return [f"{order_id}: GET payments answered {resp.status_code}"]
    doc = resp.json()
    views = {p["payment_id"]: p for p in (doc["payments"] if isinstance(doc, dict) else doc)}
    problems = []
    for asked in body["payments"]:
        view = views.get(asked["payment_id"])
        if view is None:
            problems.append(f"{order_id}: payment {asked['payment_id']} unknown to payments")
            continue
        amount = Decimal(asked["amount"]["amount"])
        if authorised(view) != amount:
            problems.append(
                f"{order_id}: {asked['payment_id']} authorised {authorised(view)}, asked {amount}"
            )
        auths = [h for h in view.get("history", []) if h.get("type") == "PaymentAuthorized"]
        if len(auths) != 1:
            problems.append(f"{order_id}: {asked['payment_id']} authorised {len(auths)} times")
    return problems


async def gather_bounded(coros: list[Awaitable[list[str]]], limit: int = 8) -> list[str]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Awaitable[list[str]]) -> list[str]:
        async with gate:
            return await coro

    return [p for found in await asyncio.gather(*(one(c) for c in coros)) for p in found]


# -- the test -------------------------------------------------------------------------------


async def test_orders_survive_broker_database_and_service_crashes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Our own producer and readers complain loudly while the broker is away; that is the test.
    caplog.set_level(logging.CRITICAL, logger="aiokafka")
    assert 300 <= ORDERS <= 1000, "the issue asks for >= 300; the order listing stops at 1000"
    stack = StackConfig()
    assert chaos.stack_is_healthy(stack), f"the stack of {stack.home} is not up (oms up)"
    with running_system(stack, tmp_path) as system:
        publisher = Publisher(stack.kafka)
        tasks: list[asyncio.Task[Any]] = []
        try:
            await _run(system, stack, publisher, tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await publisher.close()
            await asyncio.to_thread(chaos.restore_stack, stack)
    # Every topic the broker holds is recovered after a crash: leave none of ours behind.
    await delete_topics(stack.kafka, system.prefix)


async def _run(
    system: System, stack: StackConfig, publisher: Publisher, tasks: list[asyncio.Task[Any]]
) -> None:
    plan = stock_plan(ORDERS)
    await seed_warehouses(system)
    for sku, levels in plan.items():
        await seed_sku(system, sku, levels, price=PRICES[sku])
    for i in range(GIFT_CARDS):
        await issue_gift_card(system, f"GC-FAULT-{i}", "1000.00")
    bodies = order_bodies(ORDERS)
    by_ref = {b["platform_order_ref"]: b for b in bodies}

    log = FaultLog(started=asyncio.get_running_loop().time())
    feeding = asyncio.create_task(feed(publisher, system, bodies, log), name="feed")
    schedule = faults(system, stack)
    breaking = asyncio.create_task(run_faults(system, schedule, log), name="faults")
    tasks += [feeding, breaking]
    confirmed_at = await breaking
    await feeding
    loop = asyncio.get_running_loop()
    log.note("every fault undone, every order sent")

    found, waited = await wait_for_every_order(system, bodies, SETTLE_TIMEOUT_S)
    recovery = loop.time() - log.last_restored
    log.note(f"orders settled {recovery:.1f}s after the last fault was undone")
    context = f"faults:\n{log}"

    # The faults struck while orders were in flight, or the test proves nothing.
    late = [f.name for f, n in zip(schedule, confirmed_at, strict=True) if n == ORDERS]
    assert not late, f"these faults came after every order was confirmed: {late}\n{context}"

    # Every order exists once and is confirmed.
    refs = Counter(o["platform_order_ref"] for o in found)
    missing = sorted(set(by_ref) - set(refs))
    twice = sorted(r for r, n in refs.items() if n > 1)
    not_confirmed = [o for o in found if o["status"] != "confirmed"]
    if missing or twice or not_confirmed:
        stuck = [await order_summary(system, o["order_id"]) for o in not_confirmed[:15]]
        dead = await dead_letters_everywhere(system)
        raise AssertionError(
            f"after {waited:.0f}s: {len(missing)} of {ORDERS} orders never placed "
            f"{missing[:20]}; placed twice: {twice[:20]}; not confirmed: "
            f"{Counter(o['status'] for o in not_confirmed)}\n"
            + "\n".join(stuck)
            + f"\ndead letters / parked:\n{summarise(dead)}\n{context}\n{log_excerpt(system)}"
        )

    # Confirmed exactly once: one OrderConfirmed per order on oms.order.events (a resent
    # batch repeats an event id, which consumers drop; a second decision would be a new id).
    order_events = envelopes(await read_to_end(stack.kafka, system.topic(ORDER_EVENTS)))
    confirmations: dict[str, set[str]] = defaultdict(set)
    allocations: dict[str, dict[str, Any]] = {}
    for env in order_events:
        if env.type == "OrderConfirmed":
            confirmations[env.payload["order_id"]].add(str(env.event_id))
            allocations[str(env.event_id)] = env.payload
    order_ids = {o["order_id"] for o in found}
    wrong = {
        oid: len(confirmations.get(oid, ()))
        for oid in order_ids
        if len(confirmations.get(oid, ())) != 1
    }
    assert not wrong, f"orders without exactly one OrderConfirmed: {wrong}\n{context}"
    assert set(confirmations) == order_ids, (
        f"OrderConfirmed for orders not in the channel: {set(confirmations) - order_ids}"
    )

    log.note("each order confirmed once (order API and oms.order.events)")

    # Reserved stock is exact, per SKU and warehouse.
    expected: Counter[tuple[str, str]] = Counter()
    for payload in allocations.values():
        for a in payload["allocations"]:
            expected[(a["sku"], a["warehouse_id"])] += a["quantity"]
    asked: Counter[str] = Counter()
    for body in bodies:
        for line in body["lines"]:
            asked[line["sku"]] += line["quantity"]
    stock_problems = []
    for sku, levels in plan.items():
        allocated = sum(q for (s, _), q in expected.items() if s == sku)
        if allocated != asked[sku]:
            stock_problems.append(
                f"{sku}: confirmations allocate {allocated}, orders asked {asked[sku]}"
            )
        async with system.client("inventory") as inv:
            resp = await inv.get(f"/v1/stock/{sku}")
        assert resp.status_code == 200, resp.text
        held = {row["warehouse"]: row for row in resp.json()["warehouses"]}
        for warehouse, received in levels.items():
            row = held.get(warehouse, {})
            want = expected[(sku, warehouse)]
            if row.get("reserved") != want or row.get("on_hand") != received:
                stock_problems.append(
                    f"{sku} x {warehouse}: inventory has {row}, expected on_hand {received} "
                    f"reserved {want} available {received - want}"
                )
            elif row.get("available") != received - want:
                stock_problems.append(f"{sku} x {warehouse}: available inconsistent in {row}")
    assert not stock_problems, "\n".join(stock_problems) + f"\n{context}"

    log.note("reserved stock exact")

    # Authorised amounts are exact: one PaymentAuthorized per payment, for its amount.
    payment_events = envelopes(await read_to_end(stack.kafka, system.topic(PAYMENTS_EVENTS)))
    authorizations: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for env in payment_events:
        if env.type == "PaymentAuthorized":
            amount = Decimal(env.payload["amount"]["amount"])
            authorizations[env.payload["payment_id"]][str(env.event_id)] = amount
    pay_problems = []
    for body in bodies:
        for p in body["payments"]:
            seen = authorizations.get(p["payment_id"], {})
            if list(seen.values()) != [Decimal(p["amount"]["amount"])]:
                pay_problems.append(
                    f"{body['platform_order_ref']} {p['payment_id']} ({p['method']}): "
                    f"authorised {sorted(seen.values())} on the topic, "
                    f"asked {p['amount']['amount']}"
                )
    ref_of = {o["order_id"]: o["platform_order_ref"] for o in found}
    pay_problems += await gather_bounded(
        [payment_problems(system, oid, by_ref[ref]) for oid, ref in ref_of.items()]
    )
    assert not pay_problems, "\n".join(pay_problems[:40]) + f"\n{context}"

    log.note("authorised amounts exact (payments API and oms.payments.events)")

    # Nothing valid was dead-lettered (and every message of this run was valid).
    dead = await dead_letters_everywhere(system)
    assert not dead, (
        f"dead letters or parked events after the faults:\n{summarise(dead)}\n{context}"
    )

    log.note("no dead letters, no parked events")

    # And the services say they are ready again.
    ready = await wait_ready(system)
    assert all(code == 200 for code, _ in ready.values()), f"/ready after the faults: {ready}"
    log.note("every service ready")

    # The stack's own services (`oms up`), which went through the same outages, too.
    behind = await asyncio.to_thread(chaos.stack_services_not_ready, stack)
    assert not behind, f"services of `oms up` not ready after the faults: {behind}\n{context}"
    log.note("the stack's own services ready")
    print(f"\n{ORDERS} orders through the faults:\n{log}")
