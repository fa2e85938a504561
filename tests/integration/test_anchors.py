"""Signed chain heads on the real broker, and `oms audit verify` against them: a database
writer who rewrites a stream consistently (events and head) or deletes it is reported.

Each test has its own scratch database (the ``order`` service's store) and its own topic
prefix; the publisher is the one every service runs (``oms_platform.anchors``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from oms_cli import audit
from oms_cli.main import app
from oms_events.topics import AUDIT_ANCHORS
from oms_platform.anchors import (
    Anchor,
    AnchorPublisher,
    public_key_from_pem,
    read_anchors,
    save_progress,
    signing_key_from_pem,
)
from oms_platform.db import create_engine
from oms_platform.eventstore import PostgresEventStore
from oms_platform.eventstore.hashing import GENESIS, chain, content_digest
from oms_platform.health import LoopStatus, keep_running
from oms_platform.kafka_client import KafkaConnection
from oms_platform.kafka_topics import audit_topics, ensure_topics
from oms_platform.relay import create_producer
from oms_platform.service import ServiceHost
from oms_platform.settings import ServiceSettings
from oms_platform.testing.builders import stream_events
from oms_platform.testing.kafka import eventually
from oms_platform.testing.keys import (
    TEST_ANCHOR_PRIVATE_PEM,
    TEST_ANCHOR_PUBLIC_PEM,
    TEST_CHAIN_KEY,
    service_keys,
)

pytestmark = pytest.mark.integration

PUBLIC = public_key_from_pem(TEST_ANCHOR_PUBLIC_PEM)


@dataclass
class Audited:
    """One service's store, its anchor publisher on a test topic, and a producer."""

    dsn: str
    store: PostgresEventStore
    publisher: AnchorPublisher
    producer: Any
    kafka: KafkaConnection
    topic: str
    prefix: str

    async def anchor(self, expect: int = 0, timeout_s: float = 60) -> int:
        """Rounds until ``expect`` anchors were sent: a head is anchored once every
        transaction older than its own has ended, on the whole (shared) server."""
        sent = await self.publisher.publish_moved(self.producer)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while sent < expect and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            sent += await self.publisher.publish_moved(self.producer)
        return sent

    def new_publisher(self) -> AnchorPublisher:
        return publisher(self.store, self.topic, self.kafka)

    async def anchors(self) -> dict[str, tuple[int, bytes]]:
        found = await read_anchors(self.kafka.options(), self.topic, PUBLIC)
        assert found.bad == {}
        return found.of("order")


def publisher(
    store: PostgresEventStore,
    topic: str,
    kafka: KafkaConnection,
    producer: Callable[[], Any] | None = None,
    status: LoopStatus | None = None,
) -> AnchorPublisher:
    """The order service's publisher, as ``ServiceHost`` builds it."""
    return AnchorPublisher(
        store,
        service="order",
        topic=topic,
        chain_key=TEST_CHAIN_KEY,
        signing_key=signing_key_from_pem(TEST_ANCHOR_PRIVATE_PEM),
        producer=producer or (lambda: create_producer(kafka)),
        interval_s=0.2,
        status=status,
    )


@pytest.fixture
async def audited(clean_db: str, kafka_admin: KafkaConnection) -> AsyncIterator[Audited]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    [topic] = audit_topics(prefix)
    await ensure_topics(kafka_admin, [topic], partitions=1)
    engine = create_engine(clean_db, pool_size=4)
    store = PostgresEventStore(engine, chain_key=TEST_CHAIN_KEY)
    await store.create_schema()
    producer = create_producer(kafka_admin)
    await producer.start()
    found = Audited(
        clean_db, store, publisher(store, topic, kafka_admin), producer, kafka_admin, topic, prefix
    )
    await found.publisher.setup()
    try:
        yield found
    finally:
        await producer.stop()
        await store.close()
        await engine.dispose()


def rewrite_consistently(
    dsn: str, store_events: list[Any], version: int, key: bytes | None
) -> None:
    """As a database writer: change event ``version``'s payload, recompute its hash and
    every later one's and the head, with the plain sha256 chain (``key`` None) or keyed
    with a key that is not the service's."""
    previous = GENESIS
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        for rec in store_events:
            env = rec.envelope
            if env.stream_version < version:
                previous = rec.hash
                continue
            if env.stream_version == version:
                env = env.model_copy(update={"payload": {"n": 1_000_000}})
            if key is None:
                previous = hashlib.sha256(previous + content_digest(env)).digest()
            else:
                previous = chain(key, previous, env)
            conn.execute(
                "UPDATE events SET payload = %s::jsonb, hash = %s "
                "WHERE stream_id = %s AND stream_version = %s",
                (json.dumps(env.payload), previous, env.stream_id, env.stream_version),
            )
        conn.execute(
            "UPDATE streams SET head = %s WHERE stream_id = %s",
            (previous, store_events[0].envelope.stream_id),
        )


def drop_stream(dsn: str, stream_id: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("DELETE FROM events WHERE stream_id = %s", (stream_id,))
        conn.execute("DELETE FROM streams WHERE stream_id = %s", (stream_id,))


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "250"})


# --------------------------------------------------------------------------- publisher


async def test_moved_heads_are_anchored_once_and_a_restart_resumes(audited: Audited) -> None:
    for sid in ("order-a", "order-b", "order-c"):
        await audited.store.append(stream_events(sid, 1, 3))
    assert await audited.anchor(3) == 3
    assert await audited.anchor() == 0  # nothing moved
    await audited.store.append(stream_events("order-a", 4, 2))
    assert await audited.anchor(1) == 1
    # A new process resumes from the checkpoint in the database.
    assert await audited.new_publisher().publish_moved(audited.producer) == 0

    anchored = await audited.anchors()
    assert set(anchored) == {"order-a", "order-b", "order-c"}
    head_a = (await audited.store.read_stream("order-a"))[-1]
    assert anchored["order-a"] == (5, head_a.hash)
    assert anchored["order-b"][0] == 3


async def test_the_loop_anchors_until_stopped_and_once_more_at_shutdown(audited: Audited) -> None:
    await audited.store.append(stream_events("order-x", 1, 1))
    stop = asyncio.Event()
    task = asyncio.create_task(audited.publisher.run(stop))

    async def anchored_x() -> bool:
        return audited.publisher.published >= 1

    await eventually(anchored_x, what="the loop's anchor of order-x")
    audited.publisher.interval_s = 3600.0  # from the next pause on: only the shutdown round
    await asyncio.sleep(0.5)
    [late] = await audited.store.append(stream_events("order-y", 1, 1))

    async def committed_below_horizon() -> bool:
        async with audited.store.connection() as conn:
            cur = await conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
            row = await cur.fetchone()
        return row is not None and int(row[0]) > late.tx_id

    await eventually(committed_below_horizon, what="order-y below the commit horizon")
    assert audited.publisher.published == 1
    stop.set()
    await asyncio.wait_for(task, 30)
    assert audited.publisher.published == 2
    assert (await audited.anchors()).keys() == {"order-x", "order-y"}
    assert (await audited.publisher.probe()).ready


async def test_a_head_moved_by_a_writer_without_the_key_is_refused(audited: Audited) -> None:
    await audited.store.append(stream_events("order-f", 1, 3))
    assert await audited.anchor(1) == 1
    events = await audited.store.read_stream("order-f")
    rewrite_consistently(audited.dsn, events, 2, key=None)
    with psycopg.connect(audited.dsn, autocommit=True) as conn:  # make the head look moved
        conn.execute(
            "UPDATE streams SET head_tx = pg_current_xact_id() WHERE stream_id = 'order-f'"
        )

    async def refused() -> bool:
        await audited.publisher.publish_moved(audited.producer)
        return "order-f" in audited.publisher.refused

    await eventually(refused, what="the forged head refused")
    probe = await audited.publisher.probe()
    assert not probe.ready and "refused" in (probe.reason or "")
    assert (await audited.anchors())["order-f"] == (3, events[-1].hash)  # the genuine head


async def test_a_broker_outage_is_waited_out_and_no_anchor_is_lost(audited: Audited) -> None:
    await audited.store.append(stream_events("order-o", 1, 2))
    attempts = 0

    def producer() -> Any:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:  # the broker is away: nothing listens on port 1
            return create_producer(KafkaConnection("127.0.0.1:1"), request_timeout_ms=1000)
        return create_producer(audited.kafka)

    status = LoopStatus("anchors")  # shared with keep_running, as in ServiceHost
    outage = publisher(audited.store, audited.topic, audited.kafka, producer, status)
    stop = asyncio.Event()
    task = asyncio.create_task(keep_running(outage.run, stop, status))
    try:

        async def failed_then_published() -> bool:
            # Two rounds failed, then anchored; the loop is reported ok again.
            return status.failures >= 2 and outage.published >= 1 and not status.failing_since

        await eventually(failed_then_published, what="anchors after the outage")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert "order-o" in await audited.anchors()


# ------------------------------------------------------------------------------ verify


@pytest.mark.parametrize("forger_key", [None, b"a writer's own key, not the service's"])
async def test_verify_reports_a_consistent_rewrite_and_a_deleted_stream(
    audited: Audited, tmp_path: Path, forger_key: bytes | None
) -> None:
    for sid in ("order-kept", "order-rewritten", "order-gone"):
        await audited.store.append(stream_events(sid, 1, 3))
    assert await audited.anchor(3) == 3
    rewrite_consistently(
        audited.dsn, await audited.store.read_stream("order-rewritten"), 2, forger_key
    )
    drop_stream(audited.dsn, "order-gone")
    # The store's own checks without the key see nothing: heads and versions agree.
    reader = PostgresEventStore(audited.store.engine, chain_key=None, pool_size=1)
    try:
        assert await reader.verify() == []
    finally:
        await reader.close()

    # Anchors alone (no chain key): the rewrite and the deletion.
    anchors = await read_anchors(audited.kafka.options(), audited.topic, PUBLIC)
    result = await audit.verify({"order": audited.dsn}, chain_key=None, anchors=anchors)
    assert {(b.stream_id, b.stream_version, b.kind) for b in result.breaks or []} == {
        ("order-rewritten", 3, "rewritten"),
        ("order-gone", 3, "deleted"),
    }

    # `oms audit verify` with the key and the anchors: also each event rechained.
    key_file = tmp_path / "chain.key"
    key_file.write_text(TEST_CHAIN_KEY.hex() + "\n")
    pub_file = tmp_path / "anchor.pub.pem"
    pub_file.write_text(TEST_ANCHOR_PUBLIC_PEM)
    options = ["--db", f"order={audited.dsn}", "--service", "order"]
    options += ["--chain-key", str(key_file), "--anchor-key", str(pub_file)]
    options += ["--topic-prefix", audited.prefix]
    shown = await asyncio.to_thread(cli, "audit", "verify", "--json", *options)
    assert shown.exit_code == 1, shown.output
    doc = json.loads(shown.stdout)
    assert doc["keyed"] is True and doc["anchors"] == 3
    assert {(b["stream_id"], b["stream_version"], b["kind"]) for b in doc["breaks"]} == {
        ("order-rewritten", 2, "altered"),
        ("order-rewritten", 3, "altered"),
        ("order-rewritten", 3, "rewritten"),
        ("order-gone", 3, "deleted"),
    }
    table = await asyncio.to_thread(cli, "audit", "verify", *options)
    assert table.exit_code == 1 and "rewritten" in table.stdout and "deleted" in table.stdout


async def test_verify_passes_a_clean_store_and_reports_a_forged_anchor(
    audited: Audited, tmp_path: Path
) -> None:
    await audited.store.append(stream_events("order-ok", 1, 2))
    assert await audited.anchor(1) == 1
    pub_file = tmp_path / "anchor.pub.pem"
    pub_file.write_text(TEST_ANCHOR_PUBLIC_PEM)
    key_file = tmp_path / "chain.key"
    key_file.write_text(TEST_CHAIN_KEY.hex())
    options = ["--db", f"order={audited.dsn}", "--service", "order", "--chain-key"]
    options += [str(key_file), "--anchor-key", str(pub_file), "--topic-prefix", audited.prefix]
    clean = await asyncio.to_thread(cli, "audit", "verify", *options)
    assert clean.exit_code == 0, clean.output
    assert "1 anchors checked" in clean.stdout

    forged = {"format": 1, "service": "order", "stream_id": "order-ok", "version": 1}
    forged |= {"hash": "00" * 32, "anchored_at": "2026-01-01T00:00:00+00:00"}
    forged["signature"] = "AAAA"
    await audited.producer.send_and_wait(
        audited.topic, json.dumps(forged).encode(), key=b"order/order-ok"
    )
    broken = await asyncio.to_thread(cli, "audit", "verify", "--json", *options)
    assert broken.exit_code == 1
    kinds = [(b["stream_id"], b["kind"]) for b in json.loads(broken.stdout)["breaks"]]
    assert kinds == [("order-ok", "bad_anchor_signature")]


async def test_verify_without_the_anchor_topic_is_an_error_not_a_pass(
    audited: Audited, tmp_path: Path
) -> None:
    pub_file = tmp_path / "anchor.pub.pem"
    pub_file.write_text(TEST_ANCHOR_PUBLIC_PEM)
    options = ["--db", f"order={audited.dsn}", "--service", "order"]
    options += ["--anchor-key", str(pub_file), "--topic-prefix", f"nothing{audited.prefix}"]
    missing = await asyncio.to_thread(cli, "audit", "verify", *options)
    assert missing.exit_code == 2
    assert f"nothing{audited.prefix}{AUDIT_ANCHORS} does not exist" in missing.output


# ------------------------------------------------------------------------ the service


async def test_a_service_host_anchors_its_streams_and_reports_the_loop(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings(
        **service_keys(),
        service="order",
        database_dsn=SecretStr(clean_db),
        **kafka_admin.settings(),
        topic_prefix=prefix,
        anchor_interval_s=0.2,
        topic_partitions=1,
    )
    host = ServiceHost(settings)
    await host.start()
    try:
        await host.store.append(stream_events("order-h", 1, 2))
        topic = f"{prefix}{AUDIT_ANCHORS}"

        async def anchored() -> bool:
            # The round is done once the sends are acknowledged and the checkpoint saved.
            assert host.anchors is not None
            if host.anchors.published < 1 or host.anchors.last_round is None:
                return False
            found = await read_anchors(kafka_admin.options(), topic, PUBLIC)
            return "order-h" in found.of("order")

        await eventually(anchored, what="the host's anchor of order-h")
        _, body = await host.health.readiness()
        assert "anchors" in body["loops"] and body["anchors"]["last_round_s"] is not None
        assert not any("anchor" in reason for reason in body["reasons"]), body["reasons"]
    finally:
        await host.stop()


async def test_two_replicas_on_one_database_only_move_the_checkpoint_forward(
    audited: Audited,
) -> None:
    await audited.store.append(stream_events("order-r1", 1, 2))
    assert await audited.anchor(1) == 1
    async with audited.store.connection() as conn:
        cur = await conn.execute("SELECT head_tx::text::bigint, stream_id FROM anchor_progress")
        saved = await cur.fetchone()
        assert saved is not None
        # A slower replica saves what it anchored from an older read: nothing goes back.
        older = Anchor("order", "order-r1", 1, b"\x01" * 32, datetime.now(UTC))
        await save_progress(conn, "order", [older], (saved[0] - 1, "order-r1"))
        cur = await conn.execute("SELECT head_tx::text::bigint, stream_id FROM anchor_progress")
        assert await cur.fetchone() == saved
        cur = await conn.execute("SELECT version FROM anchor_heads WHERE stream_id = 'order-r1'")
        assert await cur.fetchone() == (2,)
    assert await audited.new_publisher().publish_moved(audited.producer) == 0
