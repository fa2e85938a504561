"""The shipping service against the real stack: packed parcels in, shipments out.

The service runs in-process (a ``ServiceHost`` on the module's scratch database, under
its own topic prefix). The test publishes an ``OrderPlaced`` on the prefixed order
events and a ``ParcelsPacked`` on the prefixed fulfilment events, built with the
contract classes, and reads what the relay published on the prefixed shipping events:
the booking with a valid tracking number and the real cost, then a signed carrier
webhook's delivery; a redelivered ``ParcelsPacked`` books nothing new. The carrier's
manifest lists a dispatched shipment until its delivery takes it off.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.base import Event
from oms_events.contracts import Address, OrderPlaced
from oms_events.contracts.common import SkuQuantity
from oms_events.contracts.fulfilment import PackedParcel, ParcelsPacked
from oms_events.contracts.shipping import ShippingMethod
from oms_events.envelope import Envelope
from oms_events.examples import eur, example
from oms_events.topics import SHIPPING_EVENTS
from oms_platform.settings import RetrySettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import TestTopics, eventually
from oms_platform.testing.keys import service_keys
from oms_shipping.app import create_app
from oms_shipping.directory import SqlDirectory
from oms_shipping.domain.carriers import all_services
from oms_shipping.domain.rates import Parcel, Promise, shop_rates
from oms_shipping.domain.tracking import is_valid
from oms_shipping.domain.webhooks import sign
from oms_shipping.settings import ShippingSettings

pytestmark = pytest.mark.integration

SECRETS = {"postnl": "it-postnl", "dhl": "it-dhl", "dpd": "it-dpd", "ups": "it-ups"}


@dataclass
class Running:
    engine: AsyncEngine
    client: httpx.AsyncClient
    topics: TestTopics

    async def publish(self, event: Event, *, key: str) -> Envelope:
        return await self.topics.publish(event, key=key)

    async def send(self, env: Envelope) -> None:
        await self.topics.send(env)

    async def published(self, expect: int) -> list[Envelope]:
        events, _ = await self.topics.published(SHIPPING_EVENTS, expect=expect)
        return events

    async def count(self, *types: str) -> int:
        async with self.engine.connect() as conn:
            row = await conn.execute(
                text("SELECT count(*) FROM events WHERE type = ANY(:t)"), {"t": list(types)}
            )
            return int(row.scalar_one())


@pytest.fixture
async def shipping(clean_db: str, topics: TestTopics) -> AsyncIterator[Running]:
    settings = ShippingSettings(
        **service_keys(),
        database_dsn=SecretStr(clean_db),
        **topics.kafka.settings(),
        topic_prefix=topics.prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
        **{f"webhook_secret_{c}": SecretStr(s) for c, s in SECRETS.items()},
    )
    host = create_app(settings)
    await host.start()
    transport = httpx.ASGITransport(app=host.api)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://shipping", headers=auth.headers()
        ) as client:
            yield Running(host.engine, client, topics)
    finally:
        await host.stop()


def parcels_packed(order_id: str, fulfilment_id: str, weight: int) -> ParcelsPacked:
    parcel = PackedParcel(
        parcel_id=f"{fulfilment_id}-1",
        box="BOX-M",
        lines=(SkuQuantity(sku="TSHIRT-BLU-M", quantity=2),),
        weight_grams=weight,
        packaging_cost=eur("0.95"),
    )
    return ParcelsPacked(
        fulfilment_id=fulfilment_id,
        order_id=order_id,
        warehouse_id="BER",
        parcels=(parcel,),
        packaging_cost=eur("0.95"),
    )


async def test_parcels_are_booked_dispatched_and_delivered_once(shipping: Running) -> None:
    order_id = f"ord-{uuid.uuid4().hex[:10]}"
    address = Address(
        recipient="Test Customer", line1="Rue 1", postal_code="75001", city="Paris", country="FR"
    )
    placed = example(OrderPlaced).model_copy(
        update={"order_id": order_id, "shipping_address": address}
    )
    await shipping.publish(placed, key=order_id)

    async def order_known() -> bool:  # the order topic is another topic: no order with it
        async with shipping.engine.connect() as conn:
            found = await conn.execute(
                text("SELECT 1 FROM shipping_orders WHERE order_id = :o"), {"o": order_id}
            )
            return found.first() is not None

    await eventually(order_known, timeout_s=60, what="shipping to have seen the OrderPlaced")
    packed = parcels_packed(order_id, f"ful-{order_id}", 2300)
    packed_env = await shipping.publish(packed, key=order_id)

    events = await shipping.published(expect=2)
    assert [e.type for e in events] == ["ShipmentBooked", "ShipmentDispatched"]
    booked, dispatched = (e.payload for e in events)
    assert booked["shipment_id"] == dispatched["shipment_id"] == f"ful-{order_id}-1"
    assert all(e.correlation_id == order_id for e in events)
    carrier, tracking = dispatched["carrier"], dispatched["tracking_number"]
    assert is_valid(carrier, tracking), (carrier, tracking)
    assert booked["tracking_number"] == tracking
    # The real cost: what rate shopping gives for this parcel, BER -> FR, 2.3 kg, standard,
    # ready when it was packed.
    choice = shop_rates(
        Parcel(2300, "DE", "FR", "75001"),
        Promise(ShippingMethod.STANDARD),
        packed_env.occurred_at,
        all_services(),
    )
    assert (carrier, dispatched["service"]) == (choice.chosen.carrier, "standard")
    expected_cost = choice.chosen.cost.total.model_dump(mode="json")
    assert dispatched["shipping_cost"] == booked["shipping_cost"] == expected_cost
    assert booked["shipping_charged"] == placed.shipping_charge.model_dump(mode="json")
    assert dispatched["lines"] == [{"sku": "TSHIRT-BLU-M", "quantity": 2}]
    assert dispatched["weight_grams"] == 2300 and dispatched["warehouse_id"] == "BER"

    # On the carrier's manifest, committed with the dispatch.
    listed = await manifest(shipping, carrier)
    assert [(e["shipment_id"], e["status"]) for e in listed] == [
        (f"ful-{order_id}-1", "dispatched")
    ]
    assert listed[0]["tracking_number"] == tracking and listed[0]["order_id"] == order_id

    # A carrier's signed "delivered" -> ShipmentDelivered; unsigned, nothing.
    body = json.dumps(
        {
            "update_id": "it-1",
            "tracking_number": tracking,
            "status": "delivered",
            "occurred_at": "2026-03-04T12:00:00+01:00",
        }
    ).encode()
    url = f"/v1/carriers/{carrier}/events"
    forged = await shipping.client.post(
        url, content=body, headers={"X-Carrier-Signature": "0" * 64}
    )
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_signature"
    assert await shipping.count("ShipmentDelivered") == 0
    signature = sign(SECRETS[carrier].encode(), body)
    resp = await shipping.client.post(url, content=body, headers={"X-Carrier-Signature": signature})
    assert resp.status_code == 200, resp.text
    assert resp.json()["recorded"] == ["ShipmentDelivered"]
    events = await shipping.published(expect=3)
    assert [e.type for e in events] == ["ShipmentBooked", "ShipmentDispatched", "ShipmentDelivered"]
    assert events[2].payload["tracking_number"] == tracking
    assert events[2].correlation_id == order_id
    assert f"ful-{order_id}-1" not in [e["shipment_id"] for e in await manifest(shipping, carrier)]

    # Redelivered: the same message again, and the same parcels under a new event id.
    await shipping.send(packed_env)
    await shipping.publish(packed, key=order_id)
    # Then a second fulfilment of the order on the same key (so the same partition, after
    # the redeliveries): booked, without the shipping charge, which went with the first.
    await shipping.publish(parcels_packed(order_id, f"ful2-{order_id}", 500), key=order_id)
    events = await shipping.published(expect=5)
    assert [e.type for e in events][3:] == ["ShipmentBooked", "ShipmentDispatched"]
    assert events[3].payload["shipment_id"] == f"ful2-{order_id}-1"
    assert events[3].payload["shipping_charged"]["amount"] == "0"
    second_tracking = events[4].payload["tracking_number"]
    assert is_valid(events[4].payload["carrier"], second_tracking)
    assert second_tracking != tracking
    assert await shipping.count("ShipmentBooked", "ShipmentDispatched") == 4

    async def listed() -> bool:
        view = (await shipping.client.get(f"/v1/orders/{order_id}/shipments")).json()
        return [(s["shipment_id"], s["status"]) for s in view["shipments"]] == [
            (f"ful-{order_id}-1", "delivered"),
            (f"ful2-{order_id}-1", "dispatched"),
        ]

    await eventually(listed, timeout_s=10, what="the order's two shipments")
    one = (await shipping.client.get(f"/v1/shipments/ful-{order_id}-1")).json()
    assert one["tracking_number"] == tracking and one["shipping_cost"] == expected_cost
    second = await manifest(shipping, events[4].payload["carrier"])
    assert [e["shipment_id"] for e in second] == [f"ful2-{order_id}-1"]

    # A database from before the manifest: rebuilt from the streams when the table is made.
    async with shipping.engine.begin() as conn:
        await conn.execute(text("DROP TABLE shipping_manifest"))
    await SqlDirectory(shipping.engine).create_schema()
    assert await manifest(shipping, events[4].payload["carrier"]) == second
    assert f"ful-{order_id}-1" not in [e["shipment_id"] for e in await manifest(shipping, carrier)]


async def manifest(shipping: Running, carrier: str) -> list[dict[str, Any]]:
    """The carrier's manifest entries of this test's orders (the database is the module's)."""
    resp = await shipping.client.get(f"/v1/carriers/{carrier}/manifest", params={"limit": 500})
    assert resp.status_code == 200, resp.text
    entries: list[dict[str, Any]] = resp.json()["shipments"]
    return entries
