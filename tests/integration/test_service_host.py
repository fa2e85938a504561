"""A service host runs its consumers, relay and health endpoint against the real stack."""

from __future__ import annotations

import uuid

import httpx
from pydantic import SecretStr

from oms_events.base import Event
from oms_events.codec import decode_envelope, encode_envelope
from oms_events.contracts import OrderPlaced, StockReservationFailed
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_events.topics import INVENTORY_EVENTS, ORDER_EVENTS
from oms_platform.eventstore import UnitOfWork
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer
from oms_platform.service import ServiceHost
from oms_platform.settings import ServiceSettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import eventually, read_topic
from oms_platform.testing.keys import service_keys


async def test_host_consumes_appends_and_relays_under_its_topic_prefix(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings(
        **service_keys(),
        service="inventory",
        database_dsn=SecretStr(clean_db),
        **kafka_admin.settings(),
        topic_prefix=prefix,
    )
    host = ServiceHost(settings)

    async def refuse(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        assert isinstance(event, OrderPlaced)
        failed = example(StockReservationFailed).model_copy(update={"order_id": event.order_id})
        await uow.append(
            [
                envelope_for(
                    failed,
                    stream_id=f"reservation-{event.order_id}",
                    stream_version=1,
                    correlation_id=env.correlation_id,
                    causation_id=str(env.event_id),
                    actor="service:inventory",
                    producer="inventory",
                )
            ]
        )

    host.subscribe("reserve-stock", [ORDER_EVENTS], {"OrderPlaced": refuse})
    await host.start()
    try:
        placed = envelope_for(
            example(OrderPlaced),
            stream_id="order-1",
            stream_version=1,
            correlation_id="ord-1",
            causation_id=None,
            actor="test",
            producer="order",
        )
        producer = create_producer(kafka_admin)
        await producer.start()
        await producer.send_and_wait(prefix + ORDER_EVENTS, encode_envelope(placed), key=b"ord-1")
        await producer.stop()
        [out] = await read_topic(kafka_admin, prefix + INVENTORY_EVENTS, expect=1)
        got = decode_envelope(out.value)
        assert got.type == "StockReservationFailed"
        assert got.causation_id == str(placed.event_id) and out.key == b"ord-1"

        transport = httpx.ASGITransport(app=host.api)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://host", headers=auth.headers()
        ) as client:

            async def ready() -> bool:
                resp = await client.get("/ready")
                return resp.status_code == 200 and resp.json()["relay"]["published"] == 1

            await eventually(ready, what="readiness to report the relayed event")
            assert (await client.get("/health")).json()["live"] is True
    finally:
        await host.stop()
