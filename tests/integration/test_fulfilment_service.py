"""The fulfilment service against the real stack: Kafka in, HTTP for the warehouse, events out.

The service runs in-process on the module's scratch database under its own topic prefix.
The test publishes the inventory's ``SkuRegistered`` and an ``OrderConfirmed`` split over
two warehouses on the prefixed topics, works the pick lists over HTTP as a warehouse app
would (one short pick, one pack), checks what the service published on the prefixed
``oms.fulfilment.events``, and that the order confirmed again (the same message, and the
same order under a new event id) creates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.base import Event
from oms_events.codec import encode_envelope
from oms_events.contracts.common import Address, Allocation
from oms_events.contracts.inventory import SkuRegistered
from oms_events.contracts.order import (
    CancellationReason,
    CancelledBy,
    OrderCancellationRequested,
    OrderConfirmed,
)
from oms_events.registry import envelope_for
from oms_events.topics import FULFILMENT_EVENTS
from oms_fulfilment.app import create_app
from oms_fulfilment.consumers import CONSUMERS, handler
from oms_fulfilment.domain.commands import PickedLine, RecordPick
from oms_fulfilment.domain.packaging import ItemSize
from oms_fulfilment.handlers import Cause, Fulfilments
from oms_fulfilment.order_fulfilments import SqlOrderFulfilments
from oms_fulfilment.settings import FulfilmentSettings
from oms_fulfilment.sizes import InMemoryItemSizes
from oms_platform.commands import run_command
from oms_platform.consumer import Delivery, MessageProcessor, Outcome, Subscription
from oms_platform.db import create_engine
from oms_platform.eventstore import ConcurrencyConflict, PostgresEventStore
from oms_platform.eventstore.base import EventStore, UnitOfWork
from oms_platform.refusal import Refusal
from oms_platform.service import ServiceHost
from oms_platform.settings import RetrySettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import TestTopics, eventually
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

pytestmark = pytest.mark.integration

ADDRESS = Address(
    recipient="Test Customer", line1="Hoofdstraat 1", postal_code="1000", city="X", country="NL"
)
TEE = SkuRegistered(
    sku="TEE", name="Tee", weight_grams=180, length_mm=300, width_mm=250, height_mm=20
)
MUG = SkuRegistered(
    sku="MUG", name="Mug", weight_grams=350, length_mm=120, width_mm=90, height_mm=95
)


def confirmed(order_id: str, *allocations: tuple[str, str, int]) -> OrderConfirmed:
    return OrderConfirmed(
        order_id=order_id,
        allocations=tuple(
            Allocation(line_id=str(i), sku=sku, warehouse_id=wh, quantity=q)
            for i, (sku, wh, q) in enumerate(allocations, 1)
        ),
        shipping_address=ADDRESS,
    )


@dataclass
class Running:
    engine: AsyncEngine
    client: httpx.AsyncClient
    kafka: TestTopics
    host: ServiceHost

    async def scalar(self, sql: str, **params: Any) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())

    async def picklists(self, warehouse: str, status: str = "open") -> list[dict[str, Any]]:
        resp = await self.client.get(
            f"/v1/warehouses/{warehouse}/picklists", params={"status": status}
        )
        assert resp.status_code == 200, resp.text
        found: list[dict[str, Any]] = resp.json()["picklists"]
        return found


@pytest.fixture
async def fulfilment(clean_db: str, topics: TestTopics) -> AsyncIterator[Running]:
    settings = FulfilmentSettings(
        **service_keys(),
        database_dsn=SecretStr(clean_db),
        **topics.kafka.settings(),
        topic_prefix=topics.prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
    )
    host = create_app(settings)
    await host.start()
    transport = httpx.ASGITransport(app=host.api)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fulfilment", headers=auth.headers()
        ) as client:
            yield Running(host.engine, client, topics, host)
    finally:
        await host.stop()


async def test_a_split_order_is_picked_short_packed_and_never_requested_twice(
    fulfilment: Running,
) -> None:
    f, k, c = fulfilment, fulfilment.kafka, fulfilment.client
    order = f"ord-{uuid.uuid4().hex[:12]}"
    ams, ber = f"ful-{order}-AMS", f"ful-{order}-BER"

    # The SKU master's sizes arrive from inventory first (packing needs them).
    for sku in (TEE, MUG):
        await k.publish(sku, key=sku.sku)

    async def sizes_known() -> bool:
        return await f.scalar("SELECT count(*) FROM fulfilment_item_sizes") == 2

    await eventually(sizes_known, timeout_s=60, what="the SKU sizes")

    # Two tees and a mug from Amsterdam, one tee from Berlin: two fulfilments.
    split = confirmed(order, ("TEE", "AMS", 2), ("MUG", "AMS", 1), ("TEE", "BER", 1))
    first = await k.publish(split, key=order)

    async def two_open() -> bool:
        return len(await f.picklists("AMS")) == 1 and len(await f.picklists("BER")) == 1

    await eventually(two_open, timeout_s=60, what="an open pick list in AMS and in BER")
    [ams_list] = await f.picklists("AMS")
    [ber_list] = await f.picklists("BER")
    assert ams_list["fulfilment_id"] == ams and ams_list["order_id"] == order
    assert ams_list["lines"] == [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}]
    assert ber_list["fulfilment_id"] == ber
    assert ber_list["lines"] == [{"sku": "TEE", "quantity": 1}]

    # Amsterdam finds one tee of two (a short pick), Berlin everything.
    short = {"lines": [{"sku": "TEE", "quantity": 1}, {"sku": "MUG", "quantity": 1}]}
    picked = await c.post(f"/v1/fulfilments/{ams}/picked", json=short)
    assert picked.status_code == 201, picked.text
    assert picked.json()["recorded"] == ["OrderPicked", "ShortPicked"]
    full = await c.post(
        f"/v1/fulfilments/{ber}/picked", json={"lines": [{"sku": "TEE", "quantity": 1}]}
    )
    assert full.status_code == 201 and full.json()["recorded"] == ["OrderPicked"]
    packed = await c.post(f"/v1/fulfilments/{ams}/packed")
    assert packed.status_code == 201, packed.text
    assert packed.json()["recorded"] == ["OrderPacked", "ParcelsPacked"]
    assert (await c.get(f"/v1/fulfilments/{ams}")).json()["status"] == "packed"

    events, _ = await f.kafka.published(FULFILMENT_EVENTS, expect=7)
    by_type = Counter(e.type for e in events)
    assert by_type == {
        "FulfilmentRequested": 2,
        "OrderPicked": 2,
        "ShortPicked": 1,
        "OrderPacked": 1,
        "ParcelsPacked": 1,
    }
    assert {e.correlation_id for e in events} == {order}  # keyed by the order
    requested = [e for e in events if e.type == "FulfilmentRequested"]
    assert {e.causation_id for e in requested} == {str(first.event_id)}
    [short_picked] = [e for e in events if e.type == "ShortPicked"]
    assert short_picked.payload["fulfilment_id"] == ams
    assert short_picked.payload["missing"] == [{"sku": "TEE", "quantity": 1}]
    [order_packed] = [e for e in events if e.type == "OrderPacked"]
    assert order_packed.payload["lines"] == short["lines"]
    [parcels] = [e for e in events if e.type == "ParcelsPacked"]
    [parcel] = parcels.payload["parcels"]
    assert parcel["box"] == "BOX-M" and parcel["parcel_id"] == f"{ams}-1"
    assert parcel["weight_grams"] == order_packed.payload["weight_grams"] == 180 + 350 + 300

    # The same message again (a redelivery), then the same order under a new event id.
    await k.send(first)
    again = await k.publish(split, key=order)

    async def handled_again() -> bool:
        return (
            await f.scalar("SELECT count(*) FROM inbox WHERE event_id = :id", id=again.event_id)
            == 1
        )

    # Same key, same partition: once the second is handled, the redelivery was too.
    await eventually(handled_again, timeout_s=60, what="the order confirmed again")
    assert await f.scalar("SELECT count(*) FROM inbox WHERE event_id = :id", id=first.event_id) == 1
    assert await f.scalar("SELECT count(*) FROM events") == 7
    assert await f.scalar("SELECT count(*) FROM events WHERE type = 'FulfilmentRequested'") == 2
    assert await f.scalar("SELECT count(*) FROM dead_letters") == 0
    assert await f.picklists("AMS") == [] and await f.picklists("BER") == []
    assert [p["fulfilment_id"] for p in await f.picklists("AMS", "packed")] == [ams]
    assert [p["fulfilment_id"] for p in await f.picklists("BER", "picked")] == [ber]
    events, records = await f.kafka.published(FULFILMENT_EVENTS, expect=7)
    assert len(events) == 7 and len(records) == 7  # nothing new was published


async def test_cancellation_requests_are_answered_on_the_fulfilment_topic(
    fulfilment: Running,
) -> None:
    f, k, c = fulfilment, fulfilment.kafka, fulfilment.client
    for sku in (TEE, MUG):
        await k.publish(sku, key=sku.sku)
    late, early = (f"ord-{uuid.uuid4().hex[:12]}" for _ in range(2))
    for order in (late, early):
        await k.publish(confirmed(order, ("MUG", "AMS", 1), ("TEE", "BER", 1)), key=order)

    async def four_open() -> bool:
        return len(await f.picklists("AMS")) == 2 and len(await f.picklists("BER")) == 2

    await eventually(four_open, timeout_s=60, what="two open pick lists in AMS and in BER")
    # Amsterdam packs the late order's mug before its cancellation is asked for.
    packed_mug = f"ful-{late}-AMS"
    mug = {"lines": [{"sku": "MUG", "quantity": 1}]}
    assert (await c.post(f"/v1/fulfilments/{packed_mug}/picked", json=mug)).status_code == 201
    assert (await c.post(f"/v1/fulfilments/{packed_mug}/packed")).status_code == 201

    # Each request published right after its order's confirmation, on the same key.
    for order in (late, early):
        request = OrderCancellationRequested(
            order_id=order,
            reason=CancellationReason.FRAUD_SUSPECTED,
            cancelled_by=CancelledBy.STAFF,
            detail="card reported stolen",
        )
        await k.publish(request, key=order)
    # 4 requested, picked + packed (3) of the late order; then its refusal, and the early
    # order's two cancellations and its acceptance.
    events, _ = await k.published(FULFILMENT_EVENTS, expect=11)
    [refused] = [e for e in events if e.type == "FulfilmentCancellationRefused"]
    assert refused.correlation_id == late and refused.payload["packed"] == [packed_mug]
    [accepted] = [e for e in events if e.type == "FulfilmentCancellationAccepted"]
    assert accepted.correlation_id == early
    assert accepted.payload["fulfilment_ids"] == [f"ful-{early}-AMS", f"ful-{early}-BER"]
    cancelled = [e for e in events if e.type == "FulfilmentCancelled"]
    assert {e.payload["fulfilment_id"] for e in cancelled} == set(
        accepted.payload["fulfilment_ids"]
    )
    assert {e.correlation_id for e in cancelled} == {early}
    assert all("card reported stolen" in e.payload["reason"] for e in cancelled)

    # The late order's Berlin share goes on; the early order's pick lists are gone.
    async def only_late_open() -> bool:
        return [p["order_id"] for p in await f.picklists("BER")] == [late]

    await eventually(only_late_open, timeout_s=30, what="only the late order open in BER")
    assert await f.scalar("SELECT count(*) FROM dead_letters") == 0


async def test_the_backlog_per_warehouse_follows_the_work_and_rebuilds_from_zero(
    fulfilment: Running,
) -> None:
    f, k, c = fulfilment, fulfilment.kafka, fulfilment.client
    for sku in (TEE, MUG):
        await k.publish(sku, key=sku.sku)
    first, second = (f"ord-{uuid.uuid4().hex[:12]}" for _ in range(2))
    await k.publish(
        confirmed(first, ("TEE", "AMS", 2), ("MUG", "AMS", 1), ("TEE", "BER", 1)), key=first
    )
    await k.publish(confirmed(second, ("MUG", "AMS", 4)), key=second)

    async def backlog(warehouse: str) -> dict[str, Any]:
        resp = await c.get(f"/v1/warehouses/{warehouse}/backlog")
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def ams_has(to_pick: dict[str, int]) -> bool:
        found = (await backlog("AMS"))["to_pick"]
        return {n: found[n] for n in ("fulfilments", "units")} == to_pick

    await eventually(
        lambda: ams_has({"fulfilments": 2, "units": 7}), timeout_s=60, what="AMS: 2 to pick"
    )
    # Amsterdam picks and packs the first order; Berlin picks its tee.
    ams, ber = f"ful-{first}-AMS", f"ful-{first}-BER"
    found = {"lines": [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}]}
    assert (await c.post(f"/v1/fulfilments/{ams}/picked", json=found)).status_code == 201
    assert (await c.post(f"/v1/fulfilments/{ams}/packed")).status_code == 201
    tee = {"lines": [{"sku": "TEE", "quantity": 1}]}
    assert (await c.post(f"/v1/fulfilments/{ber}/picked", json=tee)).status_code == 201
    await eventually(
        lambda: ams_has({"fulfilments": 1, "units": 4}), timeout_s=30, what="AMS: 1 to pick"
    )

    async def ber_picked() -> bool:
        to_pack: dict[str, int] = (await backlog("BER"))["to_pack"]
        return to_pack == {"fulfilments": 1, "units": 1}

    await eventually(ber_picked, timeout_s=30, what="BER: 1 to pack")
    now_ams = await backlog("AMS")
    assert now_ams["packed_today"]["fulfilments"] == 1 and now_ams["packed_today"]["units"] == 3
    async with f.engine.connect() as conn:
        requested_at = (
            await conn.execute(
                text("SELECT occurred_at FROM events WHERE stream_id = :s"),
                {"s": f"fulfilment-ful-{second}-AMS"},
            )
        ).scalar_one()
    assert now_ams["to_pick"]["oldest_requested_at"] == requested_at.isoformat()
    assert now_ams["hours"] == {
        "pick": round(4 / 240, 2),
        "pack": round(4 / 180, 2),
        "backlog": round(4 / 180, 2),
    }
    assert now_ams["capacity"] == {"picks_per_hour": 240, "packs_per_hour": 180, "default": False}

    # Dropped and rebuilt from the events, the read model says the same.
    def without_time(body: dict[str, Any]) -> dict[str, Any]:
        return {
            **body,
            "as_of": None,
            "warehouses": [{**w, "as_of": None} for w in body["warehouses"]],
        }

    before = without_time((await c.get("/v1/backlog")).json())
    assert [w["warehouse"] for w in before["warehouses"]] == ["AMS", "BER", "MAD"]
    [runner] = [r for r in f.host.projections if r.projection.name == "fulfilment_backlog"]
    assert await runner.rebuild() == await f.scalar("SELECT count(*) FROM events")
    assert without_time((await c.get("/v1/backlog")).json()) == before


# -- a cancellation request racing the pack, on the real PostgreSQL store ------------------

FREE_RACES = 40
"""Races left to timing (jitter): either outcome, never both."""
FORCED_RACES = 20
"""Races where both sides have read before either appends, and one is let through first:
the other's append must conflict and its retry decide the other way."""

SIDE: contextvars.ContextVar[str] = contextvars.ContextVar("side", default="")
"""Which side of a race the current task is (``pack`` or ``cancel``)."""


@dataclass
class Gate:
    """Holds each side's first append until both have read; then ``winner`` goes first and
    the other only once the winner's unit of work has committed."""

    winner: str
    at_append: dict[str, asyncio.Event] = field(
        default_factory=lambda: {"pack": asyncio.Event(), "cancel": asyncio.Event()}
    )
    winner_done: asyncio.Event = field(default_factory=asyncio.Event)

    async def before_append(self) -> None:
        side = SIDE.get()
        if side not in self.at_append or self.at_append[side].is_set():
            return  # not a side of the race, or a retry: straight through
        self.at_append[side].set()
        both = asyncio.gather(*(e.wait() for e in self.at_append.values()))
        await asyncio.wait_for(both, timeout=10)
        if side != self.winner:
            await asyncio.wait_for(self.winner_done.wait(), timeout=10)


class GatedUnitOfWork:
    def __init__(self, uow: UnitOfWork, gate: Gate) -> None:
        self.uow = uow
        self.gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self.uow, name)

    async def append(self, events: Any) -> None:
        await self.gate.before_append()
        await self.uow.append(events)


class RacingStore:
    """The PostgreSQL store, counting the units of work that ended in a version conflict
    (each is run again by its caller), and gating appends during a forced race."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store
        self.conflicts = 0
        self.gate: Gate | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    @contextlib.asynccontextmanager
    async def unit_of_work(self, *, deferred: bool = False) -> AsyncIterator[Any]:
        try:
            async with self.store.unit_of_work(deferred=deferred) as uow:
                yield uow if self.gate is None else GatedUnitOfWork(uow, self.gate)
        except ConcurrencyConflict:
            self.conflicts += 1
            raise


def delivery(event: Event, key: str, offset: int = 0) -> Delivery:
    env = envelope_for(
        event,
        stream_id=f"test-{uuid.uuid4().hex[:8]}",
        stream_version=1,
        correlation_id=key,
        causation_id=None,
        actor="service:test",
        producer="test",
    )
    return Delivery("oms.order.events", 0, offset, key.encode(), encode_envelope(env), [])


@dataclass
class Race:
    store: RacingStore
    fulfilments: Fulfilments
    processor: MessageProcessor
    orders: Subscription
    dead_letters: list[bytes]

    async def deliver(self, event: Event, key: str) -> Outcome:
        """``event`` through the consumer runtime's own path (inbox, conflict retries)."""
        return await self.processor.process(self.orders, delivery(event, key))

    async def deliver_batch(self, events: list[Event], key: str) -> list[Outcome]:
        """``events`` as one fetch of one partition: one unit of work for all of them."""
        batch = [delivery(e, key, offset) for offset, e in enumerate(events)]
        return await self.processor.process_batch(self.orders, batch)

    async def run(self, work: Callable[[UnitOfWork], Awaitable[list[Event]]]) -> list[Event]:
        """A warehouse command as the route runs it (``run_command``: again on a conflict)."""
        store = cast(EventStore, self.store)
        return await run_command(store, work)

    async def types(self, stream: str) -> list[str]:
        return [r.envelope.type for r in await self.store.store.read_stream(stream)]


@pytest.fixture
async def race(clean_db: str) -> AsyncIterator[Race]:
    engine = create_engine(clean_db, pool_size=8)
    pg = PostgresEventStore(engine, chain_key=TEST_CHAIN_KEY)
    await pg.create_schema()
    orders = SqlOrderFulfilments(engine)
    await orders.create()
    sizes = InMemoryItemSizes({"TEE": ItemSize(300, 250, 20, 180)})
    fulfilments = Fulfilments(sizes, orders=orders)
    store = RacingStore(pg)
    dead: list[bytes] = []

    async def dead_letter(topic: str, key: bytes | None, value: bytes, headers: Any) -> None:
        dead.append(value)

    processor = MessageProcessor(cast(EventStore, store), dead_letter)
    sub = Subscription(
        "orders",
        ("oms.order.events",),
        {cls.event_type: handler(fulfilments, cls) for cls in CONSUMERS["orders"]},
    )
    try:
        yield Race(store, fulfilments, processor, sub, dead)
    finally:
        await pg.close()
        await engine.dispose()


async def pack_against_cancellation(
    race: Race, order: str, rng: random.Random, winner: str | None = None
) -> str:
    """One race on a fresh order of two picked fulfilments; what came out, checked.

    ``winner``: force the race (:class:`Gate`) and let that side append first.
    """
    ams, ber = f"ful-{order}-AMS", f"ful-{order}-BER"
    split = confirmed(order, ("TEE", "AMS", 1), ("TEE", "BER", 1))
    assert await race.deliver(split, order) is Outcome.HANDLED
    for fid in (ams, ber):
        pick = RecordPick(fid, (PickedLine("TEE", 1),))

        async def picked(uow: UnitOfWork, p: RecordPick = pick) -> list[Event]:
            return await race.fulfilments.pick(uow, p, Cause(order))

        await race.run(picked)
    gate = race.store.gate = Gate(winner) if winner is not None else None

    def done(side: str) -> None:
        if gate is not None and side == gate.winner:
            gate.winner_done.set()

    # The request's unit of work does more (inbox, three streams): left to timing, the
    # pack starts a little later on average, so that each side wins some of the races.
    async def pack() -> str:
        SIDE.set("pack")
        await asyncio.sleep(rng.uniform(0, 0.008) if gate is None else 0)
        try:
            await race.run(lambda uow: race.fulfilments.pack(uow, ams, Cause(order)))
        except Refusal as refusal:
            assert refusal.code == "fulfilment_cancelled", refusal
            return "pack refused"
        finally:
            done("pack")
        return "packed"

    async def cancel() -> Outcome:
        SIDE.set("cancel")
        await asyncio.sleep(rng.uniform(0, 0.004) if gate is None else 0)
        request = OrderCancellationRequested(
            order_id=order,
            reason=CancellationReason.CUSTOMER_REQUEST,
            cancelled_by=CancelledBy.CUSTOMER,
        )
        try:
            return await race.deliver(request, order)
        finally:
            done("cancel")

    try:
        packed, handled = await asyncio.gather(pack(), cancel())
    finally:
        race.store.gate = None
    assert handled is Outcome.HANDLED
    answer = await race.types(f"cancellation-{order}")
    on_ams = await race.types(f"fulfilment-{ams}")
    on_ber = await race.types(f"fulfilment-{ber}")
    if packed == "packed":
        assert answer == ["FulfilmentCancellationRefused"], (order, answer)
        assert on_ams[-2:] == ["OrderPacked", "ParcelsPacked"]
        assert "FulfilmentCancelled" not in on_ams + on_ber
    else:
        assert answer == ["FulfilmentCancellationAccepted"], (order, answer)
        assert on_ams[-1] == on_ber[-1] == "FulfilmentCancelled"
        assert "OrderPacked" not in on_ams
    return packed


async def test_a_cancellation_racing_the_pack_comes_out_one_way_only(race: Race) -> None:
    """Pack Amsterdam while the order's cancellation request is handled, many times.

    Either the pack wins (the request is refused, naming Amsterdam, and Berlin goes on)
    or the cancellation wins (both fulfilments cancelled, the pack refused with
    ``fulfilment_cancelled``); never a fulfilment both packed and cancelled.
    """
    rng = random.Random(8)
    free = Counter(
        [await pack_against_cancellation(race, f"ord-free-{i:03}", rng) for i in range(FREE_RACES)]
    )
    assert sum(free.values()) == FREE_RACES  # each came out one way (checked in the race)
    before = race.store.conflicts
    forced: Counter[tuple[str, str]] = Counter()
    for i in range(FORCED_RACES):
        winner = ("pack", "cancel")[i % 2]
        outcome = await pack_against_cancellation(race, f"ord-forced-{i:03}", rng, winner)
        forced[(winner, outcome)] += 1
    print(f"free: {dict(free)}; forced: {dict(forced)}; conflicts: {race.store.conflicts}")
    # Both read the same versions; the first to append wins, the other conflicted, was
    # decided again on the winner's outcome, and went the other way.
    half = FORCED_RACES // 2
    assert forced == {("pack", "packed"): half, ("cancel", "pack refused"): half}, forced
    assert race.store.conflicts - before >= FORCED_RACES
    assert race.dead_letters == []


async def test_a_confirmation_and_its_cancellation_in_one_batch_cancel_together(
    race: Race,
) -> None:
    """The runtime applies a partition's fetch in one unit of work: the request sees the
    fulfilments (and their ids) the confirmation just staged, and cancels them in it."""
    order = "ord-batch-1"
    request = OrderCancellationRequested(
        order_id=order, reason=CancellationReason.FRAUD_SUSPECTED, cancelled_by=CancelledBy.STAFF
    )
    split = confirmed(order, ("TEE", "AMS", 1), ("TEE", "BER", 2))
    outcomes = await race.deliver_batch([split, request], order)
    assert outcomes == [Outcome.HANDLED, Outcome.HANDLED]
    for wh in ("AMS", "BER"):
        assert await race.types(f"fulfilment-ful-{order}-{wh}") == [
            "FulfilmentRequested",
            "FulfilmentCancelled",
        ]
    assert await race.types(f"cancellation-{order}") == ["FulfilmentCancellationAccepted"]
    assert race.store.conflicts == 0 and race.dead_letters == []
