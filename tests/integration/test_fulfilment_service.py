"""The fulfilment service against the real stack: Kafka in, HTTP for the warehouse, events out.

The service runs in-process on the module's scratch database under its own topic prefix.
The test publishes the inventory's ``SkuRegistered`` and an ``OrderConfirmed`` split over
two warehouses on the prefixed topics, works the pick lists over HTTP as a warehouse app
would (one short pick, one pack), checks what the service published on the prefixed
``oms.fulfilment.events``, and that the order confirmed again (the same message, and the
same order under a new event id) creates nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.contracts.common import Address, Allocation
from oms_events.contracts.inventory import SkuRegistered
from oms_events.contracts.order import OrderConfirmed
from oms_events.topics import FULFILMENT_EVENTS
from oms_fulfilment.app import create_app
from oms_fulfilment.settings import FulfilmentSettings
from oms_platform.settings import RetrySettings
from oms_platform.testing.kafka import TestTopics, eventually

pytestmark = pytest.mark.integration

ADDRESS = Address(
    recipient="Test Customer", line1="Hoofdstraat 1", postal_code="1000", city="X", country="NL"
)
TEE = SkuRegistered(
    sku="TEE", name="Tee", weight_grams=180, length_mm=300, width_mm=250, height_mm=20
)
MUG = SkuRegistered(
    sku="MUG", name="Mug", weight_grams=350, length_mm=120, width_mm=90, height_mm=95
)


def confirmed(order_id: str, *allocations: tuple[str, str, int]) -> OrderConfirmed:
    return OrderConfirmed(
        order_id=order_id,
        allocations=tuple(
            Allocation(line_id=str(i), sku=sku, warehouse_id=wh, quantity=q)
            for i, (sku, wh, q) in enumerate(allocations, 1)
        ),
        shipping_address=ADDRESS,
    )


@dataclass
class Running:
    engine: AsyncEngine
    client: httpx.AsyncClient
    kafka: TestTopics

    async def scalar(self, sql: str, **params: Any) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())

    async def picklists(self, warehouse: str, status: str = "open") -> list[dict[str, Any]]:
        resp = await self.client.get(
            f"/v1/warehouses/{warehouse}/picklists", params={"status": status}
        )
        assert resp.status_code == 200, resp.text
        found: list[dict[str, Any]] = resp.json()["picklists"]
        return found


@pytest.fixture
async def fulfilment(clean_db: str, topics: TestTopics) -> AsyncIterator[Running]:
    settings = FulfilmentSettings(
        database_dsn=SecretStr(clean_db),
        kafka_bootstrap=topics.bootstrap,
        topic_prefix=topics.prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
    )
    host = create_app(settings)
    await host.start()
    transport = httpx.ASGITransport(app=host.api)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://fulfilment") as client:
            yield Running(host.engine, client, topics)
    finally:
        await host.stop()


async def test_a_split_order_is_picked_short_packed_and_never_requested_twice(
    fulfilment: Running,
) -> None:
    f, k, c = fulfilment, fulfilment.kafka, fulfilment.client
    order = f"ord-{uuid.uuid4().hex[:12]}"
    ams, ber = f"ful-{order}-AMS", f"ful-{order}-BER"

    # The SKU master's sizes arrive from inventory first (packing needs them).
    for sku in (TEE, MUG):
        await k.publish(sku, key=sku.sku)

    async def sizes_known() -> bool:
        return await f.scalar("SELECT count(*) FROM fulfilment_item_sizes") == 2

    await eventually(sizes_known, timeout_s=60, what="the SKU sizes")

    # Two tees and a mug from Amsterdam, one tee from Berlin: two fulfilments.
    split = confirmed(order, ("TEE", "AMS", 2), ("MUG", "AMS", 1), ("TEE", "BER", 1))
    first = await k.publish(split, key=order)

    async def two_open() -> bool:
        return len(await f.picklists("AMS")) == 1 and len(await f.picklists("BER")) == 1

    await eventually(two_open, timeout_s=60, what="an open pick list in AMS and in BER")
    [ams_list] = await f.picklists("AMS")
    [ber_list] = await f.picklists("BER")
    assert ams_list["fulfilment_id"] == ams and ams_list["order_id"] == order
    assert ams_list["lines"] == [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}]
    assert ber_list["fulfilment_id"] == ber
    assert ber_list["lines"] == [{"sku": "TEE", "quantity": 1}]

    # Amsterdam finds one tee of two (a short pick), Berlin everything.
    short = {"lines": [{"sku": "TEE", "quantity": 1}, {"sku": "MUG", "quantity": 1}]}
    picked = await c.post(f"/v1/fulfilments/{ams}/picked", json=short)
    assert picked.status_code == 201, picked.text
    assert picked.json()["recorded"] == ["OrderPicked", "ShortPicked"]
    full = await c.post(
        f"/v1/fulfilments/{ber}/picked", json={"lines": [{"sku": "TEE", "quantity": 1}]}
    )
    assert full.status_code == 201 and full.json()["recorded"] == ["OrderPicked"]
    packed = await c.post(f"/v1/fulfilments/{ams}/packed")
    assert packed.status_code == 201, packed.text
    assert packed.json()["recorded"] == ["OrderPacked", "ParcelsPacked"]
    assert (await c.get(f"/v1/fulfilments/{ams}")).json()["status"] == "packed"

    events, _ = await f.kafka.published(FULFILMENT_EVENTS, expect=7)
    by_type = Counter(e.type for e in events)
    assert by_type == {
        "FulfilmentRequested": 2,
        "OrderPicked": 2,
        "ShortPicked": 1,
        "OrderPacked": 1,
        "ParcelsPacked": 1,
    }
    assert {e.correlation_id for e in events} == {order}  # keyed by the order
    requested = [e for e in events if e.type == "FulfilmentRequested"]
    assert {e.causation_id for e in requested} == {str(first.event_id)}
    [short_picked] = [e for e in events if e.type == "ShortPicked"]
    assert short_picked.payload["fulfilment_id"] == ams
    assert short_picked.payload["missing"] == [{"sku": "TEE", "quantity": 1}]
    [order_packed] = [e for e in events if e.type == "OrderPacked"]
    assert order_packed.payload["lines"] == short["lines"]
    [parcels] = [e for e in events if e.type == "ParcelsPacked"]
    [parcel] = parcels.payload["parcels"]
    assert parcel["box"] == "BOX-M" and parcel["parcel_id"] == f"{ams}-1"
    assert parcel["weight_grams"] == order_packed.payload["weight_grams"] == 180 + 350 + 300

    # The same message again (a redelivery), then the same order under a new event id.
    await k.send(first)
    again = await k.publish(split, key=order)

    async def handled_again() -> bool:
        return (
            await f.scalar("SELECT count(*) FROM inbox WHERE event_id = :id", id=again.event_id)
            == 1
        )

    # Same key, same partition: once the second is handled, the redelivery was too.
    await eventually(handled_again, timeout_s=60, what="the order confirmed again")
    assert await f.scalar("SELECT count(*) FROM inbox WHERE event_id = :id", id=first.event_id) == 1
    assert await f.scalar("SELECT count(*) FROM events") == 7
    assert await f.scalar("SELECT count(*) FROM events WHERE type = 'FulfilmentRequested'") == 2
    assert await f.scalar("SELECT count(*) FROM dead_letters") == 0
    assert await f.picklists("AMS") == [] and await f.picklists("BER") == []
    assert [p["fulfilment_id"] for p in await f.picklists("AMS", "packed")] == [ams]
    assert [p["fulfilment_id"] for p in await f.picklists("BER", "picked")] == [ber]
    events, records = await f.kafka.published(FULFILMENT_EVENTS, expect=7)
    assert len(events) == 7 and len(records) == 7  # nothing new was published
