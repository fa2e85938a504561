"""The stack's broker lets each Kafka user do what ``oms_platform.access`` grants, no more.

Against the broker ``oms up`` started (SASL/SCRAM-SHA-512, the ACLs it applied), with the
users and passwords it made. The topics are the real ones (ACLs name them literally), so
what gets through must not disturb the services running on them: a probe that lands is
not an envelope and its ``event_type`` header names a type no consumer of that topic
handles, which every consumer skips from the header (a contract test keeps it so:
``tests/contract/test_kafka_access.py``). The forged payment is never let through.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from oms_cli import kafka
from oms_cli.config import StackConfig
from oms_events.codec import encode_envelope
from oms_events.contracts import PaymentAuthorized
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_events.topics import (
    ALL_TOPICS,
    FULFILMENT_EVENTS,
    INVENTORY_EVENTS,
    ORDER_EVENTS,
    PAYMENTS_EVENTS,
    PLATFORM_INGRESS,
    dlq,
)
from oms_platform.access import (
    ACCESS,
    AUDIT_ANCHORS,
    PLATFORM,
    Operation,
    ResourceType,
    kafka_user,
)
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer, message_headers
from oms_platform.testing.kafka import ACL_PROBE_TYPE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured(stack: StackConfig) -> StackConfig:
    assert kafka.secured(stack), (
        "the stack's broker was started without SASL: run `oms down && oms up` once"
    )
    return stack


def login(stack: StackConfig, principal: str) -> KafkaConnection:
    return kafka.connection(stack, kafka_user(principal))


async def produce(conn: KafkaConnection, topic: str, value: bytes = b"acl probe", **kw: Any) -> int:
    """Send one message and wait for the broker's answer; its offset."""
    producer = create_producer(conn, request_timeout_ms=10_000)
    try:
        await producer.start()
        headers = kw.pop("headers", [("event_type", ACL_PROBE_TYPE.encode())])
        meta = await producer.send_and_wait(topic, value, headers=headers, **kw)
        return int(meta.offset)
    finally:
        await producer.stop()


async def fetch(conn: KafkaConnection, topic: str, group: str) -> int:
    """Join ``group`` on ``topic`` and fetch once from the beginning: records fetched."""
    consumer = AIOKafkaConsumer(
        topic,
        **conn.options(),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=500)
            if batches:
                return sum(len(b) for b in batches.values())
        return 0
    finally:
        await consumer.stop()


async def test_an_unauthenticated_client_is_refused(secured: StackConfig) -> None:
    with pytest.raises(KafkaConnectionError):
        await produce(KafkaConnection(secured.kafka_bootstrap), INVENTORY_EVENTS)


async def test_a_wrong_password_is_refused_and_the_right_one_accepted(
    secured: StackConfig,
) -> None:
    good = login(secured, "inventory")
    assert good.username is not None and good.password is not None
    wrong = KafkaConnection(good.bootstrap, good.username, SecretStr("not-the-password"))
    # One connection, to see the broker's answer (a client retries and then gives up).
    with pytest.raises(SaslAuthenticationFailed):
        await create_conn(secured.host, secured.kafka_port, **sasl_options(wrong))
    with pytest.raises(KafkaConnectionError):
        await produce(wrong, INVENTORY_EVENTS)
    conn = await create_conn(secured.host, secured.kafka_port, **sasl_options(good))
    try:
        assert conn.connected()
    finally:
        conn.close()


def sasl_options(conn: KafkaConnection) -> dict[str, Any]:
    options = conn.options()
    del options["bootstrap_servers"]
    return options


async def test_a_service_writes_its_own_topic_and_not_another_services(
    secured: StackConfig,
) -> None:
    inventory = login(secured, "inventory")
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(inventory, ORDER_EVENTS)
    assert await produce(inventory, INVENTORY_EVENTS) >= 0


async def test_the_platform_may_write_the_ingress_topic_only(secured: StackConfig) -> None:
    platform = login(secured, PLATFORM)
    assert await produce(platform, PLATFORM_INGRESS) >= 0
    for topic in [*ALL_TOPICS, AUDIT_ANCHORS, dlq(PLATFORM_INGRESS)]:
        if topic == PLATFORM_INGRESS:
            continue
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(platform, topic)


async def test_a_service_reads_only_the_topics_it_consumes_in_its_own_groups(
    secured: StackConfig,
) -> None:
    fulfilment = login(secured, "fulfilment")
    assert PAYMENTS_EVENTS not in ACCESS["fulfilment"].reads
    probe = f"acl-probe-{uuid.uuid4().hex[:8]}"
    with pytest.raises(TopicAuthorizationFailedError):
        await fetch(fulfilment, PAYMENTS_EVENTS, f"fulfilment.{probe}")
    # Its own topic is one it writes, not one it reads.
    with pytest.raises(TopicAuthorizationFailedError):
        await fetch(fulfilment, FULFILMENT_EVENTS, f"fulfilment.{probe}")
    # A topic it consumes, in a group under another service's prefix.
    with pytest.raises(GroupAuthorizationFailedError):
        await fetch(fulfilment, INVENTORY_EVENTS, f"inventory.{probe}")
    # The same topic in its own group: the probe sent there is at least one record.
    await produce(login(secured, "inventory"), INVENTORY_EVENTS)
    assert await fetch(fulfilment, INVENTORY_EVENTS, f"fulfilment.{probe}") >= 1


async def test_a_forged_payment_authorization_cannot_be_published_without_payments_login(
    secured: StackConfig,
) -> None:
    forged = envelope_for(
        example(PaymentAuthorized),
        stream_id=f"payment-forged-{uuid.uuid4().hex[:8]}",
        stream_version=1,
        correlation_id=f"forged-{uuid.uuid4().hex[:8]}",
        causation_id=None,
        actor="service:payments",
        producer="payments",
    )
    send = {
        "value": encode_envelope(forged),
        "key": forged.correlation_id.encode(),
        "headers": message_headers(forged),
    }
    with pytest.raises(KafkaConnectionError):
        await produce(KafkaConnection(secured.kafka_bootstrap), PAYMENTS_EVENTS, **send)
    for principal in (p for p in ACCESS if p != "payments"):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(login(secured, principal), PAYMENTS_EVENTS, **send)
    # The broker's own rules: the payments user is the one user who may write there.
    writers = {
        rule.user
        for rule in await asyncio.to_thread(kafka.acls, secured)
        if rule.resource is ResourceType.TOPIC
        and rule.name == PAYMENTS_EVENTS
        and rule.operation is Operation.WRITE
    }
    assert writers == {kafka_user("payments")}
