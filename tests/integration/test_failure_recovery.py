"""Failure paths of a service host on the real stack: dead letters replayed, the relay never
wedged by one event, readiness that turns red while the relay is blocked and green after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from oms_cli.dlq import list_entries, replay, show_entry
from oms_events.base import Event
from oms_events.codec import encode_envelope
from oms_events.contracts import OrderPlaced
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_events.topics import ORDER_EVENTS
from oms_platform.eventstore import UnitOfWork
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer
from oms_platform.service import ServiceHost
from oms_platform.settings import RetrySettings, ServiceSettings
from oms_platform.testing import auth
from oms_platform.testing.builders import envelope
from oms_platform.testing.kafka import eventually, read_topic
from oms_platform.testing.keys import service_keys

pytestmark = pytest.mark.integration


def placed(order_id: str) -> Envelope:
    event = example(OrderPlaced).model_copy(update={"order_id": order_id})
    return envelope_for(
        event,
        stream_id=f"order-{order_id}",
        stream_version=1,
        correlation_id=order_id,
        causation_id=None,
        actor="platform:web",
        producer="order",
    )


class Effects:
    """A handler with an injectable bug; each effect is one event on ``effect-<order>``."""

    def __init__(self) -> None:
        self.broken = False

    async def __call__(self, uow: UnitOfWork, env: Envelope, event: Event) -> None:
        if self.broken:
            raise ZeroDivisionError("injected bug")
        stream = f"effect-{env.correlation_id}"
        done = await uow.read_stream(stream)
        await uow.append([envelope(stream, len(done) + 1, correlation_id=env.correlation_id)])


@pytest.fixture
async def host(clean_db: str, kafka_admin: KafkaConnection) -> AsyncIterator[ServiceHost]:
    settings = ServiceSettings(
        **service_keys(),
        service="order",
        database_dsn=SecretStr(clean_db),
        **kafka_admin.settings(),
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        retry=RetrySettings(max_attempts=2, initial_backoff_s=0.01),
        ready_grace_s=1.0,
        relay_max_lag_s=1.0,
    )
    made = ServiceHost(settings)
    relay_to_test_topic(made)
    yield made
    await made.stop()


def relay_to_test_topic(host: ServiceHost) -> None:
    # The test events have no contract of their own, so no topic in the catalogue.
    assert host.relay is not None
    host.relay.topic_for = lambda env: host.topic("oms.test.relayed")


async def send(host: ServiceHost, topic: str, env: Envelope) -> None:
    producer = create_producer(host.settings.kafka)
    await producer.start()
    try:
        headers = [("event_id", str(env.event_id).encode()), ("event_type", env.type.encode())]
        await producer.send_and_wait(
            host.topic(topic),
            encode_envelope(env),
            key=env.correlation_id.encode(),
            headers=headers,
        )
    finally:
        await producer.stop()


async def effects(host: ServiceHost, order_id: str) -> int:
    return len(await host.store.read_stream(f"effect-{order_id}"))


async def test_a_dead_lettered_message_is_replayed_to_its_effect_once(
    host: ServiceHost, clean_db: str
) -> None:
    handler = Effects()
    handler.broken = True
    host.subscribe("reserve-stock", [ORDER_EVENTS], {"OrderPlaced": handler})
    await host.start()
    databases = {"order": clean_db}
    env = placed("ord-dlq-1")
    await send(host, ORDER_EVENTS, env)

    async def dead_lettered() -> bool:
        return len(await list_entries(databases)) == 1

    await eventually(dead_lettered, timeout_s=30, what="the message to be dead-lettered")
    [entry] = await list_entries(databases)
    assert entry["code"] == "handler_failed" and entry["consumer"] == "reserve-stock"
    assert "ZeroDivisionError: injected bug" in entry["reason"]
    assert entry["failure_class"] == "bug" and entry["event_id"] == str(env.event_id)
    shown = await show_entry(databases, entry["id"])
    assert bytes(shown["value"]) == encode_envelope(env)
    [copy] = await read_topic(host.settings.kafka, host.topic(ORDER_EVENTS) + ".dlq", expect=1)
    assert dict(copy.headers)["dlq.error_code"] == b"handler_failed"
    assert await effects(host, "ord-dlq-1") == 0

    handler.broken = False  # the bug is fixed
    [result] = await replay(databases, consumer="reserve-stock", wait_s=20)
    assert result == {"id": entry["id"], "outcome": "handled"}
    assert await effects(host, "ord-dlq-1") == 1
    assert await list_entries(databases) == []
    # Replaying again (or a redelivery of the original) is a no-op through the inbox.
    async with await psycopg.AsyncConnection.connect(clean_db, autocommit=True) as conn:
        await conn.execute(
            "UPDATE dead_letters SET replay_requested_at = now(), replayed_at = NULL"
        )
    [again] = await replay(databases, wait_s=20)
    assert again["outcome"] == "duplicate"
    assert await effects(host, "ord-dlq-1") == 1


async def test_an_unpublishable_event_is_parked_and_the_relay_goes_on(
    host: ServiceHost, clean_db: str
) -> None:
    await host.start()
    huge = envelope("big-1", 1, payload={"blob": "x" * 1_200_000}, correlation_id="big-1")
    after = envelope("small-1", 1, correlation_id="small-1")
    await host.store.append([huge])
    await host.store.append([after])
    records = await read_topic(
        host.settings.kafka, host.topic("oms.test.relayed"), expect=1, timeout_s=30
    )
    assert [r.key for r in records] == [b"small-1"]  # the next event went out
    [parked] = await list_entries({"order": clean_db})
    assert parked["kind"] == "parked" and "MessageSizeTooLarge" in parked["reason"]
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://host", headers=auth.headers()
    ) as client:
        resp = await client.get("/ready")
        assert resp.status_code == 503
        body = resp.json()
        assert body["dead_letters"]["parked"] == 1
        assert any("parked" in r for r in body["reasons"])
        assert (await client.get("/health")).status_code == 200


async def test_ready_is_red_while_the_relay_is_blocked_and_green_after(
    host: ServiceHost, clean_db: str
) -> None:
    await host.start()
    assert host.relay is not None
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://host", headers=auth.headers()
    ) as client:

        async def ready_is(status: int) -> bool:
            return (await client.get("/ready")).status_code == status

        await eventually(lambda: ready_is(200), timeout_s=20, what="ready at start")
        # Another relay holds the lease (e.g. a stuck standby): ours cannot publish.
        await host.stop()
        blocker = await psycopg.AsyncConnection.connect(clean_db, autocommit=True)
        try:
            await blocker.execute("SELECT pg_advisory_lock(%s)", (host.relay._lease_key,))
            blocked = ServiceHost(host.settings)
            relay_to_test_topic(blocked)
            await blocked.start()
            try:
                await blocked.store.append([envelope("o-1", 1, correlation_id="o-1")])
                transport = httpx.ASGITransport(app=blocked.api)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://b", headers=auth.headers()
                ) as bc:

                    async def lagging() -> bool:
                        resp = await bc.get("/ready")
                        return resp.status_code == 503 and resp.json()["relay"]["lag_events"] == 1

                    await eventually(lagging, timeout_s=20, what="/ready to report relay lag")
                    await blocker.execute("SELECT pg_advisory_unlock_all()")

                    async def green() -> bool:
                        resp = await bc.get("/ready")
                        return resp.status_code == 200 and resp.json()["relay"]["lag_events"] == 0

                    await eventually(green, timeout_s=20, what="/ready to turn green again")
            finally:
                await blocked.stop()
        finally:
            await blocker.close()
