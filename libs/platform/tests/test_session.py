"""StreamSession: load by folding, record numbered on from each stream, flush atomically."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from oms_events.base import Event
from oms_events.contracts import StockReceived, WarehouseRegistered
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for, registry
from oms_platform.eventstore import (
    ConcurrencyConflict,
    InMemoryEventStore,
    RecordedEvent,
    UnitOfWork,
)
from oms_platform.session import StateCache, StreamNotLoaded, StreamSession, read_state
from oms_platform.testing.keys import TEST_CHAIN_KEY

STOCK = "stock-TEE"
WAREHOUSES = "warehouses"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NO_CODES: tuple[str, ...] = ()


def received(quantity: int) -> StockReceived:
    return example(StockReceived).model_copy(update={"quantity": quantity})


def on_hand(total: int, event: Event) -> int:
    """A toy fold: the units received so far."""
    return total + event.quantity if isinstance(event, StockReceived) else total


def codes(known: tuple[str, ...], event: Event) -> tuple[str, ...]:
    return (*known, event.warehouse_id) if isinstance(event, WarehouseRegistered) else known


async def seed(store: InMemoryEventStore, stream_id: str, events: Sequence[Event]) -> None:
    """Events already in the store, written by someone else before the session."""
    start = len(await store.read_stream(stream_id))
    await store.append(
        [
            envelope_for(
                e,
                stream_id=stream_id,
                stream_version=start + i,
                correlation_id="seed",
                causation_id=None,
                actor="test",
                producer="test",
            )
            for i, e in enumerate(events, start=1)
        ]
    )


def session(uow: UnitOfWork, occurred_at: datetime | None = NOW) -> StreamSession:
    return StreamSession(
        uow,
        producer="inventory",
        correlation_id="ord-1",
        causation_id="cause-1",
        actor="service:inventory",
        occurred_at=occurred_at,
    )


class Spy:
    """A unit of work that remembers what was read (stream, from version, how many)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.connection = None
        self.reads: list[tuple[str, int, int]] = []

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        records = await self.uow.read_stream(stream_id, from_version)
        self.reads.append((stream_id, from_version, len(records)))
        return records

    async def append(self, events: Sequence[Envelope]) -> None:
        await self.uow.append(events)

    def on_commit(self, callback: Callable[[], None]) -> None:
        self.uow.on_commit(callback)


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore(TEST_CHAIN_KEY)


async def test_load_folds_the_stream_and_remembers_its_version(store: InMemoryEventStore) -> None:
    await seed(store, STOCK, [received(3), received(4)])
    async with store.unit_of_work() as uow:
        s = session(uow)
        assert await s.load(STOCK, 0, on_hand) == 7
        assert s.version(STOCK) == 2
        assert await s.load("stock-NONE", 0, on_hand) == 0
        assert s.version("stock-NONE") == 0


async def test_a_stream_is_read_once_per_session(store: InMemoryEventStore) -> None:
    await seed(store, STOCK, [received(3)])
    async with store.unit_of_work() as uow:
        spy = Spy(uow)
        s = session(spy)  # type: ignore[arg-type]
        await s.load(STOCK, 0, on_hand)
        await seed(store, STOCK, [received(100)])
        # The session's state, not the store's: a decision works on what it read.
        assert await s.load(STOCK, 0, on_hand) == 3
    assert spy.reads == [(STOCK, 1, 1)]


async def test_recorded_events_continue_the_stream_and_move_the_state(
    store: InMemoryEventStore,
) -> None:
    await seed(store, STOCK, [received(3), received(4)])
    async with store.unit_of_work() as uow:
        s = session(uow)
        await s.load(STOCK, 0, on_hand)
        s.record(STOCK, [received(1), received(2)])
        assert s.version(STOCK) == 4
        assert await s.load(STOCK, 0, on_hand) == 10
        staged = s.staged
        flushed = await s.flush()
    assert flushed == staged
    assert [e.stream_version for e in flushed] == [3, 4]
    env = flushed[0]
    assert (env.stream_id, env.type, env.producer, env.actor) == (
        STOCK,
        "StockReceived",
        "inventory",
        "service:inventory",
    )
    assert (env.correlation_id, env.causation_id, env.occurred_at) == ("ord-1", "cause-1", NOW)
    stored = [registry.parse(r.envelope) for r in await store.read_stream(STOCK)]
    assert stored == [received(3), received(4), received(1), received(2)]


async def test_envelope_metadata_is_read_when_recording(store: InMemoryEventStore) -> None:
    async with store.unit_of_work() as uow:
        s = session(uow, occurred_at=None)
        await s.load(STOCK, 0, on_hand)
        s.correlation_id = "ord-2"  # learnt from the stream just loaded
        s.record(STOCK, [received(1)])
        [env] = await s.flush()
    assert env.correlation_id == "ord-2"
    assert env.occurred_at.tzinfo is not None


async def test_several_streams_flush_in_one_append(store: InMemoryEventStore) -> None:
    async with store.unit_of_work() as uow:
        s = session(uow)
        await s.load(STOCK, 0, on_hand)
        await s.load(WAREHOUSES, NO_CODES, codes)
        s.record(STOCK, [received(5)])
        s.record(WAREHOUSES, [example(WarehouseRegistered)])
        s.record(STOCK, [received(6)])
        assert [(e.stream_id, e.stream_version) for e in s.staged] == [
            (STOCK, 1),
            (WAREHOUSES, 1),
            (STOCK, 2),
        ]
        await s.flush()
    assert len(await store.read_stream(STOCK)) == 2
    assert len(await store.read_stream(WAREHOUSES)) == 1
    assert len({r.tx_id for r in await store.read_all()}) == 1


async def test_a_conflict_on_one_stream_appends_nothing(store: InMemoryEventStore) -> None:
    await seed(store, WAREHOUSES, [example(WarehouseRegistered)])
    with pytest.raises(ConcurrencyConflict) as conflict:
        async with store.unit_of_work() as uow:
            s = session(uow)
            await s.load(STOCK, 0, on_hand)
            await s.load(WAREHOUSES, NO_CODES, codes)
            # Another writer moves one of the two streams after the session read it.
            await seed(store, WAREHOUSES, [example(WarehouseRegistered)])
            s.record(STOCK, [received(5)])
            s.record(WAREHOUSES, [example(WarehouseRegistered)])
            await s.flush()
    assert conflict.value.stream_id == WAREHOUSES
    assert await store.read_stream(STOCK) == []
    assert len(await store.read_stream(WAREHOUSES)) == 2


async def test_recording_on_an_unloaded_stream_is_refused(store: InMemoryEventStore) -> None:
    async with store.unit_of_work() as uow:
        s = session(uow)
        with pytest.raises(StreamNotLoaded):
            s.record(STOCK, [received(1)])
        with pytest.raises(StreamNotLoaded):
            s.version(STOCK)
        assert not s.loaded(STOCK)
        assert s.staged == []


async def test_flush_with_nothing_staged_is_a_no_op(store: InMemoryEventStore) -> None:
    async with store.unit_of_work() as uow:

        class NoAppend(Spy):
            async def append(self, events: Sequence[Envelope]) -> None:
                raise AssertionError("appended with nothing staged")

        s = session(NoAppend(uow))  # type: ignore[arg-type]
        await s.load(STOCK, 0, on_hand)
        s.record(STOCK, [])
        assert await s.flush() == []
    assert await store.read_all() == []


async def test_known_starts_from_a_cached_version_and_reads_only_newer_events(
    store: InMemoryEventStore,
) -> None:
    await seed(store, STOCK, [received(3), received(4)])
    cached = await read_state(store, STOCK, 0, on_hand)
    assert cached == (7, 2)
    await seed(store, STOCK, [received(10)])
    async with store.unit_of_work() as uow:
        spy = Spy(uow)
        s = session(spy)  # type: ignore[arg-type]
        # The cached state is deliberately off (70, not 7) to prove it is folded onto
        # rather than the stream being replayed from its first event.
        assert await s.load(STOCK, 0, on_hand, known=(2, 70)) == 80
        assert s.version(STOCK) == 3
        s.record(STOCK, [received(1)])
        [env] = await s.flush()
    assert spy.reads == [(STOCK, 3, 1)]
    assert env.stream_version == 4


async def test_a_stale_known_version_ends_in_a_conflict_not_an_overwrite(
    store: InMemoryEventStore,
) -> None:
    await seed(store, STOCK, [received(3)])
    with pytest.raises(ConcurrencyConflict):
        async with store.unit_of_work() as uow:
            s = session(uow)
            # Claims version 1 is the latest, but the store's next write lands first.
            await s.load(STOCK, 0, on_hand, known=(1, 3))
            await seed(store, STOCK, [received(4)])
            s.record(STOCK, [received(1)])
            await s.flush()
    assert [r.envelope.stream_version for r in await store.read_stream(STOCK)] == [1, 2]


async def test_a_cache_gets_the_state_only_once_the_unit_of_work_commits(
    store: InMemoryEventStore,
) -> None:
    await seed(store, STOCK, [received(3)])
    cache: StateCache[int] = StateCache()
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as uow:
            s = session(uow)
            await s.load(STOCK, 0, on_hand, cache=cache)
            s.record(STOCK, [received(5)])
            await s.flush()
            raise RuntimeError("a later handler in the batch failed")
    # Rolled back: caching 8 at version 2 would start the next decision from a ghost.
    assert cache.get(STOCK) is None
    async with store.unit_of_work() as uow:
        s = session(uow)
        await s.load(STOCK, 0, on_hand, cache=cache)
        s.record(STOCK, [received(5)])
        await s.flush()
        assert cache.get(STOCK) is None
    assert cache.get(STOCK) == (2, 8)
    async with store.unit_of_work() as uow:
        spy = Spy(uow)
        assert await session(spy).load(STOCK, 0, on_hand, cache=cache) == 8  # type: ignore[arg-type]
    assert spy.reads == [(STOCK, 3, 0)]  # only what came after the cached version


async def test_a_recorded_but_unflushed_state_is_not_cached(store: InMemoryEventStore) -> None:
    cache: StateCache[int] = StateCache()
    async with store.unit_of_work() as uow:
        s = session(uow)
        await s.load(STOCK, 0, on_hand, cache=cache)
        s.record(STOCK, [received(5)])
    assert cache.get(STOCK) is None


def test_the_cache_is_bounded_and_never_goes_back_a_version() -> None:
    cache: StateCache[int] = StateCache(size=2)
    cache.put("a", 1, 10)
    cache.put("b", 1, 20)
    assert cache.get("a") == (1, 10)  # "a" is now the most recent
    cache.put("c", 1, 30)
    assert cache.get("b") is None and len(cache) == 2
    cache.put("a", 5, 50)
    cache.put("a", 3, 30)  # a slower unit of work committing an older state
    assert cache.get("a") == (5, 50)


async def test_a_created_stream_is_not_read_and_conflicts_if_it_existed(
    store: InMemoryEventStore,
) -> None:
    async with store.unit_of_work() as uow:
        spy = Spy(uow)
        s = session(spy)  # type: ignore[arg-type]
        assert s.create("stock-NEW", 0, on_hand) == 0
        s.record("stock-NEW", [received(2)])
        await s.flush()
    assert spy.reads == []
    assert len(await store.read_stream("stock-NEW")) == 1
    with pytest.raises(ConcurrencyConflict):
        async with store.unit_of_work() as uow:
            s = session(uow)
            s.create("stock-NEW", 0, on_hand)  # an id that was not new after all
            s.record("stock-NEW", [received(2)])
            await s.flush()
    assert len(await store.read_stream("stock-NEW")) == 1


async def test_a_trusted_cache_is_not_read_and_a_stale_entry_is_read_after_its_conflict(
    store: InMemoryEventStore,
) -> None:
    await seed(store, STOCK, [received(3)])
    cache: StateCache[int] = StateCache(trusted=True)
    async with store.unit_of_work() as uow:
        await session(uow).load(STOCK, 0, on_hand, cache=cache)
    assert cache.get(STOCK) == (1, 3)
    await seed(store, STOCK, [received(10)])  # another process wrote: the entry is stale
    with pytest.raises(ConcurrencyConflict):
        async with store.unit_of_work() as uow:
            spy = Spy(uow)
            s = session(spy)  # type: ignore[arg-type]
            assert await s.load(STOCK, 0, on_hand, cache=cache) == 3  # not read: trusted
            assert spy.reads == []
            s.record(STOCK, [received(1)])
            await s.flush()
    # The failed attempt took the entry out: the retry reads the stream and succeeds.
    assert cache.get(STOCK) is None
    async with store.unit_of_work() as uow:
        s = session(uow)
        assert await s.load(STOCK, 0, on_hand, cache=cache) == 13
        s.record(STOCK, [received(1)])
        await s.flush()
    assert cache.get(STOCK) == (3, 14)
