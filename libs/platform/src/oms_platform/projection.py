"""Projections: pure functions over events, a runner that keeps read models current.

The runner reads the service's store in commit order after the projection's checkpoint
and writes the read model and the new checkpoint in one transaction, so a crash never
leaves a read model ahead of or behind its checkpoint. ``rebuild`` empties the read
model and replays from position zero.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_events.envelope import Envelope
from oms_platform.eventstore.model import START, Position, RecordedEvent
from oms_platform.eventstore.postgres import PostgresEventStore
from oms_platform.health import LoopStatus, sleep_or_stop
from oms_platform.logging import get_logger
from oms_platform.notify import IdleWait, Wakeup

log = get_logger(__name__)


class Projection(Protocol):
    """A read model: how to create, empty and update it from one event."""

    name: str

    async def setup(self, conn: AsyncConnection) -> None: ...

    async def reset(self, conn: AsyncConnection) -> None: ...

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None: ...

    # A projection may also offer ``async def apply_batch(conn, records)``, the same as
    # ``apply`` for each record in order but in fewer round trips; the runner uses it.


Doc = dict[str, Any]

_DOCS = """
CREATE TABLE IF NOT EXISTS read_model_documents (
    projection  text NOT NULL,
    key         text NOT NULL,
    doc         jsonb NOT NULL,
    position    bigint NOT NULL,
    PRIMARY KEY (projection, key)
)
"""


class DocumentProjection:
    """A read model of JSON documents, one per key, from a pure function.

    ``key(envelope)`` names the document an event touches (None: not this projection's
    business) and ``project(doc, envelope)`` returns the new document (None deletes it).
    Both are pure, so they are tested without a database.
    """

    def __init__(
        self,
        name: str,
        key: Callable[[Envelope], str | None],
        project: Callable[[Doc | None, Envelope], Doc | None],
    ) -> None:
        self.name = name
        self.key = key
        self.project = project

    async def setup(self, conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.read_models'))"))
        await conn.execute(text(_DOCS))

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(
            text("DELETE FROM read_model_documents WHERE projection = :p"), {"p": self.name}
        )

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None:
        key = self.key(rec.envelope)
        if key is None:
            return
        doc = await self.get(conn, key)
        new = self.project(doc, rec.envelope)
        if new is None:
            await conn.execute(
                text("DELETE FROM read_model_documents WHERE projection = :p AND key = :k"),
                {"p": self.name, "k": key},
            )
            return
        await conn.execute(
            text(
                "INSERT INTO read_model_documents (projection, key, doc, position) "
                "VALUES (:p, :k, CAST(:d AS jsonb), :pos) ON CONFLICT (projection, key) "
                "DO UPDATE SET doc = EXCLUDED.doc, position = EXCLUDED.position"
            ),
            {"p": self.name, "k": key, "d": json.dumps(new), "pos": rec.position},
        )

    async def get(self, conn: AsyncConnection, key: str) -> Doc | None:
        row = (
            await conn.execute(
                text("SELECT doc FROM read_model_documents WHERE projection = :p AND key = :k"),
                {"p": self.name, "k": key},
            )
        ).first()
        return dict(row[0]) if row else None

    async def all(self, conn: AsyncConnection) -> dict[str, Doc]:
        rows = await conn.execute(
            text("SELECT key, doc FROM read_model_documents WHERE projection = :p ORDER BY key"),
            {"p": self.name},
        )
        return {r[0]: dict(r[1]) for r in rows}


class ProjectionRunner:
    """Keeps one projection up to date with one service's event store.

    Several processes may run the same projection: each batch is applied under a
    transaction-scoped advisory lock keyed by the checkpoint name (the lease), so one
    instance applies it and the others find the lock taken and skip that round.
    """

    def __init__(
        self,
        store: PostgresEventStore,
        projection: Projection,
        *,
        batch_size: int = 500,
        idle_poll_s: float = 1.0,
        wakeup: Wakeup | None = None,
        coalesce_s: float = 0.2,
    ) -> None:
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.wakeup = wakeup
        self.coalesce_s = coalesce_s
        self.checkpoint_name = f"projection:{projection.name}"
        self.status = LoopStatus(self.checkpoint_name)
        self.applied = 0
        """Events this runner applied (not those another instance applied)."""
        self.reads = 0
        """Reads of the events table (empty ones included): the idle cost."""
        self._lease = _lease_key(self.checkpoint_name)
        # The newest checkpoint this runner has seen: nothing after it means nothing after
        # the real one either (another instance only moves it forward), so an idle runner
        # asks with one cheap read instead of a whole transaction.
        self._seen: Position | None = None

    async def setup(self) -> None:
        async with self.store.unit_of_work() as uow:
            await self.projection.setup(uow.connection)

    async def run_once(self, *, wait: bool = False) -> int:
        """Apply the next batch and move the checkpoint, in one transaction.

        Returns 0 without reading when another instance holds the projection's lease
        (it is applying a batch right now), unless ``wait``: then it waits for the lease.
        """
        async with self.store.unit_of_work() as uow:
            if not await self._take_lease(uow.connection, wait=wait):
                return 0
            # Read committed: this statement sees the checkpoint the last holder committed.
            after = await uow.load_checkpoint(self.checkpoint_name)
            self._seen = after
            batch = await self._read(after, self.batch_size)
            apply_batch = getattr(self.projection, "apply_batch", None)
            if apply_batch is not None and batch:
                await apply_batch(uow.connection, batch)
            else:
                for rec in batch:
                    await self.projection.apply(uow.connection, rec)
            if batch:
                await uow.save_checkpoint(self.checkpoint_name, batch[-1].commit_position)
        if batch:
            self._seen = batch[-1].commit_position
            self.applied += len(batch)
        return len(batch)

    async def catch_up(self) -> int:
        """Apply batches until none is left (waiting for the lease when another holds it)."""
        total = 0
        while n := await self.run_once(wait=True):
            total += n
        return total

    async def rebuild(self) -> int:
        """Empty the read model, rewind the checkpoint to zero and replay everything."""
        async with self.store.unit_of_work() as uow:
            await self._take_lease(uow.connection, wait=True)
            await self.projection.reset(uow.connection)
            await uow.save_checkpoint(self.checkpoint_name, START)
        self._seen = None
        total = await self.catch_up()
        log.info("projection.rebuilt", projection=self.projection.name, events=total)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the read model current until ``stop``: apply, or wait for a commit."""
        waiter = self.wakeup.waiter() if self.wakeup is not None else None
        idle = IdleWait(waiter, self.idle_poll_s)
        busy = True
        while not stop.is_set():
            if busy or await self._news():
                applied = await self.run_once()
            else:
                applied = 0
            self.status.ok()
            # A full batch: more is waiting, apply it at once. Less: caught up; what came
            # since is asked for with one cheap read (``_news``), not a transaction.
            busy = applied >= self.batch_size
            if applied:
                idle.found()
                if not busy:
                    # Let commits gather for a moment rather than run one transaction per
                    # commit under load (a read model may lag that much; measured: the
                    # projections were a quarter of inventory's CPU at 25 orders/s).
                    await sleep_or_stop(stop, self.coalesce_s)
            else:
                await idle.wait(stop)

    async def _take_lease(self, conn: AsyncConnection, *, wait: bool) -> bool:
        """Lock this projection until the transaction ends; False if another holds it."""
        params = {"space": self._lease[0], "key": self._lease[1]}
        if wait:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), params)
            return True
        result = await conn.execute(text("SELECT pg_try_advisory_xact_lock(:space, :key)"), params)
        return bool(result.scalar_one())

    async def _news(self) -> bool:
        """Whether anything may be after the checkpoint: one read of at most one row."""
        return self._seen is None or bool(await self._read(self._seen, 1))

    async def _read(self, after: Position, limit: int) -> list[RecordedEvent]:
        self.reads += 1
        return await self.store.read_all(after, limit=limit)


_LEASE_SPACE = zlib.crc32(b"oms.projection") - (1 << 31)


def _lease_key(name: str) -> tuple[int, int]:
    """The two-int advisory lock key of projection checkpoint ``name``, stable across
    processes and versions (unlike ``hash``); two-int keys never meet the relay's bigint
    ones."""
    return _LEASE_SPACE, zlib.crc32(name.encode()) - (1 << 31)
