"""``/metrics`` of service hosts on the real stack: what they handled, dead-lettered,
relayed and still have to do, as Prometheus parses it, equal to what really happened."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text

from oms_events.base import Event
from oms_events.codec import encode_envelope
from oms_events.contracts import (
    OrderPlaced,
    OrderSubmitted,
    StockReservationFailed,
    StockReserved,
)
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_events.topics import INVENTORY_EVENTS, ORDER_EVENTS, PLATFORM_INGRESS
from oms_order.app import create_app
from oms_order.settings import OrderSettings
from oms_platform.eventstore import UnitOfWork
from oms_platform.kafka_client import KafkaConnection
from oms_platform.projection import DocumentProjection
from oms_platform.relay import create_producer, message_headers
from oms_platform.service import ServiceHost
from oms_platform.settings import ServiceSettings
from oms_platform.testing import auth
from oms_platform.testing.builders import envelope
from oms_platform.testing.kafka import eventually
from oms_platform.testing.keys import service_keys

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(host: ServiceHost) -> Samples:
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://host", headers=auth.headers()
    ) as client:
        resp = await client.get("/metrics")
    assert resp.status_code == 200, resp.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the series whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, pairs), v in samples.items() if n == name and wanted <= pairs)


def placed(order_id: str) -> Envelope:
    return envelope_for(
        example(OrderPlaced).model_copy(update={"order_id": order_id}),
        stream_id=f"order-{order_id}",
        stream_version=1,
        correlation_id=order_id,
        causation_id=None,
        actor="platform:web",
        producer="order",
    )


@pytest.fixture
async def inventory(
    clean_db: str, kafka_admin: KafkaConnection
) -> AsyncIterator[tuple[ServiceHost, str]]:
    """An inventory-like host whose consumer ``reserve-stock`` reserves (appends one event)
    per OrderPlaced, and waits while ``host.api.state.gate`` is clear."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings(
        service="inventory",
        database_dsn=SecretStr(clean_db),
        **kafka_admin.settings(),
        topic_prefix=prefix,
        topic_partitions=2,
        **service_keys(),
    )
    host = ServiceHost(settings)
    gate = asyncio.Event()
    gate.set()
    host.api.state.gate = gate

    async def reserve(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, OrderPlaced)
        await gate.wait()
        reserved = example(StockReserved).model_copy(update={"order_id": event.order_id})
        await uow.append(
            [
                envelope_for(
                    reserved,
                    stream_id=f"reservation-{event.order_id}",
                    stream_version=1,
                    correlation_id=env.correlation_id,
                    causation_id=str(env.event_id),
                    actor="service:inventory",
                    producer="inventory",
                )
            ]
        )

    async def count(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        return None

    host.subscribe("reserve-stock", [ORDER_EVENTS], {"OrderPlaced": reserve})
    # A second consumer of the same topic, never held: its lag is its own.
    host.subscribe("count-orders", [ORDER_EVENTS], {"OrderPlaced": count})
    await host.start()
    try:
        yield host, prefix
    finally:
        gate.set()
        await host.stop()


async def test_handled_dead_lettered_relayed_and_lag_match_what_happened(
    inventory: tuple[ServiceHost, str],
) -> None:
    host, prefix = inventory
    gate: asyncio.Event = host.api.state.gate
    producer = create_producer(host.settings.kafka)
    await producer.start()
    topic = prefix + ORDER_EVENTS

    async def send(env: Envelope) -> int:
        sent = await producer.send_and_wait(
            topic, encode_envelope(env), key=b"ord-1", headers=message_headers(env)
        )
        return int(sent.partition)

    mine = {"consumer": "reserve-stock"}
    try:
        first = placed("ord-1")
        partition = await send(first)
        await send(first)  # a redelivery: the inbox makes it a duplicate
        await producer.send_and_wait(topic, b"{not an envelope", key=b"ord-1")

        async def caught_up() -> bool:
            s = await scrape(host)
            return (
                total(s, "oms_consumer_events_total", outcome="handled", **mine) == 1
                and total(s, "oms_consumer_events_total", outcome="dead_lettered", **mine) == 1
                and total(s, "oms_relay_published_total") == 1
            )

        await eventually(caught_up, what="the first order handled, the bytes dead-lettered")
        s = await scrape(host)
        assert total(s, "oms_consumer_events_total", outcome="duplicate", **mine) == 1
        assert total(s, "oms_dead_letters_total", code="malformed_message", **mine) == 1
        assert total(s, "oms_dead_letters_waiting", code="malformed_message", **mine) == 1
        assert total(s, "oms_relay_backlog_events") == 0
        assert total(s, "oms_relay_lag_seconds") == 0
        assert total(s, "oms_parked_events") == 0
        assert total(s, "oms_consumer_lag", **mine) == 0
        assert host.consumers is not None
        assert (await host.consumers.lag())["reserve-stock"] == 0

        # Four more orders on the same key (one partition) while the handler is held: the
        # lag of that partition is exactly what waits, then drains to 0.
        gate.clear()
        for n in range(2, 6):
            assert await send(placed(f"ord-{n}")) == partition
        waiting = {**mine, "topic": topic, "partition": str(partition)}

        theirs = {**waiting, "consumer": "count-orders"}

        async def four_waiting() -> bool:
            found = await scrape(host)
            return (
                total(found, "oms_consumer_lag", **waiting) == 4
                and ("oms_consumer_lag", frozenset(theirs.items())) in found
                and total(found, "oms_consumer_lag", **theirs) == 0
                and total(
                    found, "oms_consumer_events_total", outcome="handled", consumer="count-orders"
                )
                == 5
            )

        await eventually(four_waiting, what="a lag of 4 on the order's partition")
        assert host.consumers is not None
        runtime = host.consumers

        async def runtime_agrees() -> bool:
            asked = await runtime.partition_lag(ask_broker=True)
            return asked.get(("reserve-stock", topic, partition)) == 4

        await eventually(runtime_agrees, what="the runtime's own figure to say 4 too")
        asked = await runtime.partition_lag(ask_broker=True)
        assert asked.pop(("reserve-stock", topic, partition)) == 4
        assert asked.pop(("count-orders", topic, partition)) == 0
        assert set(asked.values()) <= {0}  # the other partition, for both
        gate.set()

        async def drained() -> bool:
            found = await scrape(host)
            return (
                total(found, "oms_consumer_lag", **mine) == 0
                and total(found, "oms_consumer_events_total", outcome="handled", **mine) == 5
                and total(found, "oms_relay_published_total") == 5
            )

        await eventually(drained, what="the held orders handled and relayed")
        # The HTTP counter saw these scrapes, under the route template.
        s = await scrape(host)
        assert total(s, "oms_http_requests_total", route="/metrics", status="200") >= 3
    finally:
        await producer.stop()


async def test_orders_by_status_come_from_the_order_service_table(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = OrderSettings(
        database_dsn=SecretStr(clean_db),
        **kafka_admin.settings(),
        topic_prefix=prefix,
        check_skus=False,
        **service_keys(),
    )
    host = create_app(settings)
    await host.start()
    producer = create_producer(settings.kafka)
    await producer.start()
    try:
        before = await scrape(host)
        assert total(before, "oms_orders", status="placed") == 0
        assert ("oms_orders", frozenset({("status", "delivered")})) in before  # 0, not absent

        refs = [f"WEB-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        for ref in refs:
            sub = example(OrderSubmitted).model_copy(update={"platform_order_ref": ref})
            env = envelope_for(
                sub,
                stream_id=f"submission-{ref}",
                stream_version=1,
                correlation_id=ref,
                causation_id=None,
                actor="platform:web",
                producer="platform",
            )
            await producer.send_and_wait(
                prefix + PLATFORM_INGRESS,
                encode_envelope(env),
                key=ref.encode(),
                headers=message_headers(env),
            )

        async def three_placed() -> bool:
            return total(await scrape(host), "oms_orders", status="placed") == 3

        await eventually(three_placed, what="three orders placed")
        order_id = await _any_order_id(host)
        failed = example(StockReservationFailed).model_copy(update={"order_id": order_id})
        env = envelope_for(
            failed,
            stream_id=f"reservation-{order_id}",
            stream_version=1,
            correlation_id=order_id,
            causation_id=None,
            actor="service:inventory",
            producer="inventory",
        )
        await producer.send_and_wait(
            prefix + INVENTORY_EVENTS,
            encode_envelope(env),
            key=order_id.encode(),
            headers=message_headers(env),
        )

        async def one_cancelled() -> bool:
            s = await scrape(host)
            return (
                total(s, "oms_orders", status="cancelled") == 1
                and total(s, "oms_orders", status="placed") == 2
            )

        await eventually(one_cancelled, what="the order short of stock cancelled")
    finally:
        await producer.stop()
        await host.stop()


async def _any_order_id(host: ServiceHost) -> str:
    async with host.engine.connect() as conn:
        found = (await conn.execute(text("SELECT order_id FROM orders LIMIT 1"))).scalar_one()
    return str(found)


async def test_a_parked_event_shows_on_metrics_and_the_relay_goes_on(
    inventory: tuple[ServiceHost, str],
) -> None:
    host, _ = inventory
    huge = envelope("reservation-big", 1, type="StockReserved", payload={"blob": "x" * 1_200_000})
    await host.store.append([huge])
    await host.store.append([envelope("reservation-small", 1, type="StockReserved")])

    async def parked() -> bool:
        s = await scrape(host)
        return total(s, "oms_relay_parked_total") == 1 and total(s, "oms_parked_events") == 1

    await eventually(parked, what="the huge event parked")
    s = await scrape(host)
    assert total(s, "oms_relay_published_total") == 1  # the next one went out
    assert total(s, "oms_relay_backlog_events") == 0


async def test_relay_and_projection_backlogs_before_and_after_start(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    settings = ServiceSettings(
        service="inventory",
        database_dsn=SecretStr(clean_db),
        **kafka_admin.settings(),
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        **service_keys(),
    )
    host = ServiceHost(settings)
    counted = DocumentProjection(
        "reservations", key=lambda env: env.stream_id, project=lambda doc, env: {"seen": 1}
    )
    host.add_projection(counted)
    assert host.pg is not None
    await host.pg.create_schema()
    for n in range(3):
        await host.store.append([envelope(f"reservation-{n}", 1, type="StockReserved")])
    await asyncio.sleep(0.05)

    # Not started: everything committed waits, for the relay and for the projection.
    s = await scrape(host)
    assert total(s, "oms_relay_backlog_events") == 3
    assert total(s, "oms_relay_lag_seconds") > 0
    assert total(s, "oms_projection_backlog_events", projection="reservations") == 3
    assert total(s, "oms_projection_lag_seconds", projection="reservations") > 0
    assert total(s, "oms_projection_applied_total", projection="reservations") == 0

    await host.start()
    try:

        async def caught_up() -> bool:
            s = await scrape(host)
            return (
                total(s, "oms_relay_backlog_events") == 0
                and total(s, "oms_projection_backlog_events", projection="reservations") == 0
            )

        await eventually(caught_up, what="relay and projection to catch up")
        s = await scrape(host)
        assert total(s, "oms_projection_applied_total", projection="reservations") == 3
        assert total(s, "oms_projection_lag_seconds", projection="reservations") == 0
        assert total(s, "oms_relay_published_total") == 3
        assert total(s, "oms_relay_lag_seconds") == 0
    finally:
        await host.stop()
