"""Projections: pure functions over events, a runner that keeps read models current.

The runner reads the service's store in commit order after the projection's checkpoint
and writes the read model and the new checkpoint in one transaction, so a crash never
leaves a read model ahead of or behind its checkpoint. ``rebuild`` empties the read
model and replays from position zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_events.envelope import Envelope
from oms_platform.eventstore.model import START, RecordedEvent
from oms_platform.eventstore.postgres import PostgresEventStore
from oms_platform.health import LoopStatus
from oms_platform.logging import get_logger

log = get_logger(__name__)


class Projection(Protocol):
    """A read model: how to create, empty and update it from one event."""

    name: str

    async def setup(self, conn: AsyncConnection) -> None: ...

    async def reset(self, conn: AsyncConnection) -> None: ...

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None: ...


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
    """Keeps one projection up to date with one service's event store."""

    def __init__(
        self, store: PostgresEventStore, projection: Projection, *, batch_size: int = 500
    ) -> None:
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        self.checkpoint_name = f"projection:{projection.name}"
        self.status = LoopStatus(self.checkpoint_name)

    async def setup(self) -> None:
        async with self.store.unit_of_work() as uow:
            await self.projection.setup(uow.connection)

    async def run_once(self) -> int:
        """Apply the next batch and move the checkpoint, in one transaction."""
        async with self.store.unit_of_work() as uow:
            after = await uow.load_checkpoint(self.checkpoint_name)
            batch = await self.store.read_all(after, limit=self.batch_size)
            for rec in batch:
                await self.projection.apply(uow.connection, rec)
            if batch:
                await uow.save_checkpoint(self.checkpoint_name, batch[-1].commit_position)
        return len(batch)

    async def catch_up(self) -> int:
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def rebuild(self) -> int:
        """Empty the read model, rewind the checkpoint to zero and replay everything."""
        async with self.store.unit_of_work() as uow:
            await self.projection.reset(uow.connection)
            await uow.save_checkpoint(self.checkpoint_name, START)
        total = await self.catch_up()
        log.info("projection.rebuilt", projection=self.projection.name, events=total)
        return total

    async def run(self, stop: asyncio.Event, idle_sleep_s: float = 0.1) -> None:
        while not stop.is_set():
            applied = await self.run_once()
            self.status.ok()
            if applied == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_sleep_s)
