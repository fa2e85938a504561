"""Helpers for tests against the real broker: read a topic to its end, publish events on a
test's own prefixed topics as another service would, wait for a state."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from oms_events.base import Event
from oms_events.codec import decode_envelope, encode_envelope
from oms_events.envelope import Envelope
from oms_events.registry import envelope_for
from oms_events.topics import INVENTORY_EVENTS, PLATFORM_INGRESS, topic_for
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import message_headers

ACL_PROBE_TYPE = "WarehouseRegistered"
"""A known event type no consumer of the ingress or the inventory topic handles: a probe
message with it in its ``event_type`` header is skipped unread by every consumer there, so
a test may send one to the live topics (``tests/contract/test_kafka_access.py`` checks)."""
ACL_PROBED_TOPICS = (PLATFORM_INGRESS, INVENTORY_EVENTS)


async def read_topic(
    kafka: KafkaConnection, topic: str, *, expect: int, timeout_s: float = 60
) -> list[Any]:
    """Every record of ``topic`` from the beginning, once at least ``expect`` have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.options(),
        group_id=f"oms-test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        await consumer.start()  # inside: a broker that refuses the login still gets it closed
        while len(records) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
        # Whatever else is there right now (duplicates, for instance) belongs in the answer.
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 60, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@dataclass
class TestTopics:
    """One test's topics (every name under ``prefix``): publish what other services would,
    read back what the service under test published."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    kafka: KafkaConnection
    prefix: str
    producer: Any

    async def publish(self, event: Event, *, key: str) -> Envelope:
        """``event`` in a fresh envelope (correlation id ``key``) on its topic."""
        env = envelope_for(
            event,
            stream_id=f"test-{uuid.uuid4().hex[:8]}",
            stream_version=1,
            correlation_id=key,
            causation_id=None,
            actor="service:test",
            producer="test",
        )
        await self.send(env)
        return env

    async def send(self, env: Envelope) -> None:
        """``env`` as it is (a redelivery, when sent again), keyed by its correlation id."""
        await self.producer.send_and_wait(
            self.prefix + topic_for(env.type),
            encode_envelope(env),
            key=env.correlation_id.encode(),
            headers=message_headers(env),
        )

    async def published(self, topic: str, *, expect: int) -> tuple[list[Envelope], list[Any]]:
        """The distinct envelopes on ``topic`` (prefixed here) once ``expect`` records are
        there, and the raw records: a relay may resend a batch after a crash, consumers
        drop the duplicates by event id."""
        records = await read_topic(self.kafka, self.prefix + topic, expect=expect)
        unique = {decode_envelope(r.value).event_id: decode_envelope(r.value) for r in records}
        return list(unique.values()), records
