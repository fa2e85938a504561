"""Two processes of each service on one database: they split the work, nothing happens
twice, and when the relay's lease holder dies the standby takes over."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from oms_cli.config import StackConfig
from oms_cli.proc import pid_alive
from oms_events.topics import AUDIT_ANCHORS, ORDER_EVENTS, PLATFORM_INGRESS
from oms_platform.relay import create_producer
from tests.e2e.records import dead_letter_rows, envelopes, parked_rows, read_to_end, summarise
from tests.e2e.shop import (
    METHODS,
    assert_paid_once,
    assert_reserved_exactly,
    issue_gift_card,
    order_body,
    seed_sku,
    seed_warehouses,
)
from tests.e2e.system import SERVICES, ServiceProcess, System, running_system, wait_until
from tests.e2e.test_order_flow import ingress_envelope

BURST = 300
AFTER_KILL = 50
CHANNEL = "webshop-scale"


async def ready_body(proc: ServiceProcess) -> dict[str, Any]:
    """``/ready`` of one instance (its body also when it answers 503)."""
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.get(proc.url + "/ready")
    body: dict[str, Any] = resp.json()
    return body


async def partition_counts(system: System) -> dict[str, int]:
    """Partitions of each of this run's event topics (not dead-letter, not the audit topic of
    chain-head anchors, which is one compacted partition), as the broker has them."""
    admin = AIOKafkaAdminClient(**system.stack.kafka.options())
    await admin.start()
    try:
        described: list[Any] = await admin.describe_topics()
    finally:
        await admin.close()
    return {
        t["topic"]: len(t["partitions"])
        for t in described
        if t["topic"].startswith(system.prefix)
        and not t["topic"].endswith(".dlq")
        and t["topic"] != system.topic(AUDIT_ANCHORS)
    }


def split_problems(bodies: list[dict[str, Any]], counts: dict[str, int]) -> list[str]:
    """Why the instances' consumers do not (yet) split every partition between them."""
    holdings = [body["consumers"]["partitions"] for body in bodies]
    problems = []
    if len({frozenset(held) for held in holdings}) != 1:
        problems.append(f"different consumers: {[sorted(held) for held in holdings]}")
    for consumer in holdings[0]:
        lists = [set(held.get(consumer, ())) for held in holdings]
        union = set().union(*lists)
        topics = {tp.rsplit(":", 1)[0] for tp in union}
        every = {f"{t}:{p}" for t in topics for p in range(counts.get(t, 0))}
        if any(not held for held in lists):
            problems.append(f"{consumer}: an instance holds nothing: {lists}")
        elif sum(map(len, lists)) != len(union):
            problems.append(f"{consumer}: held twice: {lists}")
        elif not topics or union != every:
            problems.append(f"{consumer}: not covered: {sorted(every - union)}")
    return problems


async def orders_in_channel(system: System) -> list[dict[str, Any]]:
    async with system.client("order") as order:
        resp = await order.get("/v1/orders", params={"sales_channel": CHANNEL, "limit": "1000"})
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()
    return found


def bodies_for(first: int, count: int) -> list[dict[str, Any]]:
    bodies = []
    for n in range(first, first + count):
        method = METHODS[n % len(METHODS)]
        lines = [("SCALE-A", 1, "20.00")] + ([("SCALE-B", 1, "30.00")] if n % 2 else [])
        gift = (f"GC-SCALE-{n % 4}", "10.00") if method == "gift_card" else None
        bodies.append(
            order_body(
                lines,
                method="card" if gift else method,
                gift_card=gift,
                channel=CHANNEL,
                country="DE",
            )
        )
    return bodies


async def publish_all(system: System, bodies: list[dict[str, Any]]) -> None:
    """The platform sends ``bodies`` as OrderSubmitted on the ingress topic, in one go."""
    producer = create_producer(system.stack.kafka)
    await producer.start()
    try:
        topic = system.topic(PLATFORM_INGRESS)
        sent = [
            await producer.send(
                topic, value=ingress_envelope(body), key=body["platform_order_ref"].encode()
            )
            for body in bodies
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def all_settled(system: System, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every order of ``bodies`` once each is confirmed or cancelled (else empty)."""
    refs = {b["platform_order_ref"] for b in bodies}
    found = [o for o in await orders_in_channel(system) if o["platform_order_ref"] in refs]
    done = {o["platform_order_ref"] for o in found if o["status"] in {"confirmed", "cancelled"}}
    return found if done == refs else []


async def check_every_order_once(system: System, bodies: list[dict[str, Any]]) -> None:
    """One order per reference, all confirmed, each exactly once on oms.order.events; stock
    reserved and payments authorised exactly once; nothing dead-lettered or parked."""
    orders = await orders_in_channel(system)
    refs = Counter(o["platform_order_ref"] for o in orders)
    assert set(refs) == {b["platform_order_ref"] for b in bodies}
    assert set(refs.values()) == {1}, [r for r, n in refs.items() if n > 1]
    assert Counter(o["status"] for o in orders) == {"confirmed": len(bodies)}

    records = await read_to_end(system.stack.kafka, system.topic(ORDER_EVENTS))
    confirmations: dict[str, set[str]] = defaultdict(set)
    events = envelopes(records)
    repeated = len(events) - len({env.event_id for env in events})
    print(f"{len(events)} records on {ORDER_EVENTS}, {repeated} of them sent again")
    for env in events:
        if env.type == "OrderConfirmed":
            confirmations[env.payload["order_id"]].add(str(env.event_id))
    order_ids = {o["order_id"] for o in orders}
    assert set(confirmations) == order_ids
    wrong = {oid: len(ids) for oid, ids in confirmations.items() if len(ids) != 1}
    assert not wrong, f"orders confirmed more than once: {wrong}"

    wanted: Counter[str] = Counter()
    for body in bodies:
        for line in body["lines"]:
            wanted[line["sku"]] += line["quantity"]
    await assert_reserved_exactly(system, wanted)
    await assert_paid_once(system, bodies, orders)

    found: dict[str, list[dict[str, Any]]] = {}
    for name, dsn in system.databases.items():
        found[f"{name} dead_letters"] = await asyncio.to_thread(dead_letter_rows, dsn)
        found[f"{name} parked_events"] = await asyncio.to_thread(parked_rows, dsn)
    found = {where: rows for where, rows in found.items() if rows}
    assert not found, summarise(found)


async def test_two_instances_split_the_work_and_a_standby_relay_takes_over(
    tmp_path: Path,
) -> None:
    with running_system(StackConfig(), tmp_path, replicas=2) as system:
        await seed_warehouses(system)
        await seed_sku(system, "SCALE-A", {"AMS": 200, "BER": 200})
        await seed_sku(system, "SCALE-B", {"BER": 100, "MAD": 100})
        for i in range(4):
            await issue_gift_card(system, f"GC-SCALE-{i}", "500.00")

        # Both instances of each service hold a share of every consumer's partitions.
        counts = await partition_counts(system)
        assert counts and set(counts.values()) == {system.stack.kafka_partitions}, counts

        async def split_everywhere() -> bool:
            for name in SERVICES:
                bodies = [await ready_body(p) for p in system.replicas[name]]
                if split_problems(bodies, counts):
                    return False
            return True

        await wait_until(split_everywhere, timeout_s=60, what="the consumer groups to rebalance")

        burst = bodies_for(0, BURST)
        await publish_all(system, burst)
        await wait_until(
            lambda: all_settled(system, burst), timeout_s=150, what=f"{BURST} orders to settle"
        )
        await check_every_order_once(system, burst)

        # The work split: disjoint partitions covering each topic, both instances busy.
        split: dict[str, list[dict[str, Any]]] = {}
        for name in SERVICES:
            split[name] = [await ready_body(p) for p in system.replicas[name]]
            assert not split_problems(split[name], counts), split_problems(split[name], counts)
            handled = [body["consumers"]["handled"] for body in split[name]]
            print(f"{name} handled per instance: {handled}")
            # Some consumer of the main flow (every order passes it) is busy on both.
            busy = [c for c in handled[0] if all(h.get(c, 0) > 0 for h in handled)]
            assert busy, (name, handled)
        # Each submitted order was taken in once, by one instance or the other.
        intake = [body["consumers"]["handled"]["intake"] for body in split["order"]]
        assert sum(intake) == BURST, intake

        # One relay per service publishes; the other waits on the lease.
        active: dict[str, ServiceProcess] = {}
        for name in SERVICES:
            relays = [body["relay"] for body in split[name]]
            holders = [i for i, relay in enumerate(relays) if relay["active"]]
            assert len(holders) == 1, (name, relays)
            assert relays[1 - holders[0]]["published"] == 0, (name, relays)
            active[name] = system.replicas[name][holders[0]]

        # SIGKILL every lease holder; each standby takes the lease over.
        for name, proc in active.items():
            proc.kill()
            assert not pid_alive(proc.pid)
            # The survivor serves the HTTP API from now on (system.url means the first).
            system.replicas[name].remove(proc)
            system.replicas[name].append(proc)
        survivors = {name: system.replicas[name][0] for name in SERVICES}
        intake_before = next(
            body["consumers"]["handled"]["intake"]
            for body in split["order"]
            if body["relay"]["active"] is False
        )

        async def taken_over() -> bool:
            bodies = [await ready_body(proc) for proc in survivors.values()]
            return all(body["relay"]["active"] for body in bodies)

        await wait_until(taken_over, timeout_s=15, what="the standby relays to take the lease")

        more = bodies_for(BURST, AFTER_KILL)
        await publish_all(system, more)
        await wait_until(
            lambda: all_settled(system, more),
            timeout_s=90,
            what=f"{AFTER_KILL} more orders to settle on the survivors",
        )
        await check_every_order_once(system, burst + more)

        async def survivors_hold_everything() -> bool:
            bodies = [await ready_body(proc) for proc in survivors.values()]
            return not any(split_problems([body], counts) for body in bodies)

        await wait_until(
            survivors_hold_everything, timeout_s=30, what="the survivors to hold every partition"
        )
        for name, proc in survivors.items():
            body = await ready_body(proc)
            assert body["relay"]["active"] and body["relay"]["published"] > 0, body["relay"]
            print(f"{name} survivor handled: {body['consumers']['handled']}")
            if name == "order":
                assert body["consumers"]["handled"]["intake"] == intake_before + AFTER_KILL
        assert not any(pid_alive(proc.pid) for proc in active.values())
