"""Integration tests for the local stack started by `oms up` (PostgreSQL + Kafka).

These assume `uv run oms up` has been run. They deliberately FAIL (never skip) when the
stack is down, so a broken environment cannot pass silently.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from oms_cli.config import SERVICES, StackConfig
from oms_cli.services import implemented

pytestmark = pytest.mark.integration


def _oms(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oms_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def config() -> StackConfig:
    return StackConfig()


@pytest.fixture(scope="module")
def status_doc() -> dict[str, Any]:
    proc = _oms("status", "--json", timeout=30)
    assert proc.returncode == 0, (
        f"`oms status --json` exited {proc.returncode}; run `uv run oms up` first.\n"
        f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
    )
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_status_json_shape_and_health(status_doc: dict[str, Any], config: StackConfig) -> None:
    assert set(status_doc) == {"kafka", "postgres", "services", "simulators"}
    assert status_doc["kafka"] == {"bootstrap": config.kafka_bootstrap, "healthy": True}
    assert status_doc["postgres"] == {"dsn": config.admin_dsn, "healthy": True}
    # Every service that exists in this checkout is listed with its URL and health.
    assert set(status_doc["services"]) == set(implemented())
    for name, info in status_doc["services"].items():
        assert info["url"] == config.service_url(name)
        assert info["healthy"] is True, info
        # `healthy` is readiness: the body says what it rests on.
        ready = info["ready"]
        assert ready["ready"] is True and ready["reasons"] == [] and ready["service"] == name
        assert {"relay", "dead_letters", "consumers", "loops"} <= set(ready)
    assert {"order", "inventory", "payments"} <= set(status_doc["services"])
    # The simulators `oms up` started (none with --no-simulators) are alive.
    for kind, sim in status_doc["simulators"].items():
        assert kind in {"warehouse", "carrier", "platforms"} and sim["alive"] is True, sim
    # The printed DSN must be directly usable by scripts.
    with psycopg.connect(status_doc["postgres"]["dsn"], connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("service", SERVICES)
def test_service_role_owns_and_reaches_its_database(
    status_doc: dict[str, Any], config: StackConfig, service: str
) -> None:
    with psycopg.connect(config.service_dsn(service), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), "
            "pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert row == (f"oms_{service}", f"oms_{service}", f"oms_{service}")
        # The owner can create tables in its own database.
        conn.execute("CREATE TEMP TABLE t (id int)")


@pytest.mark.parametrize("service", SERVICES)
def test_service_role_cannot_connect_to_other_databases(
    status_doc: dict[str, Any], config: StackConfig, service: str
) -> None:
    others = [s for s in SERVICES if s != service]
    for other in others:
        dsn = config.service_dsn(service).rsplit("/", 1)[0] + f"/oms_{other}"
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(dsn, connect_timeout=5).close()


def test_second_up_starts_nothing(status_doc: dict[str, Any], config: StackConfig) -> None:
    """A second `oms up` only checks: no start, no download, no database created."""
    # A stack brought up without simulators stays without them.
    without = () if status_doc["simulators"] else ("--no-simulators",)
    proc = _oms("up", "--json", *without, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["postgres"]["action"] == "already-running"
    assert result["postgres"]["created_databases"] == []
    assert result["kafka"]["action"] == "already-running"
    assert result["kafka"]["downloaded_jars"] is False
    assert result["services"] == {
        name: {"action": "already-running", "url": config.service_url(name)}
        for name in implemented()
    }
    assert result["simulators"] == {
        kind: {"action": "already-running", "log": sim["log"]}
        for kind, sim in status_doc["simulators"].items()
    }


async def test_kafka_round_trip(status_doc: dict[str, Any], config: StackConfig) -> None:
    topic = f"oms-stack-test-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(**config.kafka.options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        producer = AIOKafkaProducer(**config.kafka.options(), acks="all")
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b"hello-oms", key=b"k1")
        finally:
            await producer.stop()
        assert meta.topic == topic

        consumer = AIOKafkaConsumer(
            topic,
            **config.kafka.options(),
            group_id=f"{topic}-group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + 30
            records = {}
            while not records and time.monotonic() < deadline:
                records = await consumer.getmany(timeout_ms=5_000, max_records=1)
        finally:
            await consumer.stop()
        assert records, f"no record consumed from {topic} within 30s"
        (batch,) = records.values()
        assert (batch[0].key, batch[0].value) == (b"k1", b"hello-oms")
        assert batch[0].offset == meta.offset
    finally:
        await admin.delete_topics([topic])
        await admin.close()
