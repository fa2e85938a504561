"""What every event store offers; the PostgreSQL store and the in-memory fake both do."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from oms_events.envelope import Envelope
from oms_platform.eventstore.model import Finding, Position, RecordedEvent


class DuplicateDelivery(Exception):
    """This consumer already processed this event (possibly concurrently): drop the work."""


class UnitOfWork(Protocol):
    """One transaction: appends, inbox marks and checkpoints commit together or not at all.

    ``connection`` is the SQLAlchemy ``AsyncConnection`` of the transaction on the
    PostgreSQL store, for a handler's own effects (read models); ``None`` on the fake.
    """

    connection: Any

    async def append(self, events: Sequence[Envelope]) -> None:
        """Stage an append in this transaction; see ``EventStore.append`` for the rules."""

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]: ...

    async def already_processed(self, consumer: str, event_id: uuid.UUID) -> bool: ...

    async def mark_processed(self, consumer: str, event_id: uuid.UUID) -> None:
        """Record the inbox row; raises ``DuplicateDelivery`` if it is there already."""

    async def claim(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Record the inbox rows of ``event_ids`` not there yet, in one statement, and
        return those: the events this unit of work is to handle (the rest are duplicates).
        Rolled back with the unit of work, like everything in it."""

    extras: dict[str, Any]
    """A handler's own state for this transaction (rows it writes once, at the end)."""

    def before_commit(self, key: str, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` inside the transaction once the work is done, before the
        commit; a second callback under the same ``key`` is dropped (register freely)."""

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction committed (never after a rollback): for
        in-memory caches of what this unit of work wrote."""

    async def save_checkpoint(self, name: str, position: Position) -> None: ...

    async def load_checkpoint(self, name: str) -> Position: ...


class EventStore(Protocol):
    """An append-only store of envelopes, grouped in streams, read in commit order."""

    def unit_of_work(self, *, deferred: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction; ``deferred``: appends are checked and written when it ends
        (one write for many appends), and reads see what was staged."""
        ...

    async def append(self, events: Sequence[Envelope]) -> list[RecordedEvent]:
        """Append atomically in a unit of work of its own.

        Each envelope carries its ``stream_version``; a stream must stand at the version
        just before its first new event, else ``ConcurrencyConflict`` and nothing is stored.
        """

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]: ...

    async def read_all(self, after: Position = ..., limit: int = 1000) -> list[RecordedEvent]:
        """Committed events after ``after`` in commit order, never skipping a late commit."""

    async def load_checkpoint(self, name: str) -> Position: ...

    async def verify(
        self,
        stream_ids: Sequence[str] | None = None,
        anchored: Mapping[str, tuple[int, bytes]] | None = None,
    ) -> list[Finding]:
        """Recompute every hash chain with the chain key; report altered and missing events
        and disagreeing heads, and each stream of ``anchored`` (stream id -> the (version,
        hash) of its last verified anchor) rewritten, truncated or deleted since."""
