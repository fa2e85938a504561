"""An in-memory event store for unit tests; it passes the same contract suite as PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oms_events.envelope import Envelope
from oms_platform.eventstore.base import DuplicateDelivery
from oms_platform.eventstore.hashing import GENESIS, chain
from oms_platform.eventstore.model import (
    START,
    ConcurrencyConflict,
    Finding,
    Position,
    RecordedEvent,
    group_by_stream,
)
from oms_platform.eventstore.verify import verify_stream


@dataclass
class _State:
    streams: dict[str, list[RecordedEvent]] = field(default_factory=dict)
    heads: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    log: list[RecordedEvent] = field(default_factory=list)
    event_ids: set[uuid.UUID] = field(default_factory=set)
    inbox: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    checkpoints: dict[str, Position] = field(default_factory=dict)
    next_tx: int = 1
    next_position: int = 1
    chain_key: bytes = b""


class InMemoryUnitOfWork:
    """Stages its changes and applies them at commit, checking versions again then.

    Without row locks, a concurrent writer's conflict surfaces at commit rather than at
    ``append``; callers must treat a conflict from either place the same way.
    """

    connection = None

    def __init__(self, state: _State) -> None:
        self._state = state
        self._staged: list[Envelope] = []
        self._inbox: set[tuple[str, uuid.UUID]] = set()
        self._checkpoints: dict[str, Position] = {}
        self._after_commit: list[Callable[[], None]] = []
        self._before: dict[str, Callable[[], Awaitable[None]]] = {}
        self.extras: dict[str, Any] = {}

    def _version(self, stream_id: str) -> int:
        committed = self._state.heads.get(stream_id, (0, GENESIS))[0]
        staged = [e.stream_version for e in self._staged if e.stream_id == stream_id]
        return max([committed, *staged])

    async def append(self, events: Sequence[Envelope]) -> None:
        batches = group_by_stream(events)
        for batch in batches:
            actual = self._version(batch.stream_id)
            if actual != batch.expected_version:
                raise ConcurrencyConflict(batch.stream_id, batch.expected_version, actual)
        for env in events:
            if env.event_id in self._state.event_ids:
                raise ConcurrencyConflict(
                    env.stream_id,
                    env.stream_version - 1,
                    None,
                    f"event id {env.event_id} already stored",
                )
        self._staged.extend(e for b in batches for e in b.events)

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        committed = [
            r
            for r in self._state.streams.get(stream_id, [])
            if r.envelope.stream_version >= from_version
        ]
        staged = [
            RecordedEvent(e, 0, 0, datetime.now(UTC), b"")
            for e in self._staged
            if e.stream_id == stream_id and e.stream_version >= from_version
        ]
        return committed + staged

    async def already_processed(self, consumer: str, event_id: uuid.UUID) -> bool:
        key = (consumer, event_id)
        return key in self._state.inbox or key in self._inbox

    async def mark_processed(self, consumer: str, event_id: uuid.UUID) -> None:
        if await self.already_processed(consumer, event_id):
            raise DuplicateDelivery(f"{consumer} already processed {event_id}")
        self._inbox.add((consumer, event_id))

    async def claim(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        fresh = {e for e in event_ids if not await self.already_processed(consumer, e)}
        self._inbox |= {(consumer, e) for e in fresh}
        return fresh

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def before_commit(self, key: str, callback: Callable[[], Awaitable[None]]) -> None:
        self._before.setdefault(key, callback)

    async def finish(self) -> None:
        while self._before:
            key = next(iter(self._before))
            await self._before.pop(key)()

    async def save_checkpoint(self, name: str, position: Position) -> None:
        self._checkpoints[name] = position

    async def load_checkpoint(self, name: str) -> Position:
        return self._checkpoints.get(name, self._state.checkpoints.get(name, START))

    def commit(self) -> list[RecordedEvent]:
        """Apply everything staged; no await inside, so it is atomic under asyncio."""
        state = self._state
        for batch in group_by_stream(self._staged) if self._staged else []:
            actual = state.heads.get(batch.stream_id, (0, GENESIS))[0]
            if actual != batch.expected_version:
                raise ConcurrencyConflict(batch.stream_id, batch.expected_version, actual)
        for key in self._inbox:
            if key in state.inbox:
                raise DuplicateDelivery(f"{key[0]} already processed {key[1]}")
        for env in self._staged:
            if env.event_id in state.event_ids:
                raise ConcurrencyConflict(
                    env.stream_id,
                    env.stream_version - 1,
                    None,
                    f"event id {env.event_id} already stored",
                )
        tx_id = state.next_tx
        state.next_tx += 1
        now = datetime.now(UTC)
        recorded = []
        for env in self._staged:
            previous = state.heads.get(env.stream_id, (0, GENESIS))[1]
            rec = RecordedEvent(
                env, state.next_position, tx_id, now, chain(state.chain_key, previous, env)
            )
            state.next_position += 1
            state.streams.setdefault(env.stream_id, []).append(rec)
            state.heads[env.stream_id] = (env.stream_version, rec.hash)
            state.log.append(rec)
            state.event_ids.add(env.event_id)
            recorded.append(rec)
        state.inbox |= self._inbox
        state.checkpoints.update(self._checkpoints)
        for callback in self._after_commit:
            callback()
        return recorded


class InMemoryEventStore:
    """Same behaviour as ``PostgresEventStore``, kept in one process's memory.

    ``chain_key`` keys the hash chain as on PostgreSQL (tests pass
    ``oms_platform.testing.keys.TEST_CHAIN_KEY``).
    """

    def __init__(self, chain_key: bytes) -> None:
        self._state = _State(chain_key=chain_key)

    @asynccontextmanager
    async def unit_of_work(self, *, deferred: bool = False) -> AsyncIterator[InMemoryUnitOfWork]:
        # Every unit of work here stages until commit: ``deferred`` changes nothing.
        uow = InMemoryUnitOfWork(self._state)
        yield uow
        await uow.finish()
        uow.commit()

    async def append(self, events: Sequence[Envelope]) -> list[RecordedEvent]:
        uow = InMemoryUnitOfWork(self._state)
        await uow.append(events)
        return uow.commit()

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        return [
            r
            for r in self._state.streams.get(stream_id, [])
            if r.envelope.stream_version >= from_version
        ]

    async def read_all(self, after: Position = START, limit: int = 1000) -> list[RecordedEvent]:
        # The log is appended in commit order, so (tx_id, position) is already ascending.
        return [r for r in self._state.log if r.commit_position > after][:limit]

    async def load_checkpoint(self, name: str) -> Position:
        return self._state.checkpoints.get(name, START)

    async def verify(
        self,
        stream_ids: Sequence[str] | None = None,
        anchored: Mapping[str, tuple[int, bytes]] | None = None,
    ) -> list[Finding]:
        anchored = anchored or {}
        if stream_ids is None:
            ids = sorted({*self._state.heads, *self._state.streams, *anchored})
        else:
            ids = list(stream_ids)
        findings: list[Finding] = []
        for stream_id in ids:
            findings += verify_stream(
                stream_id,
                self._state.streams.get(stream_id, []),
                self._state.heads.get(stream_id),
                self._state.chain_key,
                anchored.get(stream_id),
            )
        return findings

    # Test hooks for the tamper-evidence contract tests: an attacker with write access.
    def tamper_payload(self, stream_id: str, version: int, payload: dict[str, object]) -> None:
        events = self._state.streams[stream_id]
        i = next(i for i, r in enumerate(events) if r.envelope.stream_version == version)
        old = events[i]
        forged = RecordedEvent(
            old.envelope.model_copy(update={"payload": payload}),
            old.position,
            old.tx_id,
            old.recorded_at,
            old.hash,
        )
        events[i] = forged
        self._state.log = [forged if r is old else r for r in self._state.log]

    def tamper_rewrite(
        self, stream_id: str, version: int, payload: dict[str, object], key: bytes
    ) -> None:
        """Change event ``version``'s payload and rechain it and every later event and the
        head consistently, with ``key`` (not the store's: the writer does not hold it)."""
        events = self._state.streams[stream_id]
        previous = GENESIS
        for i, old in enumerate(events):
            env = old.envelope
            if env.stream_version == version:
                env = env.model_copy(update={"payload": payload})
            digest = old.hash if env.stream_version < version else chain(key, previous, env)
            forged = RecordedEvent(env, old.position, old.tx_id, old.recorded_at, digest)
            events[i] = forged
            self._state.log = [forged if r is old else r for r in self._state.log]
            previous = digest
        self._state.heads[stream_id] = (events[-1].envelope.stream_version, previous)

    def tamper_drop_stream(self, stream_id: str) -> None:
        """Delete a stream's events and its head."""
        gone = self._state.streams.pop(stream_id)
        self._state.heads.pop(stream_id, None)
        self._state.log = [r for r in self._state.log if r not in gone]

    def tamper_delete(self, stream_id: str, version: int) -> None:
        events = self._state.streams[stream_id]
        gone = next(r for r in events if r.envelope.stream_version == version)
        events.remove(gone)
        self._state.log.remove(gone)
