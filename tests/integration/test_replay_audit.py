"""`oms replay` and `oms audit` against real PostgreSQL: scratch stores for the six
producing services hold the real contract events of a few orders' lives (placed,
reserved, paid, picked, shipped with a failed attempt, delivered, returned and refunded,
rated; one declined and cancelled), appended one transaction each as the services do.

* A rebuild gives the rows (and inbox rows) the live consumer path gives when it takes
  the same events message by message (``MessageProcessor`` with the runner's handlers),
  and a second rebuild gives the same again.
* The race: a relay and consumer keep applying events while writers append more and
  rebuilds run in between; in the end the rows equal a from-scratch consumer run over
  every event (nothing lost, nothing applied twice) and the consumer met duplicates the
  rebuilds had claimed for it. The same with the real path: outbox relays to Kafka and
  the operations service consuming in batches.
* A read model (or column) added since the service last ran is created and backfilled;
  a rebuild outlasts the server's idle-in-transaction timeout.
* ``oms audit order`` gives the cross-service timeline and the state at ``--as-of``;
  ``verify`` passes, then reports an event whose payload was altered by SQL (service,
  stream, version, kind); ``export`` in jsonl and csv parses back to the stored events,
  with range and stream filters.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from oms_cli.audit import SOURCE_SERVICES, read_export
from oms_cli.config import StackConfig
from oms_cli.main import app
from oms_events.base import Event
from oms_events.codec import encode_envelope
from oms_events.envelope import Envelope
from oms_events.examples import eur, example
from oms_events.registry import envelope_for
from oms_events.topics import topic_for
from oms_operations.app import create_app
from oms_operations.projections import runner, tables
from oms_operations.replay import plan, rebuild
from oms_operations.settings import OperationsSettings
from oms_platform.consumer import Delivery, MessageProcessor, Outcome, Subscription
from oms_platform.db import create_engine
from oms_platform.eventstore import START, PostgresEventStore
from oms_platform.eventstore.model import Position
from oms_platform.relay import OutboxRelay
from oms_platform.settings import RetrySettings
from oms_platform.testing.databases import scratch_database
from oms_platform.testing.kafka import TestTopics, eventually
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 3, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def make(type_name: str, **changes: Any) -> Event:
    from oms_events.registry import latest

    cls = latest(type_name)
    return cls.model_validate({**example(cls).model_dump(), **changes})


def service_of(event: Event) -> str:
    return topic_for(type(event).event_type).split(".")[1]


# ---------------------------------------------------------------------------- events


def life(oid: str, *, declined: bool = False) -> list[tuple[str, Event]]:
    """One order's events in the order the services write them: (stream, event)."""
    pay, ful, shp, rma = f"pay-{oid}", f"ful-{oid}-AMS", f"shp-{oid}", f"rma-{oid}"
    line = {"sku": "TSHIRT-BLU-M", "quantity": 2}
    money = {"method": "ideal", "amount": eur("44.85").model_dump(), "payment_id": pay}
    placed = make(
        "OrderPlaced",
        order_id=oid,
        platform_order_ref=f"WEB-{oid}",
        payments=[{**money, "gift_card_code": None}],
        lines=[{"line_id": "1", **line, "unit_price": eur("19.95").model_dump()}],
    )
    if declined:
        return [
            (f"order-{oid}", placed),
            (f"payment-{pay}", make("PaymentDeclined", order_id=oid, **money)),
            (f"order-{oid}", make("OrderCancelled", order_id=oid)),
        ]
    alloc = [{"line_id": "1", **line, "warehouse_id": "AMS"}]
    parcel = {"order_id": oid, "shipment_id": shp, "carrier": "postnl"}
    return [
        (f"order-{oid}", placed),
        (f"reservation-{oid}", make("StockReserved", order_id=oid, allocations=alloc)),
        (f"payment-{pay}", make("PaymentAuthorized", order_id=oid, **money)),
        (f"order-{oid}", make("OrderConfirmed", order_id=oid, allocations=alloc)),
        (
            f"fulfilment-{ful}",
            make(
                "FulfilmentRequested",
                order_id=oid,
                fulfilment_id=ful,
                warehouse_id="AMS",
                lines=[line],
            ),
        ),
        (
            f"shipment-{shp}",
            make("ShipmentBooked", **parcel, fulfilment_id=ful, warehouse_id="AMS"),
        ),
        (
            f"shipment-{shp}",
            make("ShipmentDispatched", **parcel, warehouse_id="AMS", lines=[line]),
        ),
        (f"payment-{pay}", make("PaymentCaptured", order_id=oid, **money, shipment_id=shp)),
        (f"order-{oid}", make("OrderShipped", **parcel, warehouse_id="AMS", lines=[line])),
        (f"shipment-{shp}", make("ShipmentDeliveryFailed", **parcel, attempt=1)),
        (f"shipment-{shp}", make("ShipmentDelivered", **parcel)),
        (f"order-{oid}", make("OrderDelivered", **parcel)),
        (
            f"return-{rma}",
            make(
                "ReturnRequested",
                return_id=rma,
                order_id=oid,
                lines=[{"sku": "TSHIRT-BLU-M", "quantity": 1, "reason": "wrong_size"}],
            ),
        ),
        (
            f"return-{rma}",
            make(
                "ReturnAuthorized",
                return_id=rma,
                order_id=oid,
                warehouse_id="AMS",
                lines=[{"sku": "TSHIRT-BLU-M", "quantity": 1}],
            ),
        ),
        (
            f"return-{rma}",
            make(
                "ReturnReceived",
                return_id=rma,
                order_id=oid,
                warehouse_id="AMS",
                lines=[{"sku": "TSHIRT-BLU-M", "quantity": 1, "condition": "resellable"}],
                refund_amount=eur("19.95").model_dump(),
            ),
        ),
        (f"return-{rma}", make("ReturnResolved", return_id=rma, order_id=oid)),
        (
            f"order-{oid}",
            make(
                "OrderReturnRecorded", order_id=oid, return_id=rma, lines=[line | {"quantity": 1}]
            ),
        ),
        (
            f"payment-{pay}",
            make(
                "RefundIssued",
                order_id=oid,
                **(money | {"amount": eur("19.95").model_dump()}),
                refund_id=f"rfd-{oid}",
                return_id=rma,
            ),
        ),
        (f"order-{oid}", make("FeedbackReceived", order_id=oid, rating=4)),
    ]


@dataclass
class Stores:
    """Scratch stores of the producing services, appending the way the services do."""

    dsns: dict[str, str]
    stores: dict[str, PostgresEventStore] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    appended: list[tuple[str, Envelope]] = field(default_factory=list)

    async def open(self) -> None:
        for service, dsn in self.dsns.items():
            store = PostgresEventStore(create_engine(dsn, pool_size=2), chain_key=TEST_CHAIN_KEY)
            await store.create_schema()
            store.notify_commits = False
            self.stores[service] = store

    async def close(self) -> None:
        for store in self.stores.values():
            await store.close()
            await store.engine.dispose()

    async def append(self, stream: str, event: Event, at: datetime) -> Envelope:
        service = service_of(event)
        version = self.versions.get(stream, 0) + 1
        order_id = str(getattr(event, "order_id"))  # noqa: B009
        previous = [e for _, e in self.appended if e.correlation_id == order_id]
        env = envelope_for(
            event,
            stream_id=stream,
            stream_version=version,
            correlation_id=order_id,
            causation_id=str(previous[-1].event_id) if previous else None,
            actor="platform:webshop" if version == 1 and service == "order" else "service",
            producer=service,
            occurred_at=at,
        )
        await self.stores[service].append([env])
        self.versions[stream] = version
        self.appended.append((service, env))
        return env


@asynccontextmanager
async def scratch_stores(stack: StackConfig) -> AsyncIterator[Stores]:
    with ExitStack() as dbs:
        dsns = {s: dbs.enter_context(scratch_database(stack.admin_dsn, s)) for s in SOURCE_SERVICES}
        stores = Stores(dsns)
        await stores.open()
        try:
            yield stores
        finally:
            await stores.close()


async def fill(
    stores: Stores, orders: list[str], start: datetime = T0, pause_s: float = 0.0
) -> None:
    """Append the orders' lives interleaved: event i of every order, then i + 1."""
    lives = [life(oid, declined=n % 4 == 3) for n, oid in enumerate(orders)]
    at = start
    for i in range(max(len(x) for x in lives)):
        for events in lives:
            if i < len(events):
                at += MINUTE
                await stores.append(*events[i], at)
                if pause_s:
                    await asyncio.sleep(pause_s)


# ----------------------------------------------------------- the operations database


@asynccontextmanager
async def ops_database(stack: StackConfig) -> AsyncIterator[PostgresEventStore]:
    """A scratch operations database with its schema (inbox and read models)."""
    with scratch_database(stack.admin_dsn, "ops") as dsn:
        store = PostgresEventStore(create_engine(dsn, pool_size=4), chain_key=TEST_CHAIN_KEY)
        await store.create_schema()
        await tables.create(store.engine)
        try:
            yield store
        finally:
            await store.close()
            await store.engine.dispose()


class LiveConsumers:
    """The operations consumers' delivery path (inbox claim, runner handlers, one unit of
    work each), fed envelopes instead of Kafka records."""

    def __init__(self, ops: PostgresEventStore, generation: int = 1) -> None:
        async def nowhere(*_: Any) -> None:
            pass  # nothing here is poison: a dead letter shows in ``outcomes``

        self.processor = MessageProcessor(ops, nowhere)
        self.subscriptions = [
            Subscription(
                f"{name}-g{generation}",
                (),
                {c.event_type: runner.handler(models) for m in models for c in m.handled},
            )
            for name, models in runner.CONSUMERS.items()
        ]
        self.outcomes: dict[Outcome, int] = {}

    async def deliver(self, env: Envelope, offset: int = 0) -> None:
        delivery = Delivery(
            topic_for(env.type),
            0,
            offset,
            env.correlation_id.encode(),
            encode_envelope(env),
            [("event_type", env.type.encode())],
        )
        for sub in self.subscriptions:
            outcome = await self.processor.process(sub, delivery)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


async def snapshot(ops: PostgresEventStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every read model's rows and the inbox, sorted, as comparable tuples."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with ops.connection() as conn:
        for table in [*plan().tables, "inbox"]:
            columns = "consumer, event_id" if table == "inbox" else "*"
            cur = await conn.execute(f"SELECT {columns} FROM {table}")
            found[table] = sorted(tuple(map(str, row)) for row in await cur.fetchall())
    return found


def sources(stores: Stores) -> dict[str, str]:
    return dict(stores.dsns)


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
async def history(stack: StackConfig) -> AsyncIterator[Stores]:
    """The module's stores: eight orders (two declined and cancelled)."""
    async with scratch_stores(stack) as stores:
        await fill(stores, [f"ord-r{n}" for n in range(8)])
        yield stores


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "250"})


def db_options(stores: Stores, *extra: tuple[str, str]) -> list[str]:
    options = []
    for service, dsn in [*stores.dsns.items(), *extra]:
        options += ["--db", f"{service}={dsn}"]
    return options


# ------------------------------------------------------------------------- rebuild


async def test_a_rebuild_gives_the_live_consumers_rows_and_a_second_one_the_same(
    stack: StackConfig, history: Stores
) -> None:
    async with ops_database(stack) as live, ops_database(stack) as rebuilt:
        consumers = LiveConsumers(live)
        for offset, (_, env) in enumerate(history.appended):
            await consumers.deliver(env, offset)
        assert consumers.outcomes.get(Outcome.HANDLED, 0) > len(history.appended)

        stats = await rebuild(rebuilt.engine, sources(history))
        want = await snapshot(live)
        assert await snapshot(rebuilt) == want
        assert stats.events_read == len(history.appended)
        assert stats.rows_written == sum(len(v) for k, v in want.items() if k != "inbox")
        assert stats.inbox_rows == len(want["inbox"])
        assert len(want["ops_orders"]) == 8
        assert {row[1] for row in want["ops_orders"]} == {"partially_returned", "cancelled"}

        again = await rebuild(rebuilt.engine, sources(history))
        assert await snapshot(rebuilt) == want
        assert again.rows == stats.rows

        # A consumer of the rebuilt database that gets every event again applies none.
        redelivered = LiveConsumers(rebuilt)
        for offset, (_, env) in enumerate(history.appended):
            await redelivered.deliver(env, offset)
        assert Outcome.HANDLED not in redelivered.outcomes
        assert await snapshot(rebuilt) == want


async def test_rebuilding_one_projection_rebuilds_its_consumer_and_leaves_the_others(
    stack: StackConfig, history: Stores
) -> None:
    async with ops_database(stack) as ops:
        async with ops.connection() as conn:
            await conn.execute(
                "INSERT INTO ops_shipments (shipment_id, order_id, status) "
                "VALUES ('untouched', 'x', 'booked')"
            )
        stats = await rebuild(ops.engine, sources(history), models=["feedback"])
        assert stats.tables == ["ops_orders", "ops_feedback"]
        assert stats.consumers == ["orders-g1"]
        got = await snapshot(ops)
        assert len(got["ops_feedback"]) == 6 and len(got["ops_orders"]) == 8
        assert [row[:3] for row in got["ops_shipments"]] == [("untouched", "x", "booked")]
        assert {row[0] for row in got["inbox"]} == {"orders-g1"}

        result = await asyncio.to_thread(
            cli, "replay", "shipments", "--generation", "3", "--json",
            *db_options(history, ("operations", ops_dsn(ops))),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        assert figures["tables"] == ["ops_shipments"] and figures["consumers"] == ["shipments-g3"]
        assert figures["rows"] == {"ops_shipments": 6}
        shipping = [e for s, e in history.appended if s == "shipping"]
        assert figures["events_read"] == len(shipping) and figures["events_per_s"] > 0

        unknown = await asyncio.to_thread(cli, "replay", "nonsense")
        assert unknown.exit_code == 2 and "unknown projection nonsense" in unknown.output


async def test_a_read_model_added_since_the_service_last_ran_is_backfilled(
    stack: StackConfig, history: Stores
) -> None:
    async with ops_database(stack) as ops:
        async with ops.connection() as conn:  # as before the payments model and the
            await conn.execute("DROP TABLE ops_payments")  # shipments' tracking number
            await conn.execute("ALTER TABLE ops_shipments DROP COLUMN tracking_number")
        stats = await rebuild(ops.engine, sources(history), models=["payments", "shipments"])
        assert stats.rows == {"ops_shipments": 6, "ops_payments": 8}
        got = await snapshot(ops)
        assert len(got["ops_payments"]) == 8
        async with ops.connection() as conn:
            cur = await conn.execute("SELECT count(tracking_number) FROM ops_shipments")
            assert await cur.fetchone() == (6,)


async def test_a_rebuild_outlasts_the_servers_idle_in_transaction_timeout(
    stack: StackConfig, history: Stores
) -> None:
    async with ops_database(stack) as ops:
        name = ops.dsn.rpartition("/")[2]
        with psycopg.connect(stack.admin_dsn, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET idle_in_transaction_session_timeout = 500')
        await ops.engine.dispose()  # new connections get the database's setting
        slow = []

        def dawdle(step: Any) -> None:
            if step.phase == "reading" and not slow:
                slow.append(step)
                time.sleep(1.0)  # the operations transaction waits idle meanwhile

        stats = await rebuild(ops.engine, sources(history), models=["returns"], progress=dawdle)
        assert slow and stats.rows == {"ops_returns": 6}


def ops_dsn(ops: PostgresEventStore) -> str:
    return ops.dsn


async def test_a_rebuild_racing_live_consumers_and_writers_loses_and_doubles_nothing(
    stack: StackConfig,
) -> None:
    rng = random.Random(9)
    async with (
        scratch_stores(stack) as stores,
        ops_database(stack) as live,
        ops_database(stack) as reference,
    ):
        await fill(stores, [f"ord-a{n}" for n in range(4)])
        consumers = LiveConsumers(live)
        writing = True

        async def write() -> None:
            nonlocal writing
            await fill(stores, [f"ord-b{n}" for n in range(8)], T0 + timedelta(days=1), 0.015)
            writing = False

        async def relay_and_consume() -> None:
            # Each store's relay order (commit order below the horizon), as Kafka would
            # deliver it; slow enough that rebuilds overtake it.
            after = {s: START for s in stores.stores}
            delivered = 0
            while writing or delivered < len(stores.appended):
                for service, store in stores.stores.items():
                    for rec in await store.read_all(after[service], limit=7):
                        await consumers.deliver(rec.envelope)
                        delivered += 1
                        after[service] = Position(rec.tx_id, rec.position)
                        await asyncio.sleep(rng.uniform(0, 0.004))
                await asyncio.sleep(0.01)

        async def rebuild_meanwhile() -> list[int]:
            read = []
            for _ in range(3):
                await asyncio.sleep(rng.uniform(0.3, 0.8))
                read.append((await rebuild(live.engine, sources(stores))).events_read)
            return read

        _, _, read = await asyncio.gather(write(), relay_and_consume(), rebuild_meanwhile())
        assert writing is False and read == sorted(read) and read[0] < len(stores.appended)
        assert consumers.outcomes.get(Outcome.DUPLICATE, 0) > 0  # claimed by a rebuild
        assert consumers.outcomes.get(Outcome.HANDLED, 0) > 0
        assert Outcome.DEAD_LETTERED not in consumers.outcomes

        from_scratch = LiveConsumers(reference)
        for _, env in stores.appended:
            await from_scratch.deliver(env)
        assert await snapshot(live) == await snapshot(reference)


async def test_a_rebuild_with_the_operations_service_running_on_kafka_loses_nothing(
    stack: StackConfig, topics: TestTopics
) -> None:
    """The real path: each store's outbox relay publishes to (prefixed) Kafka topics and
    the operations service consumes them in batches, while orders are written and
    rebuilds run; once it has taken everything, its rows equal a from-scratch consumer
    run over every event."""
    async with (
        scratch_stores(stack) as stores,
        ops_database(stack) as ops,
        ops_database(stack) as reference,
    ):
        host = create_app(
            OperationsSettings(
                **service_keys(),
                database_dsn=SecretStr(ops.dsn),
                **topics.kafka.settings(),
                topic_prefix=topics.prefix,
                retry=RetrySettings(initial_backoff_s=0.05),
            )
        )
        await host.start()
        stop = asyncio.Event()
        relays = [
            OutboxRelay(
                store,
                topics.kafka,
                name=f"replay-test-{service}",
                topic_for=lambda env: topics.prefix + topic_for(env.type),
                dsn=stores.dsns[service],
                idle_poll_s=0.05,
            )
            for service, store in stores.stores.items()
        ]
        running = [asyncio.create_task(relay.run(stop)) for relay in relays]
        try:
            rng = random.Random(3)

            async def rebuild_meanwhile() -> list[int]:
                read = []
                for _ in range(3):
                    await asyncio.sleep(rng.uniform(0.5, 1.0))
                    read.append((await rebuild(ops.engine, sources(stores))).events_read)
                return read

            orders = [f"ord-k{n}" for n in range(8)]
            _, read = await asyncio.gather(fill(stores, orders, pause_s=0.02), rebuild_meanwhile())
            assert read[0] < len(stores.appended)  # the first one ran while orders came in

            from_scratch = LiveConsumers(reference)
            for _, env in stores.appended:
                await from_scratch.deliver(env)
            want = await snapshot(reference)

            async def caught_up() -> bool:
                return await snapshot(ops) == want

            await eventually(caught_up, timeout_s=60, what="the service to take every event")
        finally:
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
            await host.stop()


# --------------------------------------------------------------------------- audit


async def test_audit_order_shows_the_cross_service_timeline_and_the_state_as_of(
    history: Stores,
) -> None:
    oid = "ord-r1"
    mine = [(s, e) for s, e in history.appended if e.correlation_id == oid]
    result = await asyncio.to_thread(cli, "audit", "order", oid, "--json", *db_options(history))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    timeline = doc["timeline"]
    assert [e["event_id"] for e in timeline] == [str(e.event_id) for _, e in mine]
    # The connectors' OrderSubmitted is correlated by the platform's reference: the OMS
    # order id does not exist yet when it is recorded.
    assert {e["service"] for e in timeline} == set(SOURCE_SERVICES) - {"connectors"}
    assert timeline[1]["causation_id"] == timeline[0]["event_id"]
    assert doc["state"]["orders"][0]["status"] == "partially_returned"
    assert doc["state"]["shipments"][0]["failed_attempts"] == 1
    assert doc["state"]["returns"][0]["status"] == "resolved"
    assert doc["state"]["feedback"][0]["rating"] == 4

    confirmed = next(e for _, e in mine if e.type == "OrderConfirmed")
    then = await asyncio.to_thread(
        cli, "audit", "order", oid, "--json", "--as-of", confirmed.occurred_at.isoformat(),
        *db_options(history),
    )  # fmt: skip
    doc = json.loads(then.stdout)
    assert [e["type"] for e in doc["timeline"]] == [
        "OrderPlaced",
        "StockReserved",
        "PaymentAuthorized",
        "OrderConfirmed",
    ]
    assert doc["state"]["orders"][0]["status"] == "confirmed"
    assert "shipments" not in doc["state"] and "returns" not in doc["state"]

    table = await asyncio.to_thread(cli, "audit", "order", oid, *db_options(history))
    assert table.exit_code == 0
    assert "ShipmentDeliveryFailed" in table.stdout and "partially_returned" in table.stdout
    none = await asyncio.to_thread(cli, "audit", "order", "ord-nope", *db_options(history))
    assert none.exit_code == 1 and "no events about ord-nope" in none.stdout
    bad = await asyncio.to_thread(cli, "audit", "order", oid, "--as-of", "yesterday-ish")
    assert bad.exit_code == 2 and "not an ISO 8601" in bad.output


async def test_audit_export_parses_back_to_the_stored_events_with_filters(
    history: Stores,
) -> None:
    every = [env for _, env in history.appended]
    for fmt in ("jsonl", "csv"):
        result = await asyncio.to_thread(
            cli, "audit", "export", "--format", fmt, *db_options(history)
        )
        assert result.exit_code == 0, result.output
        rows = read_export(result.stdout, fmt)
        by_id = {r["event_id"]: r for r in rows}
        assert len(rows) == len(by_id) == len(every)
        for env in every:
            row = by_id[str(env.event_id)]
            assert row["payload"] == env.payload and row["type"] == env.type
            assert (row["stream_id"], row["stream_version"]) == (env.stream_id, env.stream_version)
            assert datetime.fromisoformat(row["occurred_at"]) == env.occurred_at
            assert row["causation_id"] == env.causation_id and row["actor"] == env.actor
            assert row["service"] == env.producer

    start, end = every[10].occurred_at, every[30].occurred_at
    ranged = await asyncio.to_thread(
        cli, "audit", "export", "--from", start.isoformat(), "--to", end.isoformat(),
        *db_options(history),
    )  # fmt: skip
    got = {r["event_id"] for r in read_export(ranged.stdout, "jsonl")}
    assert got == {str(e.event_id) for e in every if start <= e.occurred_at < end}
    assert len(got) == 20

    stream = await asyncio.to_thread(
        cli, "audit", "export", "--stream", "shipment-shp-ord-r2", "--format", "csv",
        "--service", "shipping", *db_options(history),
    )  # fmt: skip
    assert [r["type"] for r in read_export(stream.stdout, "csv")] == [
        "ShipmentBooked",
        "ShipmentDispatched",
        "ShipmentDeliveryFailed",
        "ShipmentDelivered",
    ]
    backwards = await asyncio.to_thread(
        cli, "audit", "export", "--from", "2026-05-04", "--to", "2026-05-02"
    )
    assert backwards.exit_code == 2 and "--to must be after --from" in backwards.output


async def test_audit_verify_passes_then_reports_an_event_altered_in_the_database(
    history: Stores, tmp_path: Path
) -> None:
    # These stores were written with the tests' chain key and no anchor publisher (the
    # anchors are tests/integration/test_anchors.py's).
    key_file = tmp_path / "chain.key"
    key_file.write_text(TEST_CHAIN_KEY.hex())
    options = [*db_options(history), "--chain-key", str(key_file), "--no-anchors"]
    services = [o for s in SOURCE_SERVICES for o in ("--service", s)]
    clean = await asyncio.to_thread(cli, "audit", "verify", *services, *options)
    assert clean.exit_code == 0, clean.output
    streams = len({e.stream_id for _, e in history.appended})
    assert f"{streams} streams, {len(history.appended)} events verified" in clean.stdout

    payments = history.dsns["payments"]
    target = next(e for _, e in history.appended if e.type == "PaymentCaptured")
    alter = (
        "UPDATE events SET payload = jsonb_set(payload, '{amount,amount}', %s::jsonb) "
        "WHERE stream_id = %s AND stream_version = %s"
    )
    with psycopg.connect(payments, autocommit=True) as conn:
        conn.execute(alter, ('"0.01"', target.stream_id, target.stream_version))
    try:
        broken = await asyncio.to_thread(cli, "audit", "verify", "--json", *services, *options)
        assert broken.exit_code == 1
        assert json.loads(broken.stdout)["breaks"] == [
            {
                "service": "payments",
                "stream_id": target.stream_id,
                "stream_version": target.stream_version,
                "kind": "altered",
                "detail": "stored hash does not match content",
            }
        ]
        shown = await asyncio.to_thread(cli, "audit", "verify", *services, *options)
        assert shown.exit_code == 1 and target.stream_id in shown.stdout
        only_order = await asyncio.to_thread(cli, "audit", "verify", "--service", "order", *options)
        assert only_order.exit_code == 0
    finally:
        with psycopg.connect(payments, autocommit=True) as conn:
            amount = json.dumps(target.payload["amount"]["amount"])
            conn.execute(alter, (amount, target.stream_id, target.stream_version))
    again = await asyncio.to_thread(cli, "audit", "verify", *services, *options)
    assert again.exit_code == 0, again.output
