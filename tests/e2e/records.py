"""What the system left behind, read back for assertions: topics, dead letters, parked events.

Also a publisher for the ingress topic that outlives a broker restart (it re-creates its
producer and resends; the order service dedupes by platform order reference).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from oms_events.codec import decode_envelope
from oms_events.envelope import Envelope
from oms_platform.consumer import header_value
from oms_platform.kafka_client import KafkaConnection
from tests.e2e.system import System


@dataclass(frozen=True)
class Sent:
    """Where the broker put one message we published."""

    topic: str
    partition: int
    offset: int


class Publisher:
    """Sends messages to Kafka and keeps trying, for a bounded time, while the broker is away.

    ``compression`` lets messages larger than the broker's 1 MiB limit reach the topic (the
    limit applies to the compressed batch), as a platform sending big orders would.
    """

    def __init__(
        self, kafka: KafkaConnection, *, compression: str | None = None, give_up_after_s: float = 90
    ) -> None:
        self.kafka = kafka
        self.compression = compression
        self.give_up_after_s = give_up_after_s
        self._producer: AIOKafkaProducer | None = None
        self.resends = 0

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                **self.kafka.options(),
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=5_000,
                retry_backoff_ms=200,
                compression_type=self.compression,
                max_request_size=16 << 20,
            )
            try:
                await asyncio.wait_for(producer.start(), 10)
            except BaseException:
                await self._drop(producer)
                raise
            self._producer = producer
        return self._producer

    @staticmethod
    async def _drop(producer: AIOKafkaProducer) -> None:
        # A producer of a dead broker may not stop cleanly; it is dropped either way.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> Sent:
        deadline = time.monotonic() + self.give_up_after_s
        while True:
            try:
                producer = await self._ensure()
                meta = await asyncio.wait_for(
                    producer.send_and_wait(
                        topic, value=value, key=key, headers=headers or [], partition=partition
                    ),
                    10,
                )
                return Sent(meta.topic, meta.partition, meta.offset)
            except Exception as err:
                if self._producer is not None:
                    await self._drop(self._producer)
                    self._producer = None
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"could not publish to {topic} for {self.give_up_after_s:.0f}s: {err!r}"
                    ) from err
                self.resends += 1
                await asyncio.sleep(0.5)

    async def partitions(self, topic: str) -> list[int]:
        producer = await self._ensure()
        found = await producer.partitions_for(topic)
        return sorted(found)

    async def close(self) -> None:
        if self._producer is not None:
            await self._drop(self._producer)
            self._producer = None


async def topics(kafka: KafkaConnection) -> set[str]:
    """Every topic the broker knows."""
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        found: set[str] = await consumer.topics()
        return found
    finally:
        await consumer.stop()


async def delete_topics(kafka: KafkaConnection, prefix: str) -> list[str]:
    """Delete the topics named ``prefix...`` (a test's own); returns their names."""
    doomed = sorted(t for t in await topics(kafka) if t.startswith(prefix))
    if doomed:
        admin = AIOKafkaAdminClient(**kafka.options())
        await admin.start()
        try:
            await admin.delete_topics(doomed, timeout_ms=30_000)
        finally:
            await admin.close()
    return doomed


async def read_to_end(kafka: KafkaConnection, topic: str, *, timeout_s: float = 60) -> list[Any]:
    """Every record of ``topic`` up to the end offsets it had when we asked (no group)."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.options(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"oms-e2e-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not consumer.assignment():  # without a group, every partition once known
            if time.monotonic() > deadline:
                raise AssertionError(f"no partitions of {topic} assigned in {timeout_s}s")
            await asyncio.sleep(0.1)
        tps = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while True:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= ends[tp] for tp in tps):
                return records
            if time.monotonic() > deadline:
                behind = {tp.partition: ends[tp] - positions[tp] for tp in tps}
                raise AssertionError(
                    f"could not read {topic} to its end in {timeout_s}s (behind: {behind})"
                )
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                records.extend(r for r in batch if r.offset < ends[tp])
    finally:
        await consumer.stop()


def envelopes(records: list[Any]) -> list[Envelope]:
    """The envelopes among ``records`` (every OMS event topic holds only envelopes)."""
    return [decode_envelope(r.value) for r in records]


def dead_letter_summary(record: Any) -> dict[str, str | None]:
    """A DLQ record's reason headers, for failure messages."""
    return {
        name: header_value(record.headers, f"dlq.{name}")
        for name in (
            "error_code",
            "reason",
            "failure_class",
            "consumer",
            "original_topic",
            "original_partition",
            "original_offset",
            "attempts",
        )
    } | {"event_type": header_value(record.headers, "event_type")}


def _rows(dsn: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        try:
            cur = conn.execute(query)
        except psycopg.errors.UndefinedTable as err:
            # The platform keeps dead letters and parked events in every service database;
            # a missing table is a finding, reported like a row.
            return [{"missing_table": str(err).splitlines()[0]}]
        assert cur.description is not None
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def dead_letter_rows(dsn: str) -> list[dict[str, Any]]:
    """The ``dead_letters`` table of one service database."""
    return _rows(
        dsn,
        'SELECT id, consumer, topic, partition, "offset", event_type, event_id, code, '
        "reason, failure_class, attempts, times FROM dead_letters ORDER BY id",
    )


def parked_rows(dsn: str) -> list[dict[str, Any]]:
    """The ``parked_events`` table of one service database (events the relay set aside)."""
    return _rows(
        dsn,
        "SELECT position, event_id::text, stream_id, type, reason, published_at "
        "FROM parked_events ORDER BY position",
    )


async def wait_ready(system: System, timeout_s: float = 60) -> dict[str, tuple[int | None, str]]:
    """Each service's last ``/ready`` answer (status, body); waits, bounded, for all 200."""
    answers: dict[str, tuple[int | None, str]] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        for name in system.processes:
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    resp = await client.get(system.url(name) + "/ready")
                answers[name] = (resp.status_code, resp.text[:1500])
            except httpx.HTTPError as err:
                answers[name] = (None, repr(err))
        if all(code == 200 for code, _ in answers.values()) or time.monotonic() > deadline:
            return answers
        await asyncio.sleep(1.0)


def log_excerpt(system: System, lines: int = 12, width: int = 400) -> str:
    """Each service's last ``lines`` warnings and errors (or last lines, if it had none),
    each cut to ``width`` characters."""
    parts = []
    for proc in system.instances():
        text = proc.log.read_text(errors="replace") if proc.log.exists() else ""
        every = text.splitlines()
        loud = [
            line
            for line in every
            if any(mark in line for mark in ('"level": "error"', '"level": "warning"', "ERROR"))
        ]
        tail = [line[:width] for line in (loud or every)[-lines:]]
        what = "warnings and errors" if loud else "last lines"
        parts.append(f"--- {proc.log.stem}: {what} ({proc.log}) ---\n" + "\n".join(tail))
    return "\n".join(parts)


def summarise(found: dict[str, list[dict[str, Any]]], examples: int = 3) -> str:
    """Dead letters or parked events, counted by where and why, with a few full examples."""
    out = []
    for where, rows in found.items():
        kinds = Counter(
            tuple(
                str(r.get(k))
                for k in (
                    "code",
                    "error_code",
                    "failure_class",
                    "consumer",
                    "event_type",
                    "type",
                    "missing_table",
                )
                if k in r
            )
            for r in rows
        )
        out.append(f"{where}: {len(rows)} -- {dict(kinds)}")
        out += [f"    e.g. {r}" for r in rows[:examples]]
    return "\n".join(out)
