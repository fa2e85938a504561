"""The inventory service against the real stack: HTTP and Kafka in, events out.

Each test runs the service on the module's scratch database under its own topic prefix
(in-process ServiceHosts, or a real process for the kill-and-restart test), feeds it
order, fulfilment, shipping and returns events on the prefixed topics and HTTP requests,
and checks its HTTP answers and what it published on the prefixed
``oms.inventory.events``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_cli.proc import pid_alive, stop_pid
from oms_cli.services import service_env, spawn_service, wait_healthy
from oms_events.base import Event
from oms_events.codec import decode_envelope, encode_envelope
from oms_events.contracts import (
    Address,
    AllocationStrategy,
    CancellationReason,
    CancelledBy,
    ItemCondition,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    ReturnedLine,
    ReturnReceived,
    ShipmentDispatched,
    SkuQuantity,
)
from oms_events.contracts.fulfilment import ShortPicked
from oms_events.contracts.shipping import ShipmentReturnedToSender
from oms_events.envelope import Envelope
from oms_events.examples import eur, example
from oms_events.registry import envelope_for
from oms_events.topics import INVENTORY_EVENTS, dlq, topic_for
from oms_inventory.app import create_app
from oms_inventory.domain.allocation import LineRequest
from oms_inventory.domain.commands import ReserveStock
from oms_inventory.handlers import Cause, Inventory
from oms_inventory.settings import InventorySettings
from oms_platform.commands import run_command
from oms_platform.db import create_engine
from oms_platform.eventstore import PostgresEventStore
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer, message_headers
from oms_platform.settings import RetrySettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import eventually, read_topic
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

pytestmark = pytest.mark.integration

WAREHOUSES = [
    {"code": "AMS", "name": "Amsterdam DC", "country": "NL", "priority": 1},
    {"code": "BER", "name": "Berlin DC", "country": "DE", "priority": 2},
    {"code": "MAD", "name": "Madrid DC", "country": "ES", "priority": 3},
]
DECISIONS = ("StockReserved", "StockReservationFailed")


def order_placed(order_id: str, *lines: tuple[str, int], country: str = "NL") -> OrderPlaced:
    base = example(OrderPlaced)
    order_lines = tuple(
        OrderLine(line_id=str(i), sku=sku, quantity=q, unit_price=eur("10.00"))
        for i, (sku, q) in enumerate(lines, 1)
    )
    address = Address(
        recipient="Test Customer",
        line1="Hoofdstraat 1",
        postal_code="1000",
        city="X",
        country=country,
    )
    return base.model_copy(
        update={"order_id": order_id, "lines": order_lines, "shipping_address": address}
    )


def dispatched(order_id: str, shipment_id: str, warehouse: str, *lines: tuple[str, int]) -> Event:
    return example(ShipmentDispatched).model_copy(
        update={
            "order_id": order_id,
            "shipment_id": shipment_id,
            "warehouse_id": warehouse,
            "lines": tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines),
        }
    )


def cancelled(order_id: str) -> Event:
    return OrderCancelled(
        order_id=order_id,
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.CUSTOMER,
    )


@dataclass
class Kafka:
    """Publishing to and reading from one test's prefixed topics."""

    connection: KafkaConnection
    prefix: str
    producer: Any

    async def publish(self, event: Event, *, key: str) -> Envelope:
        env = envelope_for(
            event,
            stream_id=f"test-{uuid.uuid4().hex[:8]}",
            stream_version=1,
            correlation_id=key,
            causation_id=None,
            actor="service:test",
            producer="test",
        )
        await self.producer.send_and_wait(
            self.prefix + topic_for(env.type),
            encode_envelope(env),
            key=key.encode(),
            headers=message_headers(env),
        )
        return env

    async def published(self, expect: int, topic: str = INVENTORY_EVENTS) -> list[Envelope]:
        records = await read_topic(self.connection, self.prefix + topic, expect=expect)
        # The relay may resend a batch after a crash; consumers drop duplicates by id.
        unique = {decode_envelope(r.value).event_id: decode_envelope(r.value) for r in records}
        return list(unique.values())


@dataclass
class Running:
    """A running inventory: its HTTP client, its database, the test's topics."""

    engine: AsyncEngine
    client: httpx.AsyncClient
    kafka: Kafka

    async def count(self, *types: str) -> int:
        """Events of these types in the service's store."""
        async with self.engine.connect() as conn:
            row = await conn.execute(
                text("SELECT count(*) FROM events WHERE type = ANY(:t)"), {"t": list(types)}
            )
            return int(row.scalar_one())

    async def wait_for(self, n: int, *types: str) -> None:
        async def enough() -> bool:
            return await self.count(*types) >= n

        await eventually(enough, timeout_s=90, what=f"{n} x {types}")

    async def seed(self, **stock: dict[str, int]) -> None:
        for warehouse in WAREHOUSES:
            resp = await self.client.post("/v1/warehouses", json=warehouse)
            assert resp.status_code in (200, 201), resp.text
        for sku, per_wh in stock.items():
            body = {"sku": sku, "name": sku, "weight_grams": 200}
            body |= {"length_mm": 100, "width_mm": 100, "height_mm": 50}
            assert (await self.client.post("/v1/skus", json=body)).status_code in (200, 201)
            for wh, qty in per_wh.items():
                resp = await self.client.post(
                    "/v1/stock/receipts", json={"sku": sku, "warehouse": wh, "quantity": qty}
                )
                assert resp.status_code == 201, resp.text


def settings_for(dsn: str, kafka: KafkaConnection, prefix: str, **extra: Any) -> InventorySettings:
    return InventorySettings(
        **service_keys(),
        database_dsn=SecretStr(dsn),
        **kafka.settings(),
        topic_prefix=prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
        **extra,
    )


@pytest.fixture
async def kafka(kafka_admin: KafkaConnection) -> AsyncIterator[Kafka]:
    producer = create_producer(kafka_admin)
    await producer.start()
    try:
        yield Kafka(kafka_admin, f"t{uuid.uuid4().hex[:8]}.", producer)
    finally:
        await producer.stop()


@pytest.fixture
async def inventory(clean_db: str, kafka: Kafka) -> AsyncIterator[Running]:
    host = create_app(settings_for(clean_db, kafka.connection, kafka.prefix))
    await host.start()
    transport = httpx.ASGITransport(app=host.api)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://inventory", headers=auth.headers()
        ) as client:
            yield Running(host.engine, client, kafka)
    finally:
        await host.stop()


# -- HTTP: master data and stock movements --------------------------------------------------


async def test_stock_movements_over_http_with_reasons_for_refusals(inventory: Running) -> None:
    c = inventory.client
    await inventory.seed(TEE={"AMS": 10})
    same = await c.post("/v1/warehouses", json=WAREHOUSES[0])
    assert same.status_code == 200 and same.json()["recorded"] == []
    other = await c.post("/v1/warehouses", json={**WAREHOUSES[0], "priority": 9})
    assert other.status_code == 409 and "already registered" in other.json()["detail"]
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "warehouse_exists"
    change = {k: v for k, v in WAREHOUSES[2].items() if k != "code"} | {"active": False}
    closed = await c.put("/v1/warehouses/MAD", json=change)
    assert closed.status_code == 200 and closed.json()["recorded"] == ["WarehouseRegistered"]
    listed = {w["code"]: w["active"] for w in (await c.get("/v1/warehouses")).json()}
    assert listed == {"AMS": True, "BER": True, "MAD": False}
    unknown = await c.put("/v1/warehouses/NEW", json=change)
    assert unknown.status_code == 404 and unknown.json()["code"] == "warehouse_not_found"
    bad = await c.post(
        "/v1/stock/receipts", json={"sku": "TEE", "warehouse": "AMS", "quantity": 0, "x": 1}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    assert {e["field"] for e in bad.json()["errors"]} == {"quantity", "x"}
    # Nothing a client sends reaches PostgreSQL as a NUL (which it cannot store): 422.
    nul = {"sku": "TEE", "warehouse": "AMS", "quantity": 1, "reference": "PO\x00"}
    assert (await c.post("/v1/stock/receipts", json=nul)).status_code == 422
    assert (await c.get("/v1/stock/T%00E")).status_code == 422
    assert (await c.get("/v1/reservations/o%00")).status_code == 422
    assert (
        await c.post("/v1/stock/receipts", json={"sku": "NOPE", "warehouse": "AMS", "quantity": 1})
    ).status_code == 404
    assert (
        await c.post("/v1/stock/receipts", json={"sku": "TEE", "warehouse": "ZZZ", "quantity": 1})
    ).status_code == 404
    receipt = {"sku": "TEE", "warehouse": "AMS", "quantity": 5, "reference": "PO-7"}
    assert (await c.post("/v1/stock/receipts", json=receipt)).json()["on_hand"] == 15
    again = await c.post("/v1/stock/receipts", json=receipt)
    assert again.status_code == 200 and again.json()["on_hand"] == 15  # booked in once

    too_many = await c.post(
        "/v1/stock/transfers",
        json={"sku": "TEE", "from_warehouse": "AMS", "to_warehouse": "BER", "quantity": 16},
    )
    assert too_many.status_code == 409 and "only 15 units" in too_many.json()["detail"]
    assert too_many.json()["code"] == "insufficient_stock"
    moved = await c.post(
        "/v1/stock/transfers",
        json={"sku": "TEE", "from_warehouse": "AMS", "to_warehouse": "BER", "quantity": 6},
    )
    assert moved.status_code == 201
    count = await c.post(
        "/v1/stock/adjustments",
        json={"sku": "TEE", "warehouse": "AMS", "counted_quantity": 7, "reason": "cycle count"},
    )
    assert count.status_code == 201 and count.json()["on_hand"] == 7
    threshold = await c.put("/v1/stock/TEE/AMS/threshold", json={"low_stock_threshold": 8})
    assert threshold.json()["recorded"] == ["LowStockThresholdSet", "LowStockDetected"]

    stock = (await c.get("/v1/stock/TEE")).json()
    assert {
        w["warehouse"]: (w["on_hand"], w["available"], w["low"]) for w in stock["warehouses"]
    } == {
        "AMS": (7, 7, True),
        "BER": (6, 6, False),
    }
    assert (await c.get("/v1/stock/NOPE")).status_code == 404
    sku = (await c.get("/v1/skus/TEE")).json()
    assert (sku["weight_grams"], sku["height_mm"]) == (200, 50)

    events = await inventory.kafka.published(expect=11)
    by_type = Counter(e.type for e in events)
    assert by_type["WarehouseRegistered"] == 4 and by_type["SkuRegistered"] == 1
    assert by_type["StockAdjusted"] == 1 and by_type["LowStockDetected"] == 1
    [adjusted] = [e for e in events if e.type == "StockAdjusted"]
    assert adjusted.payload["delta"] == -2 and adjusted.payload["reason"] == "cycle count"

    async def flagged() -> bool:
        low = (await c.get("/v1/stock", params={"low": "true"})).json()
        return [(r["sku"], r["warehouse"], r["available"]) for r in low] == [("TEE", "AMS", 7)]

    await eventually(flagged, what="the stock-levels read model to flag AMS low")


# -- Kafka: reserve, release, ship -------------------------------------------------------------


async def test_orders_are_reserved_released_and_shipped(inventory: Running) -> None:
    k, c = inventory.kafka, inventory.client
    await inventory.seed(TEE={"AMS": 5, "BER": 8}, MUG={"BER": 3, "MAD": 3})
    preview = {"lines": [{"line_id": "1", "sku": "TEE", "quantity": 1}], "country": "DE"}
    nearest = (await c.post("/v1/allocations/preview", json=preview)).json()
    assert nearest["strategy"] == "nearest" and nearest["allocations"][0]["warehouse"] == "BER"
    by_priority = await c.post(
        "/v1/allocations/preview", json=preview | {"strategy": "by_priority"}
    )
    assert by_priority.json()["allocations"][0]["warehouse"] == "AMS"
    outcome = await c.post("/v1/allocations/preview", json=preview | {"strategy": "split"})
    assert outcome.status_code == 422
    # One at a time: orders on different partitions would otherwise race for the same units.
    placed = await k.publish(order_placed("ord-a", ("TEE", 2), ("MUG", 1)), key="ord-a")
    await inventory.wait_for(1, *DECISIONS)
    await k.publish(order_placed("ord-b", ("TEE", 9), country="ES"), key="ord-b")
    await inventory.wait_for(2, *DECISIONS)
    await k.publish(order_placed("ord-c", ("TEE", 50)), key="ord-c")
    await inventory.wait_for(3, *DECISIONS)

    reservation = (await c.get("/v1/reservations/ord-a")).json()
    # Nearest holding everything for NL: BER (AMS lacks the mug).
    assert reservation["status"] == "reserved" and reservation["strategy"] == "nearest"
    assert {(a["sku"], a["warehouse"], a["quantity"]) for a in reservation["allocations"]} == {
        ("TEE", "BER", 2),
        ("MUG", "BER", 1),
    }
    assert all(a["reason"] for a in reservation["allocations"])
    split = (await c.get("/v1/reservations/ord-b")).json()
    # Madrid has no tees; from Spain Amsterdam is nearer than Berlin, so it is emptied first.
    assert [(a["warehouse"], a["quantity"]) for a in split["allocations"]] == [
        ("AMS", 5),
        ("BER", 4),
    ]
    assert "split over 2" in split["reasoning"]
    failed = (await c.get("/v1/reservations/ord-c")).json()
    assert failed["status"] == "failed" and failed["shortages"][0]["requested"] == 50
    assert (await c.get("/v1/reservations/ord-zzz")).status_code == 404

    await k.publish(dispatched("ord-a", "shp-1", "BER", ("TEE", 2), ("MUG", 1)), key="ord-a")
    await k.publish(cancelled("ord-b"), key="ord-b")
    await k.publish(cancelled("ord-never-placed"), key="ord-never-placed")
    await k.publish(dispatched("ord-c", "shp-9", "AMS", ("TEE", 1)), key="ord-c")  # no reservation
    await inventory.wait_for(1, "StockShipped")
    await inventory.wait_for(1, "StockReleased")
    await inventory.wait_for(1, "StockReservationCancelled")
    # A placement after its cancellation reserves nothing.
    await k.publish(order_placed("ord-never-placed", ("TEE", 1)), key="ord-never-placed")

    stock = (await c.get("/v1/stock/TEE")).json()
    assert stock["totals"] == {"on_hand": 11, "reserved": 0, "available": 11}
    returned = example(ReturnReceived).model_copy(
        update={
            "order_id": "ord-a",
            "warehouse_id": "BER",
            "lines": (
                ReturnedLine(sku="TEE", quantity=1, condition=ItemCondition.RESELLABLE),
                ReturnedLine(sku="MUG", quantity=1, condition=ItemCondition.DAMAGED),
            ),
        }
    )
    await k.publish(returned, key="ord-a")
    await k.publish(returned, key="ord-a")  # the platform resent it: booked once all the same
    await inventory.wait_for(1, "StockRestocked")
    await inventory.wait_for(1, "StockWrittenOff")
    assert (await c.get("/v1/stock/TEE")).json()["totals"]["on_hand"] == 12
    assert (await c.get("/v1/reservations/ord-a")).json()["status"] == "shipped"
    assert (await c.get("/v1/reservations/ord-b")).json()["status"] == "released"

    out = await k.published(expect=24)
    reserved = [e for e in out if e.type == "StockReserved" and e.correlation_id == "ord-a"]
    assert reserved and reserved[0].causation_id == str(placed.event_id)
    assert reserved[0].payload["decisions"][0]["reason"]
    [failure] = [e for e in out if e.type == "StockReservationFailed"]
    assert failure.payload["shortages"] == [{"sku": "TEE", "requested": 50, "available": 2}]
    assert "not enough stock" in failure.payload["reason"]
    [dead] = await read_topic(
        k.connection, k.prefix + dlq(topic_for("ShipmentDispatched")), expect=1
    )
    assert b"no open reservation" in dict(dead.headers)["dlq.reason"]
    assert dict(dead.headers)["dlq.error_code"] == b"no_open_reservation"
    never = (await c.get("/v1/reservations/ord-never-placed")).json()
    assert never["status"] == "cancelled"


async def test_short_picked_units_are_booked_lost_and_never_released_or_shipped(
    inventory: Running,
) -> None:
    k, c = inventory.kafka, inventory.client
    await inventory.seed(TEE={"AMS": 5}, MUG={"AMS": 3})
    await k.publish(order_placed("ord-s1", ("TEE", 3)), key="ord-s1")
    await inventory.wait_for(1, *DECISIONS)
    await k.publish(order_placed("ord-s2", ("MUG", 2)), key="ord-s2")
    await inventory.wait_for(2, *DECISIONS)

    def short(order_id: str, sku: str) -> ShortPicked:
        return ShortPicked(
            fulfilment_id=f"ful-{order_id}",
            order_id=order_id,
            warehouse_id="AMS",
            missing=(SkuQuantity(sku=sku, quantity=1),),
        )

    # ord-s1: one tee not found (reported twice, as two messages), the other two ship.
    await k.publish(short("ord-s1", "TEE"), key="ord-s1")
    await k.publish(short("ord-s1", "TEE"), key="ord-s1")
    await inventory.wait_for(1, "StockLost")
    await k.publish(dispatched("ord-s1", "shp-s1", "AMS", ("TEE", 2)), key="ord-s1")
    await inventory.wait_for(1, "StockShipped")
    # ord-s2: one mug not found, then the order is cancelled: only the other is released.
    await k.publish(short("ord-s2", "MUG"), key="ord-s2")
    await inventory.wait_for(2, "StockLost")
    await k.publish(cancelled("ord-s2"), key="ord-s2")
    await inventory.wait_for(1, "StockReleased")

    tee = (await c.get("/v1/stock/TEE")).json()["totals"]
    assert tee == {"on_hand": 2, "reserved": 0, "available": 2}  # 5 - 2 shipped - 1 lost
    # The parcel comes back to AMS (reported twice): its two tees are back on the shelf.
    rts = ShipmentReturnedToSender(
        shipment_id="shp-s1",
        order_id="ord-s1",
        carrier="postnl",
        tracking_number="3SRTS",
        update_id="u-rts",
        reported_at=datetime.now(UTC),
    )
    copies = [str((await k.publish(rts, key="ord-s1")).event_id) for _ in range(2)]

    async def both_handled() -> bool:
        async with inventory.engine.connect() as conn:
            row = await conn.execute(
                text("SELECT count(*) FROM inbox WHERE event_id::text = ANY(:ids)"),
                {"ids": copies},
            )
            return int(row.scalar_one()) == 2

    await eventually(both_handled, timeout_s=60, what="both reports of the return handled")
    assert (await c.get("/v1/stock/TEE")).json()["totals"]["on_hand"] == 4
    assert await inventory.count("StockReceived") == 3  # two receipts, one return
    mug = (await c.get("/v1/stock/MUG")).json()["totals"]
    assert mug == {"on_hand": 2, "reserved": 0, "available": 2}  # 3 - 1 lost
    assert (await c.get("/v1/reservations/ord-s1")).json()["status"] == "shipped"
    assert await inventory.count("StockLost") == 2
    assert await inventory.count("StockWrittenDown") == 2

    async with inventory.engine.connect() as conn:
        stored = int((await conn.execute(text("SELECT count(*) FROM events"))).scalar_one())
    out = await k.published(expect=stored)  # all of them, once the relay has caught up
    released = [e for e in out if e.type == "StockReleased"]
    assert [a["quantity"] for a in released[0].payload["allocations"]] == [1]
    lost = {e.correlation_id: e.payload for e in out if e.type == "StockLost"}
    assert lost["ord-s1"]["unreserved"] == [{"sku": "TEE", "quantity": 1}]
    assert lost["ord-s2"]["lines"] == [{"sku": "MUG", "quantity": 1}]


# -- No oversell ---------------------------------------------------------------------------------


async def test_fifty_concurrent_orders_for_twenty_units(clean_db: str, kafka: Kafka) -> None:
    """Two service instances share the work (one consumer group), so reservations race."""
    hosts = [create_app(settings_for(clean_db, kafka.connection, kafka.prefix)) for _ in range(2)]
    for host in hosts:
        await host.start()
    try:
        transport = httpx.ASGITransport(app=hosts[0].api)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://inventory", headers=auth.headers()
        ) as client:
            running = Running(hosts[0].engine, client, kafka)
            await running.seed(HOT={"AMS": 8, "BER": 7, "MAD": 5})
            await asyncio.gather(
                *(
                    kafka.publish(order_placed(f"ord-{i}", ("HOT", 1)), key=f"ord-{i}")
                    for i in range(50)
                )
            )
            await running.wait_for(50, *DECISIONS)
            stock = (await client.get("/v1/stock/HOT")).json()
            assert stock["totals"] == {"on_hand": 20, "reserved": 20, "available": 0}
            assert all(w["available"] == 0 for w in stock["warehouses"])

            out = await kafka.published(expect=3 + 1 + 3 + 50 + 20)
            decisions = [e for e in out if e.type in DECISIONS]
            assert Counter(e.type for e in decisions) == {
                "StockReserved": 20,
                "StockReservationFailed": 30,
            }
            assert len({e.correlation_id for e in decisions}) == 50
            for e in decisions:
                if e.type == "StockReservationFailed":
                    assert e.payload["shortages"] == [
                        {"sku": "HOT", "requested": 1, "available": 0}
                    ]
    finally:
        for host in hosts:
            await host.stop()


async def test_concurrent_reservations_on_postgres_conflict_and_retry(
    clean_db: str, kafka: Kafka
) -> None:
    """The same race without Kafka: 50 units of work at once against one SKU stream."""
    host = create_app(settings_for(clean_db, kafka.connection, kafka.prefix))
    await host.start()
    try:
        transport = httpx.ASGITransport(app=host.api)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://inventory", headers=auth.headers()
        ) as client:
            await Running(host.engine, client, kafka).seed(HOT={"AMS": 12, "BER": 8})
        store = PostgresEventStore(host.engine, chain_key=TEST_CHAIN_KEY)
        conflicts = 0

        async def reserve(i: int) -> str:
            nonlocal conflicts
            inventory = Inventory()  # no shared cache: each starts from what the store says
            cmd = ReserveStock(
                f"ord-{i}", (LineRequest("1", "HOT", 1),), "NL", AllocationStrategy.BY_PRIORITY
            )
            attempts = 0

            async def work(uow: Any) -> list[Event]:
                nonlocal attempts
                attempts += 1
                return await inventory.reserve_stock(uow, cmd, Cause(f"ord-{i}"))

            events = await run_command(store, work)
            conflicts += attempts - 1
            return type(events[0]).__name__

        outcomes = Counter(await asyncio.gather(*(reserve(i) for i in range(50))))
        assert outcomes == {"StockReserved": 20, "StockReservationFailed": 30}
        assert conflicts > 0  # they really raced
        state, _ = await Inventory().load_stock(store, "HOT")
        assert {w: (lvl.on_hand, lvl.reserved) for w, lvl in state.levels.items()} == {
            "AMS": (12, 12),
            "BER": (8, 8),
        }
    finally:
        await host.stop()


# -- Reconciliation ----------------------------------------------------------------------------


async def test_hundred_orders_over_three_warehouses_reconcile(inventory: Running) -> None:
    k, c = inventory.kafka, inventory.client
    rng = random.Random(7)
    skus = {"A": {"AMS": 40, "BER": 30, "MAD": 20}, "B": {"AMS": 10, "MAD": 35}, "C": {"BER": 25}}
    await inventory.seed(**skus)
    countries = ["NL", "DE", "ES", "FR", "PL", "IT"]
    for i in range(100):
        lines = [(s, rng.randint(1, 4)) for s in rng.sample(sorted(skus), rng.randint(1, 3))]
        await k.publish(
            order_placed(f"ord-{i}", *lines, country=rng.choice(countries)), key=f"ord-{i}"
        )
    await inventory.wait_for(100, *DECISIONS)
    # Cancel every fifth order, ship every third that is reserved (each warehouse its parcel).
    releases = 0
    for i in range(0, 100, 5):
        res = (await c.get(f"/v1/reservations/ord-{i}")).json()
        releases += res["status"] == "reserved"
        await k.publish(cancelled(f"ord-{i}"), key=f"ord-{i}")
    shipments = 0
    for i in range(1, 100, 3):
        if i % 5 == 0:
            continue
        res = (await c.get(f"/v1/reservations/ord-{i}")).json()
        if res["status"] != "reserved":
            continue
        parcels: dict[str, Counter[str]] = {}
        for a in res["allocations"]:
            parcels.setdefault(a["warehouse"], Counter())[a["sku"]] += a["quantity"]
        for wh, parcel in parcels.items():
            shipments += 1
            await k.publish(
                dispatched(f"ord-{i}", f"shp-{i}-{wh}", wh, *parcel.items()), key=f"ord-{i}"
            )
    await inventory.wait_for(shipments, "StockShipped")
    await inventory.wait_for(releases, "StockReleased")

    # Expected from the reservations themselves.
    held: Counter[tuple[str, str]] = Counter()
    shipped: Counter[tuple[str, str]] = Counter()
    for i in range(100):
        res = (await c.get(f"/v1/reservations/ord-{i}")).json()
        if res["status"] in ("failed", "released", "cancelled"):
            assert res["outstanding"] == []
        for a in res["outstanding"]:
            held[(a["sku"], a["warehouse"])] += a["quantity"]
        if res["status"] == "shipped":
            for a in res["allocations"]:
                shipped[(a["sku"], a["warehouse"])] += a["quantity"]
    for sku, per_wh in skus.items():
        stock = (await c.get(f"/v1/stock/{sku}")).json()
        for row in stock["warehouses"]:
            key = (sku, row["warehouse"])
            assert row["on_hand"] == per_wh.get(row["warehouse"], 0) - shipped[key], key
            assert row["reserved"] == held[key], key
            assert row["available"] >= 0
    # The published events tell the same story, and so does the read model.
    out = await k.published(expect=100)
    assert len({e.correlation_id for e in out if e.type in DECISIONS}) == 100

    async def read_model_agrees() -> bool:
        listed = (await c.get("/v1/stock")).json()
        return (
            all(
                r["reserved"] == held[(r["sku"], r["warehouse"])]
                and r["on_hand"]
                == skus[r["sku"]].get(r["warehouse"], 0) - shipped[(r["sku"], r["warehouse"])]
                for r in listed
            )
            and len(listed) == 6
        )

    await eventually(read_model_agrees, what="the stock-levels read model to reconcile")


# -- Promotion readiness -----------------------------------------------------------------------


async def test_promotion_readiness_from_sales_velocity(inventory: Running) -> None:
    k, c = inventory.kafka, inventory.client
    await inventory.seed(TEE={"AMS": 50})
    for i in range(14):
        await k.publish(order_placed(f"ord-{i}", ("TEE", 2)), key=f"ord-{i}")
    await inventory.wait_for(14, *DECISIONS)
    now = datetime.now(UTC)
    body = {
        "name": "Spring sale",
        "skus": ["TEE"],
        "starts_at": (now + timedelta(days=7)).isoformat(),
        "ends_at": (now + timedelta(days=21)).isoformat(),
        "expected_uplift": "3",
    }
    assert (await c.post("/v1/promotions", json={**body, "skus": ["NOPE"]})).status_code == 404
    bad = await c.post("/v1/promotions", json={**body, "ends_at": body["starts_at"]})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_promotion_window"
    assert [e["field"] for e in bad.json()["errors"]] == ["ends_at"]
    created = await c.post("/v1/promotions", json=body)
    assert created.status_code == 201
    promotion_id = created.json()["promotion_id"]

    url = f"/v1/promotions/{promotion_id}/readiness"
    readiness: dict[str, Any] = {}

    async def assessed() -> bool:
        readiness.update((await c.get(url, params={"as_of": now.isoformat()})).json())
        return bool(readiness["skus"][0]["velocity_per_day"] == 1.0)

    await eventually(assessed, what="28 units of sales in the demand read model")
    [tee] = readiness["skus"]
    # 28 units reserved over the 28-day window: 1 a day; 7 days before, 14 days at 3x.
    [ams] = tee["warehouses"]
    assert ams["velocity_per_day"] == 1.0 and ams["available"] == 22
    assert ams["demand_before_start"] == 7.0 and ams["promotion_demand"] == 42.0
    assert ams["shortfall"] == 42 - 15 and ams["suggested_reorder_quantity"] == 27
    assert readiness["ready"] is False
    assert (await c.get("/v1/promotions/nope/readiness")).status_code == 404

    out = await k.published(expect=3 + 1 + 1 + 14 * 2 + 1)
    assert [e.payload["expected_uplift"] for e in out if e.type == "PromotionPlanned"] == ["3"]


# -- Crash and restart ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_killed_mid_run_and_restarted_reserves_each_order_once(
    clean_db: str, kafka: Kafka, stack: StackConfig, tmp_path: Path
) -> None:
    port = _free_port()
    env = service_env(
        stack, "inventory", database_dsn=clean_db, port=port, topic_prefix=kafka.prefix
    )
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "inventory.log"
    pid = spawn_service("inventory", env, log)
    engine = create_engine(clean_db, pool_size=2)
    try:
        wait_healthy(url, pid, log, timeout_s=90)
        async with httpx.AsyncClient(
            base_url=url, timeout=30, headers=tokens.headers(stack)
        ) as client:
            assert (await client.get("/openapi.json")).status_code == 200
            running = Running(engine, client, kafka)
            await running.seed(HOT={"AMS": 30, "BER": 30})
            for i in range(80):
                await kafka.publish(order_placed(f"ord-{i}", ("HOT", 1)), key=f"ord-{i}")
            await running.wait_for(10, *DECISIONS)
            os.kill(pid, signal.SIGKILL)

            async def gone() -> bool:
                return not pid_alive(pid)

            await eventually(gone, timeout_s=10, what="the killed process to exit")
            done_at_kill = await running.count(*DECISIONS)
            pid = spawn_service("inventory", env, log)
            wait_healthy(url, pid, log, timeout_s=90)
            await running.wait_for(80, *DECISIONS)
            await asyncio.sleep(1)  # anything redelivered after the restart has been handled
            assert await running.count(*DECISIONS) == 80, f"{done_at_kill} were done at the kill"
            stock = (await client.get("/v1/stock/HOT")).json()
            assert stock["totals"] == {"on_hand": 60, "reserved": 60, "available": 0}
            out = await kafka.published(expect=3 + 1 + 2 + 80 + 60)
            decisions = Counter(e.correlation_id for e in out if e.type in DECISIONS)
            assert len(decisions) == 80 and set(decisions.values()) == {1}
    finally:
        await engine.dispose()
        if pid_alive(pid):
            stop_pid(pid, 15)
