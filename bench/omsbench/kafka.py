"""Outbox relay rate against Kafka's own ProducerPerformance on the same broker.

The relay is driven batch by batch with ``OutboxRelay.publish_batch`` and a producer from
``create_producer`` (idempotent, ``acks=all``), started and given the topic's metadata
before the clock starts. Each batch reads the events table after the checkpoint, sends,
waits for every ack and then commits the checkpoint, exactly as ``OutboxRelay.run`` does.
ProducerPerformance sends the same number of records of about the same size (value, key
and headers of the relay's messages added up) with ``acks=all`` and idempotence on.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from oms_cli import kafka as stack_kafka
from oms_cli.config import StackConfig
from oms_cli.kafka import kafka_java_cmd
from oms_events.codec import encode_envelope
from oms_events.envelope import Envelope
from oms_platform.eventstore import PostgresEventStore
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import OutboxRelay, create_producer, message_headers

from .common import Meter, Result

PARTITIONS = 3
RELAY_BATCH_BYTES = 1 << 20  # create_producer's max_batch_size
PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"
_SUMMARY = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency,"
    r" ([\d.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th)?"
)


def message_size(envs: Sequence[Envelope]) -> int:
    """Mean bytes of value + key + headers of the relay's message for ``envs``."""
    total = 0
    for env in envs:
        total += len(encode_envelope(env)) + len(env.correlation_id.encode())
        total += sum(len(k) + len(v) for k, v in message_headers(env))
    return round(total / len(envs))


async def create_topics(kafka: KafkaConnection, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def delete_topics(kafka: KafkaConnection, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


async def relay_rate(
    store: PostgresEventStore, dsn: str, kafka: KafkaConnection, topic: str, expect: int, name: str
) -> Result:
    relay = OutboxRelay(store, kafka, name=f"bench-{topic}", topic_for=lambda env: topic, dsn=dsn)
    producer = create_producer(kafka)
    await producer.start()
    try:
        await producer.partitions_for(topic)
        meter = Meter()
        while relay.published < expect:
            if await relay.publish_batch(producer) == 0:
                raise RuntimeError(f"relay stopped after {relay.published} of {expect} events")
        meter.stop()
    finally:
        await producer.stop()
    result = meter.result(name, relay.published)
    result.extra["batch_size"] = relay.batch_size
    return result


def _login(config: StackConfig) -> list[str]:
    """The admin's login for a Kafka Java tool, on a broker with SASL."""
    if not stack_kafka.secured(config):
        return []
    return ["--producer.config", str(stack_kafka.admin_properties(config))]


def producer_performance(
    config: StackConfig, topic: str, records: int, record_size: int, name: str
) -> Result:
    cmd = kafka_java_cmd(
        config,
        PRODUCER_PERFORMANCE,
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        *_login(config),
        "--producer-props",
        f"bootstrap.servers={config.kafka_bootstrap}",
        # The relay's producer settings (oms_platform.relay.create_producer).
        "acks=all",
        "enable.idempotence=true",
        "linger.ms=5",
        f"batch.size={RELAY_BATCH_BYTES}",
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    summary = None
    for line in proc.stdout.splitlines():
        match = _SUMMARY.match(line.strip())
        if match:
            summary = match  # the last one is the final summary; earlier ones are windows
    if proc.returncode != 0 or summary is None:
        raise RuntimeError(
            f"ProducerPerformance failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr).strip()[-2000:]}"
        )
    sent, rate = int(summary.group(1)), float(summary.group(2))
    result = Result(name, sent, sent / rate if rate else 0.0)
    result.extra.update(
        {
            "record_size": record_size,
            "reported_records_per_s": rate,
            "mb_per_s": float(summary.group(3)),
            "avg_latency_ms": float(summary.group(4)),
            "max_latency_ms": float(summary.group(5)),
            "summary": summary.group(0),
        }
    )
    return result
