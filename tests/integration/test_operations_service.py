"""The operations service against the real stack: dashboards from real contract events,
then rebuilt from zero.

The service runs in-process (a ``ServiceHost`` on the module's scratch database, under a
fresh topic prefix). The test publishes what the other services would for four orders on
the prefixed order, shipping and returns topics: one split over two warehouses,
delivered (one parcel late), partly returned and rated 2; one single-parcel order
delivered on time and rated 5; one confirmed and waiting in its warehouse; one cancelled.
One message is sent twice (a redelivery). The dashboards' figures are checked against
figures computed here from the published events. Then the read models are emptied and
a new generation of the consumers (fresh groups and inbox) reads the topics from their
beginning: the figures are the same.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_events.base import Event
from oms_events.contracts.common import Allocation, ItemCondition, ReturnedLine, SkuQuantity
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderReturnRecorded,
    OrderShipped,
)
from oms_events.contracts.returns import (
    ReturnAuthorized,
    ReturnReason,
    ReturnReceived,
    ReturnRequested,
    ReturnRequestLine,
    ReturnResolved,
)
from oms_events.contracts.shipping import ShipmentBooked, ShipmentDelivered, ShipmentDispatched
from oms_events.examples import eur, example
from oms_operations.app import create_app
from oms_operations.projections import tables
from oms_operations.settings import OperationsSettings
from oms_platform.db import create_engine
from oms_platform.service import ServiceHost
from oms_platform.settings import RetrySettings
from oms_platform.testing.kafka import TestTopics, eventually

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.date()
TEE, MUG = "TSHIRT-BLU-M", "MUG-ENAMEL-WHT"


def make(cls: type[Any], **changes: Any) -> Any:
    return cls.model_validate({**example(cls).model_dump(), **changes})


def scenario(tag: str) -> list[Event]:
    """The events of the four orders, in the order each service would publish them."""
    a, b, c, d = (f"ord-{tag}-{n}" for n in "abcd")
    tee = SkuQuantity(sku=TEE, quantity=2).model_dump()
    mug = SkuQuantity(sku=MUG, quantity=1).model_dump()

    def placed(order_id: str) -> Event:
        return make(OrderPlaced, order_id=order_id, placed_at=NOW - timedelta(hours=30))

    def confirmed(order_id: str, tee_from: str, mug_from: str) -> Event:
        return make(
            OrderConfirmed,
            order_id=order_id,
            allocations=[
                Allocation(line_id="1", sku=TEE, warehouse_id=tee_from, quantity=2).model_dump(),
                Allocation(line_id="2", sku=MUG, warehouse_id=mug_from, quantity=1).model_dump(),
            ],
        )

    def parcel(
        order_id: str,
        sid: str,
        wh: str,
        carrier: str,
        cost: str,
        lines: list[Any],
        promised_in_days: int,
        delivered_ago: timedelta,
    ) -> list[Event]:
        common = {"order_id": order_id, "shipment_id": sid, "carrier": carrier}
        at = NOW - delivered_ago
        return [
            make(
                ShipmentBooked,
                **common,
                warehouse_id=wh,
                service="standard",
                shipping_cost=eur(cost).model_dump(),
                shipping_charged=eur("4.95").model_dump(),
                promised_delivery_date=TODAY + timedelta(days=promised_in_days),
            ),
            make(
                ShipmentDispatched,
                **common,
                warehouse_id=wh,
                service="standard",
                shipping_cost=eur(cost).model_dump(),
                lines=lines,
            ),
            make(OrderShipped, **common, warehouse_id=wh, lines=lines),
            make(ShipmentDelivered, **common, delivered_at=at),
            make(OrderDelivered, **common, delivered_at=at),
        ]

    rma = f"rma-{tag}"
    return [
        placed(a),
        confirmed(a, "BER", "AMS"),
        *parcel(a, f"shp-{tag}-a1", "BER", "dhl", "5.10", [tee], -3, timedelta(days=1)),
        *parcel(a, f"shp-{tag}-a2", "AMS", "postnl", "3.85", [mug], 2, timedelta(hours=1)),
        make(
            ReturnRequested,
            return_id=rma,
            order_id=a,
            lines=[
                ReturnRequestLine(sku=TEE, quantity=1, reason=ReturnReason.WRONG_SIZE).model_dump()
            ],
        ),
        make(
            ReturnAuthorized,
            return_id=rma,
            order_id=a,
            warehouse_id="BER",
            lines=[SkuQuantity(sku=TEE, quantity=1).model_dump()],
        ),
        make(
            ReturnReceived,
            return_id=rma,
            order_id=a,
            warehouse_id="BER",
            lines=[
                ReturnedLine(sku=TEE, quantity=1, condition=ItemCondition.RESELLABLE).model_dump()
            ],
            refund_amount=eur("19.95").model_dump(),
        ),
        make(ReturnResolved, return_id=rma, order_id=a),
        make(OrderReturnRecorded, order_id=a, return_id=rma, status="partially_returned"),
        make(FeedbackReceived, order_id=a, rating=2),
        placed(b),
        confirmed(b, "BER", "BER"),
        *parcel(b, f"shp-{tag}-b", "BER", "dhl", "4.20", [tee, mug], 2, timedelta(hours=2)),
        make(FeedbackReceived, order_id=b, rating=5),
        placed(c),
        confirmed(c, "AMS", "AMS"),
        placed(d),
        make(OrderCancelled, order_id=d),
    ]


def expected(events: list[Event]) -> dict[str, Any]:
    """The dashboards' figures, counted straight from the events."""
    status: dict[str, str] = {}  # the last status each order's events gave it
    value: dict[str, Decimal] = {}
    names = {
        OrderPlaced: "placed",
        OrderConfirmed: "confirmed",
        OrderShipped: "shipped",
        OrderDelivered: "delivered",
        OrderCancelled: "cancelled",
    }
    for e in events:
        if isinstance(e, OrderPlaced):
            value[e.order_id] = sum(
                (x.unit_price.amount * x.quantity for x in e.lines), e.shipping_charge.amount
            )
        if isinstance(e, OrderReturnRecorded) and e.status is not None:
            status[e.order_id] = e.status.value
        elif type(e) in names:
            status[str(getattr(e, "order_id"))] = names[type(e)]  # noqa: B009
    dispatched = [e for e in events if isinstance(e, ShipmentDispatched)]
    booked = {e.shipment_id: e for e in events if isinstance(e, ShipmentBooked)}
    delivered = {e.shipment_id: e for e in events if isinstance(e, ShipmentDelivered)}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for s in dispatched:
        g = groups.setdefault(
            (s.carrier, s.warehouse_id),
            {"parcels": 0, "cost": Decimal(0), "late": 0, "orders": set()},
        )
        g["parcels"] += 1
        g["cost"] += s.shipping_cost.amount
        g["orders"].add(s.order_id)
        promised = booked[s.shipment_id].promised_delivery_date
        assert promised is not None
        g["late"] += delivered[s.shipment_id].delivered_at.date() > promised
    ratings = [e.rating for e in events if isinstance(e, FeedbackReceived)]
    refunds = [e.refund_amount.amount for e in events if isinstance(e, ReturnResolved)]
    return {
        "by_status": Counter(status.values()),
        "groups": groups,
        "value": value,
        "ratings": ratings,
        "returns": sum(isinstance(e, ReturnRequested) for e in events),
        "refunded": sum(refunds, Decimal(0)),
        "delivered_orders": len({e.order_id for e in events if isinstance(e, OrderDelivered)}),
    }


async def dashboards(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    got = {}
    for name in ("orders", "shipping", "returns", "satisfaction"):
        resp = await client.get(f"/v1/dashboard/{name}", params=params)
        assert resp.status_code == 200, resp.text
        got[name] = resp.json()
    return got


def check(got: dict[str, Any], want: dict[str, Any]) -> None:
    orders = got["orders"]
    assert {k: v for k, v in orders["by_status"].items() if v} == dict(want["by_status"])
    assert orders["backlog"][0]["warehouse"] == "AMS" and orders["backlog"][0]["orders"] == 1
    assert len(orders["backlog"]) == 1
    assert orders["lead_times"]["placed_to_delivered"]["orders"] == 2
    assert orders["lead_times"]["placed_to_confirmed"]["orders"] == 3
    shipping = got["shipping"]
    assert shipping["parcels"] == sum(g["parcels"] for g in want["groups"].values())
    for g in shipping["groups"]:
        w = want["groups"][(g["carrier"], g["warehouse"])]
        assert (g["parcels"], Decimal(g["cost"]), g["late"]) == (w["parcels"], w["cost"], w["late"])
        order_value = sum(want["value"][o] for o in w["orders"])
        assert Decimal(g["order_value"]) == order_value
        assert g["cost_share_of_order_value"] == round(float(w["cost"] / order_value), 4)
    returns = got["returns"]
    assert returns["returns"] == want["returns"]
    assert returns["delivered_orders"] == want["delivered_orders"]
    assert returns["by_reason"] == [
        {
            "reason": "wrong_size",
            "returns": 1,
            "units": 1,
            "rate": round(1 / want["delivered_orders"], 4),
        }
    ]
    assert [(s["sku"], s["units"], s["delivered_units"]) for s in returns["by_sku"]] == [
        (TEE, 1, 4)
    ]
    assert returns["by_condition"] == {"resellable": 1}
    assert Decimal(returns["refunded"][0]["amount"]) == want["refunded"]
    sat = got["satisfaction"]
    assert sat["ratings"] == len(want["ratings"])
    assert sat["mean_rating"] == round(sum(want["ratings"]) / len(want["ratings"]), 3)
    assert {g["kept_or_returned"]: g["mean_rating"] for g in sat["returned_vs_kept"]} == {
        "returned": 2.0,
        "kept": 5.0,
    }
    assert {g["parcels"]: g["ratings"] for g in sat["split_vs_single"]} == {"split": 1, "single": 1}
    assert {g["carrier"]: g["mean_rating"] for g in sat["by_carrier"]} == {
        "dhl": 3.5,
        "postnl": 2.0,
    }


def settings(dsn: str, topics: TestTopics, generation: int) -> OperationsSettings:
    return OperationsSettings(
        database_dsn=SecretStr(dsn),
        kafka_bootstrap=topics.bootstrap,
        topic_prefix=topics.prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
        generation=generation,
    )


async def until(client: httpx.AsyncClient, ok: Callable[[dict[str, Any]], None]) -> None:
    async def settled() -> bool:
        try:
            ok(await dashboards(client))
        except (AssertionError, KeyError, IndexError):
            return False
        return True

    await eventually(settled, timeout_s=90, what="the dashboards to show every event")
    ok(await dashboards(client))


@pytest.fixture
async def started() -> AsyncIterator[list[ServiceHost]]:
    hosts: list[ServiceHost] = []
    try:
        yield hosts
    finally:
        for host in hosts:
            await host.stop()


async def test_dashboards_count_the_events_and_a_rebuild_from_zero_gives_the_same(
    clean_db: str, topics: TestTopics, started: list[ServiceHost]
) -> None:
    events = scenario(uuid.uuid4().hex[:6])
    want = expected(events)
    sent = []
    for event in events:
        sent.append(await topics.publish(event, key=str(getattr(event, "order_id"))))  # noqa: B009
    await topics.send(sent[3])  # a redelivery of the first ShipmentDispatched

    host = create_app(settings(clean_db, topics, generation=1))
    started.append(host)
    await host.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=host.api), base_url="http://o")
    async with client:
        await until(client, lambda got: check(got, want))
        first = await dashboards(client)
        only_ams = await dashboards(client, warehouse="AMS")
        assert only_ams["shipping"]["parcels"] == 1
        assert sum(only_ams["orders"]["by_status"].values()) == 2  # the split one and c
        assert (await dashboards(client, carrier="postnl"))["satisfaction"]["ratings"] == 1
        future = (TODAY + timedelta(days=2)).isoformat()
        assert (await dashboards(client, **{"from": future}))["orders"]["total"] == 0
    await host.stop()
    started.remove(host)

    engine = create_engine(clean_db)
    await tables.truncate(engine)
    await engine.dispose()
    rebuilt = create_app(settings(clean_db, topics, generation=2))
    started.append(rebuilt)
    await rebuilt.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=rebuilt.api), base_url="http://o")
    async with client:
        await until(client, lambda got: check(got, want))
        assert await dashboards(client) == first
