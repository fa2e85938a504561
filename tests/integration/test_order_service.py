"""The order service in-process against the real stack: Kafka and HTTP in, events out.

Each test runs a fresh ServiceHost on the module's scratch database under its own topic
prefix, feeds it platform submissions and inventory/payments/fulfilment/shipping events on
the prefixed topics and talks to its HTTP API, then checks its answers and what it published.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog.testing
from pydantic import SecretStr
from sqlalchemy import text

from oms_events.base import Event
from oms_events.codec import decode_envelope, encode_envelope
from oms_events.contracts import (
    OrderSubmitted,
    PaymentAuthorized,
    PaymentDeclined,
    ShipmentDelivered,
    ShipmentDispatched,
    Shortage,
    SkuQuantity,
    StockReservationFailed,
    StockReserved,
)
from oms_events.contracts.fulfilment import (
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
    ShortPicked,
)
from oms_events.contracts.inventory import SkuRegistered
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_events.topics import (
    INVENTORY_EVENTS,
    ORDER_EVENTS,
    PLATFORM_INGRESS,
    dlq,
    topic_for,
)
from oms_order.app import create_app
from oms_order.projections.tables import rebuild_orders
from oms_order.settings import OrderSettings
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer, message_headers
from oms_platform.service import ServiceHost
from oms_platform.settings import RetrySettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import eventually, read_topic
from oms_platform.testing.keys import service_keys

pytestmark = pytest.mark.integration

SKUS = ("TSHIRT-BLU-M", "MUG-ENAMEL-WHT")


@dataclass
class Order:
    """A running order service and the means to talk to it."""

    host: ServiceHost
    client: httpx.AsyncClient
    kafka: KafkaConnection
    prefix: str
    producer: Any

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def publish(self, event: Event, *, key: str, actor: str = "service:test") -> Envelope:
        env = envelope_for(
            event,
            stream_id=f"test-{uuid.uuid4().hex[:8]}",
            stream_version=1,
            correlation_id=key,
            causation_id=None,
            actor=actor,
            producer="test",
        )
        await self.send(topic_for(env.type), encode_envelope(env), key, message_headers(env))
        return env

    async def send(
        self, topic: str, value: bytes, key: str, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        await self.producer.send_and_wait(
            self.topic(topic), value=value, key=key.encode(), headers=headers or []
        )

    async def submit_on_ingress(self, sub: OrderSubmitted) -> Envelope:
        return await self.publish(
            sub, key=sub.platform_order_ref, actor=f"platform:{sub.sales_channel}"
        )

    async def lookup(self, sub: OrderSubmitted) -> list[dict[str, Any]]:
        params = {"platform_order_ref": sub.platform_order_ref, "sales_channel": sub.sales_channel}
        resp = await self.client.get("/v1/orders", params=params)
        assert resp.status_code == 200
        found: list[dict[str, Any]] = resp.json()
        return found

    async def order_id_of(self, sub: OrderSubmitted) -> str:
        async def found() -> bool:
            return bool(await self.lookup(sub))

        await eventually(found, what=f"order {sub.platform_order_ref} to be placed")
        return str((await self.lookup(sub))[0]["order_id"])

    async def get(self, order_id: str, **params: str) -> dict[str, Any]:
        resp = await self.client.get(f"/v1/orders/{order_id}", params=params)
        assert resp.status_code == 200, resp.text
        doc: dict[str, Any] = resp.json()
        return doc

    async def wait_status(self, order_id: str, status: str) -> dict[str, Any]:
        async def reached() -> bool:
            return (await self.get(order_id))["status"] == status

        await eventually(reached, what=f"{order_id} to be {status}")
        return await self.get(order_id)

    async def published(self, topic: str, *, expect: int) -> list[Envelope]:
        records = await read_topic(self.kafka, self.topic(topic), expect=expect, timeout_s=30)
        return [decode_envelope(r.value) for r in records]


def submission(ref: str | None = None, **changes: Any) -> OrderSubmitted:
    ref = ref or f"WEB-{uuid.uuid4().hex[:8]}"
    return example(OrderSubmitted).model_copy(update={"platform_order_ref": ref, **changes})


def body(sub: OrderSubmitted) -> dict[str, Any]:
    return sub.model_dump(mode="json")


@pytest.fixture
async def order(clean_db: str, kafka_admin: KafkaConnection) -> AsyncIterator[Order]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    host = await start_host(clean_db, kafka_admin, prefix)
    producer = create_producer(kafka_admin)
    await producer.start()
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://order", headers=auth.headers()
    ) as client:
        running = Order(host, client, kafka_admin, prefix, producer)
        try:
            await register_skus(running)
            yield running
        finally:
            await producer.stop()
            await running.host.stop()


async def start_host(
    dsn: str, kafka: KafkaConnection, prefix: str, **settings_: Any
) -> ServiceHost:
    settings = OrderSettings(
        **service_keys(),
        database_dsn=SecretStr(dsn),
        **kafka.settings(),
        topic_prefix=prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
        **settings_,
    )
    host = create_app(settings)
    await host.start()
    return host


async def register_skus(order: Order) -> None:
    for sku in SKUS:
        event = example(SkuRegistered).model_copy(update={"sku": sku, "name": sku.lower()})
        await order.publish(event, key=sku, actor="service:inventory")

    async def known() -> bool:
        async with order.host.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM known_skus"))).scalar_one()
        return bool(count == len(SKUS))

    await eventually(known, what="the SKUs to be known")


async def stock_reserved(order: Order, order_id: str) -> None:
    event = example(StockReserved).model_copy(update={"order_id": order_id})
    await order.publish(event, key=order_id, actor="service:inventory")


async def payments_authorized(order: Order, order_id: str, sub: OrderSubmitted) -> None:
    for payment in sub.payments:
        event = example(PaymentAuthorized).model_copy(
            update={
                "order_id": order_id,
                "payment_id": payment.payment_id,
                "method": payment.method,
                "amount": payment.amount,
            }
        )
        await order.publish(event, key=order_id, actor="service:payments")


async def confirmed_order(order: Order) -> tuple[str, OrderSubmitted]:
    sub = submission()
    resp = await order.client.post("/v1/orders", json=body(sub))
    assert resp.status_code == 201, resp.text
    order_id = resp.json()["order_id"]
    await stock_reserved(order, order_id)
    await payments_authorized(order, order_id, sub)
    await order.wait_status(order_id, "confirmed")
    return order_id, sub


async def test_the_same_order_twice_on_ingress_and_once_over_http_is_one_order(
    order: Order,
) -> None:
    sub = submission()
    await order.submit_on_ingress(sub)
    await order.submit_on_ingress(sub)  # a second message: another event id, same order
    order_id = await order.order_id_of(sub)
    assert order_id.startswith("ord-") and len(order_id) == 16

    headers = {"Idempotency-Key": f"idem-{sub.platform_order_ref}"}
    resp = await order.client.post("/v1/orders", json=body(sub), headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["order_id"] == order_id and resp.json()["created"] is False
    again = await order.client.post("/v1/orders", json=body(sub), headers=headers)
    assert again.status_code == 200 and again.json()["order_id"] == order_id

    other = body(submission())
    reused = await order.client.post("/v1/orders", json=other, headers=headers)
    assert reused.status_code == 422
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["code"] == "idempotency_key_reused"
    assert reused.json()["existing_order_id"] == order_id
    assert order_id in reused.json()["detail"]

    await asyncio.sleep(1)  # let both ingress messages be handled before counting
    assert len(await order.lookup(sub)) == 1
    out = await order.published(ORDER_EVENTS, expect=3)
    placed = [e for e in out if e.type == "OrderPlaced"]
    assert [e.correlation_id for e in placed] == [order_id]
    assert placed[0].actor == f"platform:{sub.sales_channel}"


async def test_http_first_answers_201_then_200_with_the_same_order(order: Order) -> None:
    sub = submission()
    headers = {"Idempotency-Key": str(uuid.uuid4()), **auth.headers(subject="platform:webshop-nl")}
    first = await order.client.post("/v1/orders", json=body(sub), headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/orders/{first.json()['order_id']}"
    assert first.json()["status"] == "placed"
    repeat = await order.client.post("/v1/orders", json=body(sub))  # no key: by reference
    assert repeat.status_code == 200
    assert repeat.json()["order_id"] == first.json()["order_id"]
    await order.submit_on_ingress(sub)
    await asyncio.sleep(1)
    assert [o["order_id"] for o in await order.lookup(sub)] == [first.json()["order_id"]]


async def test_confirmed_when_stock_is_reserved_and_every_payment_authorised(
    order: Order,
) -> None:
    order_id, sub = await confirmed_order(order)
    doc = await order.get(order_id)
    assert [p["status"] for p in doc["payments"]] == ["authorized"] * len(sub.payments)
    assert len(doc["allocations"]) == len(example(StockReserved).allocations)
    assert doc["totals"]["total"] == {"amount": "57.35", "currency": "EUR"}
    out = await order.published(ORDER_EVENTS, expect=6)
    [confirmed] = [e for e in out if e.type == "OrderConfirmed"]
    assert confirmed.correlation_id == order_id
    assert confirmed.payload["shipping_address"] == body(sub)["shipping_address"]
    assert len(confirmed.payload["allocations"]) == 2


async def test_a_stock_shortage_cancels_and_the_timeline_shows_why(order: Order) -> None:
    sub = submission()
    await order.submit_on_ingress(sub)
    order_id = await order.order_id_of(sub)
    failed = StockReservationFailed(
        order_id=order_id, shortages=(Shortage(sku="MUG-ENAMEL-WHT", requested=1, available=0),)
    )
    await order.publish(failed, key=order_id, actor="service:inventory")
    doc = await order.wait_status(order_id, "cancelled")
    assert doc["cancellation"]["reason"] == "stock_unavailable"
    assert "MUG-ENAMEL-WHT: requested 1, available 0" in doc["cancellation"]["detail"]
    timeline = [(e["type"], e["actor"]) for e in doc["timeline"]]
    assert timeline == [
        ("OrderPlaced", f"platform:{sub.sales_channel}"),
        ("OrderStockRecorded", "service:inventory"),
        ("OrderCancelled", "service:order"),
    ]
    assert doc["timeline"][1]["summary"].startswith("stock unavailable")

    # a late authorisation after the cancel is recorded but changes nothing
    await payments_authorized(order, order_id, sub)

    async def recorded() -> bool:
        return len((await order.get(order_id))["timeline"]) == 3 + len(sub.payments)

    await eventually(recorded, what="late payments in the timeline")
    doc = await order.get(order_id)
    assert doc["status"] == "cancelled"
    assert doc["timeline"][-1]["type"] == "OrderPaymentRecorded"


async def test_a_declined_payment_cancels_with_the_reason(order: Order) -> None:
    sub = submission()
    resp = await order.client.post("/v1/orders", json=body(sub))
    order_id = resp.json()["order_id"]
    await stock_reserved(order, order_id)
    payment = sub.payments[1]
    declined = example(PaymentDeclined).model_copy(
        update={"order_id": order_id, "payment_id": payment.payment_id, "amount": payment.amount}
    )
    await order.publish(declined, key=order_id, actor="service:payments")
    doc = await order.wait_status(order_id, "cancelled")
    assert doc["cancellation"]["reason"] == "payment_declined"
    assert payment.payment_id in doc["cancellation"]["detail"]
    assert "authentication_failed" in doc["cancellation"]["detail"]
    assert {p["payment_id"]: p["status"] for p in doc["payments"]}[payment.payment_id] == (
        "declined"
    )
    out = await order.published(ORDER_EVENTS, expect=5)
    [cancelled] = [e for e in out if e.type == "OrderCancelled"]
    assert cancelled.payload["reason"] == "payment_declined"
    assert cancelled.causation_id == str(
        next(e for e in out if e.type == "OrderPaymentRecorded").causation_id
    )


async def test_customer_service_cancels_but_not_twice_and_not_after_shipping(
    order: Order,
) -> None:
    sub = submission()
    placed = await order.client.post("/v1/orders", json=body(sub))
    order_id = placed.json()["order_id"]  # still placed: cancelled at once
    cancel = {"reason": "customer_request", "detail": "changed their mind"}
    resp = await order.client.post(
        f"/v1/orders/{order_id}/cancel", json=cancel, headers=auth.headers(subject="staff:alice")
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "cancelled"
    assert resp.json()["cancellation"]["actor"] == "staff:alice"
    assert resp.json()["cancellation"]["cancelled_by"] == "staff"
    twice = await order.client.post(f"/v1/orders/{order_id}/cancel", json=cancel)
    assert twice.status_code == 409 and "already cancelled" in twice.json()["detail"]

    shipped_id, _ = await confirmed_order(order)
    dispatched = example(ShipmentDispatched).model_copy(update={"order_id": shipped_id})
    await order.publish(dispatched, key=shipped_id, actor="service:shipping")
    await order.wait_status(shipped_id, "shipped")
    refused = await order.client.post(
        f"/v1/orders/{shipped_id}/cancel", json=cancel, headers=auth.headers(subject="staff:bob")
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "cancellation_refused"
    assert "shipped" in refused.json()["detail"]
    assert (await order.get(shipped_id))["status"] == "shipped"

    missing = await order.client.post("/v1/orders/ord-000000000000/cancel", json=cancel)
    assert missing.status_code == 404 and missing.json()["code"] == "order_not_found"
    bad = await order.client.post(f"/v1/orders/{shipped_id}/cancel", json={"reason": "bored"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"

    # placed + key claim + cancel; six to confirmed + shipped
    out = await order.published(ORDER_EVENTS, expect=10)
    cancels = [e for e in out if e.type == "OrderCancelled"]
    assert [(e.correlation_id, e.actor) for e in cancels] == [(order_id, "staff:alice")]


async def request_cancellation(order: Order, order_id: str) -> dict[str, Any]:
    cancel = {"reason": "customer_request", "detail": "ordered twice"}
    resp = await order.client.post(
        f"/v1/orders/{order_id}/cancel", json=cancel, headers=auth.headers(subject="staff:carol")
    )
    assert resp.status_code == 202, resp.text
    doc: dict[str, Any] = resp.json()
    assert doc["status"] == "confirmed" and doc["cancellation"]["status"] == "requested"
    again = await order.client.post(f"/v1/orders/{order_id}/cancel", json=cancel)
    assert again.status_code == 202
    return doc


async def test_a_confirmed_order_is_cancelled_once_fulfilment_accepts_the_request(
    order: Order,
) -> None:
    order_id, _ = await confirmed_order(order)
    await request_cancellation(order, order_id)
    [requested] = [
        e
        for e in await order.published(ORDER_EVENTS, expect=7)
        if e.type == "OrderCancellationRequested"
    ]
    assert requested.correlation_id == order_id and requested.actor == "staff:carol"
    assert requested.payload["detail"] == "ordered twice"

    accepted = FulfilmentCancellationAccepted(order_id=order_id, fulfilment_ids=("ful-1",))
    await order.publish(accepted, key=order_id, actor="service:fulfilment")
    doc = await order.wait_status(order_id, "cancelled")
    assert doc["cancellation"]["status"] == "cancelled"
    assert doc["cancellation"]["actor"] == "staff:carol"
    assert doc["cancellation"]["detail"] == "ordered twice"
    out = await order.published(ORDER_EVENTS, expect=8)
    [cancelled] = [e for e in out if e.type == "OrderCancelled"]
    assert cancelled.payload["reason"] == "customer_request"
    assert cancelled.payload["cancelled_by"] == "staff"
    assert [e.type for e in out].count("OrderCancellationRequested") == 1


async def test_a_refused_cancellation_request_leaves_the_order_confirmed(order: Order) -> None:
    order_id, _ = await confirmed_order(order)
    await request_cancellation(order, order_id)
    refused = FulfilmentCancellationRefused(
        order_id=order_id, reason="fulfilment ful-1 is already packed", packed=("ful-1",)
    )
    await order.publish(refused, key=order_id, actor="service:fulfilment")

    async def answered() -> bool:
        return (await order.get(order_id))["cancellation"]["status"] == "refused"

    await eventually(answered, what="the refusal to be recorded")
    doc = await order.get(order_id)
    assert doc["status"] == "confirmed"
    assert doc["cancellation"]["refusal_reason"] == "fulfilment ful-1 is already packed"
    again = await order.client.post(f"/v1/orders/{order_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "cancellation_refused"
    out = await order.published(ORDER_EVENTS, expect=8)
    assert [e.type for e in out][-2:] == ["OrderCancellationRequested", "OrderCancellationRefused"]
    assert not [e for e in out if e.type == "OrderCancelled"]


async def test_a_short_pick_is_recorded_and_the_rest_delivered_delivers_the_order(
    order: Order,
) -> None:
    order_id, _ = await confirmed_order(order)
    mug = SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1)
    short = ShortPicked(
        fulfilment_id="ful-1", order_id=order_id, warehouse_id="wh-ams-1", missing=(mug,)
    )
    await order.publish(short, key=order_id, actor="service:fulfilment")
    await order.publish(short, key=order_id, actor="service:fulfilment")  # a redelivery

    async def recorded() -> bool:
        return bool((await order.get(order_id))["short_shipments"])

    await eventually(recorded, what="the short pick to be recorded")
    tshirts = SkuQuantity(sku="TSHIRT-BLU-M", quantity=2)
    dispatched = example(ShipmentDispatched).model_copy(
        update={"order_id": order_id, "lines": (tshirts,)}
    )
    await order.publish(dispatched, key=order_id, actor="service:shipping")
    arrived = example(ShipmentDelivered).model_copy(update={"order_id": order_id})
    await order.publish(arrived, key=order_id, actor="service:shipping")
    doc = await order.wait_status(order_id, "delivered")
    assert [line["short_shipped"] for line in doc["lines"]] == [
        None,
        {"quantity": 1, "remedy": "refund"},
    ]
    assert doc["shipments"][0]["delivered"] is True
    out = await order.published(ORDER_EVENTS, expect=9)
    shorts = [e for e in out if e.type == "OrderShortShipped"]
    assert len(shorts) == 1 and shorts[0].payload["remedy"] == "refund"
    assert shorts[0].actor == "service:fulfilment"
    assert shorts[0].payload["missing"] == [{"sku": "MUG-ENAMEL-WHT", "quantity": 1}]


async def test_feedback_only_after_delivery_and_once(order: Order) -> None:
    order_id, _ = await confirmed_order(order)
    early = await order.client.post(f"/v1/orders/{order_id}/feedback", json={"rating": 5})
    assert early.status_code == 409 and early.json()["code"] == "feedback_not_allowed"
    assert early.headers["content-type"].startswith("application/problem+json")
    dispatched = example(ShipmentDispatched).model_copy(update={"order_id": order_id})
    await order.publish(dispatched, key=order_id, actor="service:shipping")
    arrived = example(ShipmentDelivered).model_copy(update={"order_id": order_id})
    await order.publish(arrived, key=order_id, actor="service:shipping")
    await order.wait_status(order_id, "delivered")

    bad = await order.client.post(f"/v1/orders/{order_id}/feedback", json={"rating": "5"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rating"
    given = await order.client.post(
        f"/v1/orders/{order_id}/feedback",
        json={"rating": 5, "comment": "arrived a day early"},
        headers=auth.headers(subject="customer:cus-778"),
    )
    assert given.status_code == 201, given.text
    assert given.json()["feedback"]["rating"] == 5
    twice = await order.client.post(f"/v1/orders/{order_id}/feedback", json={"rating": 1})
    assert twice.status_code == 409 and twice.json()["code"] == "feedback_exists"
    out = await order.published(ORDER_EVENTS, expect=9)
    [feedback] = [e for e in out if e.type == "FeedbackReceived"]
    assert feedback.actor == "customer:cus-778"
    assert feedback.payload == {
        "order_id": order_id,
        "rating": 5,
        "comment": "arrived a day early",
    }


async def test_as_of_shows_the_order_as_it_was(order: Order) -> None:
    sub = submission()
    resp = await order.client.post("/v1/orders", json=body(sub))
    order_id = resp.json()["order_id"]
    before = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await stock_reserved(order, order_id)
    await payments_authorized(order, order_id, sub)
    await order.wait_status(order_id, "confirmed")

    then = await order.get(order_id, as_of=before.isoformat())
    assert then["status"] == "placed" and then["allocations"] == []
    assert [e["type"] for e in then["timeline"]] == ["OrderPlaced"]
    assert then["as_of"] == before.isoformat()
    now = await order.get(order_id, as_of=datetime.now(UTC).isoformat())
    assert now["status"] == "confirmed"

    early = await order.client.get(f"/v1/orders/{order_id}", params={"as_of": "2000-01-01"})
    assert early.status_code == 404 and "did not exist yet" in early.json()["detail"]
    bad = await order.client.get(f"/v1/orders/{order_id}", params={"as_of": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query:as_of"
    unknown = await order.client.get("/v1/orders/ord-unknown")
    assert unknown.status_code == 404 and "ord-unknown" in unknown.json()["detail"]


async def test_malformed_input_over_http_gets_each_bad_field(order: Order) -> None:
    bad = body(submission())
    bad["lines"][0]["quantity"] = 0
    bad["shipping_address"]["country"] = "Netherlands"
    del bad["customer"]
    resp = await order.client.post("/v1/orders", json=bad)
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert fields == {"lines[0].quantity", "shipping_address.country", "customer"}

    not_json = await order.client.post("/v1/orders", content=b"{nope")
    assert not_json.status_code == 422 and not_json.json()["errors"][0]["field"] == "body"

    bad_key = await order.client.post(
        "/v1/orders", json=body(submission()), headers={"Idempotency-Key": "has spaces"}
    )
    assert bad_key.status_code == 422

    empty = body(submission("WEB-EMPTY"))
    empty["lines"] = []
    resp = await order.client.post("/v1/orders", json=empty)
    assert resp.status_code == 422
    assert resp.json()["code"] == "order_rejected"
    assert resp.json()["reasons"] == [{"code": "invalid_order", "detail": "the order has no lines"}]

    unknown_sku = submission("WEB-UNKNOWN-SKU")
    line = unknown_sku.lines[0].model_copy(update={"sku": "POSTER-A2"})
    unknown_sku = unknown_sku.model_copy(update={"lines": (line, *unknown_sku.lines[1:])})
    resp = await order.client.post("/v1/orders", json=body(unknown_sku))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "lines[0].sku"
    assert resp.json()["reasons"][0]["code"] == "unknown_sku"

    out = await order.published(ORDER_EVENTS, expect=2)
    rejected = {
        e.payload["platform_order_ref"]: e.payload for e in out if e.type == "OrderRejected"
    }
    assert rejected["WEB-EMPTY"]["reasons"][0]["code"] == "invalid_order"
    assert "POSTER-A2" in rejected["WEB-UNKNOWN-SKU"]["reasons"][0]["detail"]
    assert not [e for e in out if e.type == "OrderPlaced"]
    params = {"platform_order_ref": "WEB-UNKNOWN-SKU", "sales_channel": unknown_sku.sales_channel}
    [recorded] = (await order.client.get("/v1/rejections", params=params)).json()
    assert recorded["reasons"][0]["code"] == "unknown_sku"


async def test_malformed_input_on_ingress_is_dead_lettered_or_rejected(order: Order) -> None:
    await order.send(PLATFORM_INGRESS, b"not an envelope", "garbage")
    invalid = envelope_for(
        submission(),
        stream_id="platform-x",
        stream_version=1,
        correlation_id="WEB-BAD",
        causation_id=None,
        actor="platform:webshop-nl",
        producer="platform",
    )
    payload = dict(invalid.payload, lines=[dict(invalid.payload["lines"][0], quantity=0)])
    invalid = invalid.model_copy(update={"payload": payload})
    await order.send(PLATFORM_INGRESS, encode_envelope(invalid), "WEB-BAD")

    line = submission().lines[0].model_copy(update={"sku": "POSTER-A2"})
    unknown = submission("WEB-INGRESS-UNKNOWN", lines=(line,))
    await order.submit_on_ingress(unknown)
    # a fact about an order the service never placed is not silently dropped either
    await stock_reserved(order, "ord-nobody")

    dead = await read_topic(order.kafka, order.topic(dlq(PLATFORM_INGRESS)), expect=2, timeout_s=30)
    reasons = {r.key: {k: v.decode() for k, v in r.headers if k.startswith("dlq.")} for r in dead}
    assert reasons[b"garbage"]["dlq.error_code"] == "malformed_message"
    assert reasons[b"WEB-BAD"]["dlq.error_code"] == "contract_violation"
    assert "quantity" in reasons[b"WEB-BAD"]["dlq.reason"]
    assert reasons[b"WEB-BAD"]["dlq.original_topic"] == order.topic(PLATFORM_INGRESS)

    out = await order.published(ORDER_EVENTS, expect=1)
    [rejected] = [e for e in out if e.type == "OrderRejected"]
    assert rejected.payload["platform_order_ref"] == "WEB-INGRESS-UNKNOWN"
    assert rejected.payload["reasons"][0]["code"] == "unknown_sku"

    facts = await read_topic(
        order.kafka, order.topic(dlq(INVENTORY_EVENTS)), expect=1, timeout_s=30
    )
    headers = {k: v.decode() for k, v in facts[0].headers}
    assert headers["dlq.error_code"] == "order_not_found"
    assert "there is no order ord-nobody" in headers["dlq.reason"]


async def test_orders_reach_a_final_state_across_a_restart(order: Order) -> None:
    subs = [submission() for _ in range(8)]
    for sub in subs:
        await order.submit_on_ingress(sub)
    ids = [await order.order_id_of(sub) for sub in subs]
    # half the facts now, the other half while the service is down
    for order_id, sub in zip(ids[:4], subs[:4], strict=True):
        await stock_reserved(order, order_id)
        await payments_authorized(order, order_id, sub)
    await order.host.stop()
    for order_id, sub in zip(ids[4:], subs[4:], strict=True):
        await stock_reserved(order, order_id)
        await payments_authorized(order, order_id, sub)
    dsn = order.host.settings.database_dsn.get_secret_value()
    order.host = await start_host(dsn, order.kafka, order.prefix)
    order.client._transport = httpx.ASGITransport(app=order.host.api)
    for order_id in ids:
        await order.wait_status(order_id, "confirmed")
    out = await order.published(ORDER_EVENTS, expect=len(ids) * 5)
    confirmed = [e.correlation_id for e in out if e.type == "OrderConfirmed"]
    assert sorted(set(confirmed)) == sorted(ids)
    assert len(confirmed) == len(ids)  # each order confirmed exactly once


async def test_concurrent_submissions_of_one_order_create_it_once(order: Order) -> None:
    sub = submission()
    results = await asyncio.gather(
        *(order.client.post("/v1/orders", json=body(sub)) for _ in range(6)),
        order.submit_on_ingress(sub),
    )
    answers = [r for r in results if isinstance(r, httpx.Response)]
    assert sorted(r.status_code for r in answers) == [200] * 5 + [201]
    assert len({r.json()["order_id"] for r in answers}) == 1
    await asyncio.sleep(1)
    assert len(await order.lookup(sub)) == 1


async def test_the_orders_table_is_rebuilt_from_the_order_streams(order: Order) -> None:
    order_id, sub = await confirmed_order(order)
    other = submission()
    await order.client.post("/v1/orders", json=body(other))
    async with order.host.engine.begin() as conn:
        await conn.execute(text("UPDATE orders SET status = 'garbage'"))
    assert order.host.pg is not None
    assert await rebuild_orders(order.host.pg) == 2
    assert [o["status"] for o in await order.lookup(sub)] == ["confirmed"]
    assert [o["status"] for o in await order.lookup(other)] == ["placed"]
    listed = await order.client.get("/v1/orders", params={"status": "confirmed"})
    assert [o["order_id"] for o in listed.json()] == [order_id]
    bad = await order.client.get("/v1/orders", params={"colour": "red"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query:colour"


async def test_orders_waiting_too_long_are_reported_as_stalled(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    host = await start_host(
        clean_db,
        kafka_admin,
        f"t{uuid.uuid4().hex[:8]}.",
        check_skus=False,
        stall_after_s=1.5,
        stall_check_s=0.1,
    )
    transport = httpx.ASGITransport(app=host.api)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://order", headers=auth.headers()
        ) as client:
            with structlog.testing.capture_logs() as logs:
                waiting = (await client.post("/v1/orders", json=body(submission()))).json()
                done = (await client.post("/v1/orders", json=body(submission()))).json()
                cancel = await client.post(f"/v1/orders/{done['order_id']}/cancel")
                assert cancel.status_code == 200, cancel.text
                early = await client.get("/v1/orders", params={"stalled": "true"})
                assert early.json() == []  # not waiting long enough yet

                async def stalled() -> bool:
                    resp = await client.get("/v1/orders", params={"stalled": "true"})
                    return [o["order_id"] for o in resp.json()] == [waiting["order_id"]]

                await eventually(stalled, what="the waiting order to be reported as stalled")

                async def logged() -> bool:
                    return any(e["event"] == "order.stalled" for e in logs)

                await eventually(logged, what="an order.stalled warning")
                await asyncio.sleep(0.5)  # several more checks, no second line within a minute
            not_stalled = await client.get("/v1/orders", params={"stalled": "false"})
            assert [o["order_id"] for o in not_stalled.json()] == [done["order_id"]]
            ready = (await client.get("/ready")).json()
    finally:
        await host.stop()
    [line] = [e for e in logs if e["event"] == "order.stalled"]
    assert line["log_level"] == "warning"
    assert line["count"] == 1 and line["oldest"] == [waiting["order_id"]]
    assert ready["stalled_orders"]["stalled"] == 1
    assert ready["stalled_orders"]["oldest"] == [waiting["order_id"]]
    assert ready["stalled_orders"]["oldest_waiting_s"] >= 1.5
    assert not any("stalled" in reason for reason in ready["reasons"])
