"""Read model: every fulfilment as a warehouse lists it, by warehouse and status.

``GET /v1/warehouses/{code}/picklists?status=open`` reads it. :func:`project` is the pure
function from one fulfilment event to the fulfilment's document (tested without a
database); :class:`PicklistsProjection` keeps ``fulfilment_picklists`` with it (a runner
over the service's store, so it lags a command by a moment); :class:`DerivedPicklists`
folds the same documents from the store on every query, for a host on the in-memory
store.

A document: ``fulfilment_id``, ``order_id``, ``warehouse``, ``status`` (``open``,
``picked``, ``packed``, ``cancelled``), ``lines`` (the pick list, per SKU), ``picked`` and
``missing`` (after a pick), ``parcels`` (how many boxes, once packed), ``requested_at`` and
``updated_at`` (the events' times).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.base import Event
from oms_events.contracts.common import SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    OrderPicked,
    ParcelsPacked,
    ShortPicked,
)
from oms_events.envelope import Envelope
from oms_events.registry import registry
from oms_fulfilment.domain.fulfilment import FulfilmentStatus
from oms_platform.eventstore.base import EventStore
from oms_platform.eventstore.model import START, RecordedEvent

Doc = dict[str, Any]

NAME = "fulfilment_picklists"

TYPES = frozenset(
    cls.event_type
    for cls in (
        FulfilmentRequested,
        OrderPicked,
        ShortPicked,
        OrderPacked,
        ParcelsPacked,
        FulfilmentCancelled,
    )
)

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS fulfilment_picklists (
        fulfilment_id  text PRIMARY KEY,
        warehouse_id   text NOT NULL,
        status         text NOT NULL,
        requested_at   timestamptz NOT NULL,
        doc            jsonb NOT NULL,
        position       bigint NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS fulfilment_picklists_by_warehouse "
    "ON fulfilment_picklists (warehouse_id, status, requested_at, fulfilment_id)",
)


def _lines(lines: Iterable[SkuQuantity]) -> list[dict[str, Any]]:
    return [{"sku": ln.sku, "quantity": ln.quantity} for ln in lines]


def project(doc: Doc | None, env: Envelope) -> Doc | None:
    """The fulfilment's document after ``env`` (``doc`` before it; None: not known yet).

    Events of other types leave it as it is; a later event of an unknown fulfilment
    (which its stream's order rules out) is ignored.
    """
    if env.type not in TYPES:
        return doc
    event: Event = registry.parse(env)
    at = env.occurred_at.isoformat()
    if isinstance(event, FulfilmentRequested):
        return {
            "fulfilment_id": event.fulfilment_id,
            "order_id": event.order_id,
            "warehouse": event.warehouse_id,
            "status": FulfilmentStatus.OPEN.value,
            "lines": _lines(event.lines),
            "picked": [],
            "missing": [],
            "parcels": 0,
            "requested_at": at,
            "updated_at": at,
        }
    if doc is None:
        return None
    doc = {**doc, "updated_at": at}
    match event:
        case OrderPicked():
            doc |= {"status": FulfilmentStatus.PICKED.value, "picked": _lines(event.lines)}
        case ShortPicked():
            doc |= {"status": FulfilmentStatus.PICKED.value, "missing": _lines(event.missing)}
        case OrderPacked():
            doc |= {"status": FulfilmentStatus.PACKED.value}
        case ParcelsPacked():
            doc |= {"parcels": len(event.parcels)}
        case FulfilmentCancelled():
            doc |= {"status": FulfilmentStatus.CANCELLED.value}
    return doc


def key(env: Envelope) -> str | None:
    """The fulfilment an event is about (its stream is ``fulfilment-<id>``), if any."""
    if env.type not in TYPES:
        return None
    fulfilment_id = env.payload.get("fulfilment_id")
    return fulfilment_id if isinstance(fulfilment_id, str) else None


@dataclass(frozen=True, slots=True)
class Page:
    """Up to ``limit`` pick lists, oldest request first, and whether more match."""

    picklists: list[Doc]
    more: bool


class Picklists(Protocol):
    async def find(self, warehouse: str, status: str, limit: int) -> Page: ...


class PicklistsProjection:
    """Keeps ``fulfilment_picklists``: a batch in three round trips (read, fold, upsert)."""

    name = NAME

    async def setup(self, conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.fulfilment.tables'))"))
        for statement in SCHEMA:
            await conn.execute(text(statement))

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(text("DELETE FROM fulfilment_picklists"))

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None:
        await self.apply_batch(conn, [rec])

    async def apply_batch(self, conn: AsyncConnection, records: Sequence[RecordedEvent]) -> None:
        keyed = [(k, rec) for rec in records if (k := key(rec.envelope)) is not None]
        if not keyed:
            return
        wanted = sorted({k for k, _ in keyed})
        rows = await conn.execute(
            text(
                "SELECT fulfilment_id, doc FROM fulfilment_picklists WHERE fulfilment_id = ANY(:k)"
            ),
            {"k": wanted},
        )
        docs: dict[str, Doc | None] = {r.fulfilment_id: dict(r.doc) for r in rows}
        positions: dict[str, int] = {}
        for k, rec in keyed:
            docs[k] = project(docs.get(k), rec.envelope)
            positions[k] = rec.position
        upserts = [
            {
                "id": k,
                "wh": doc["warehouse"],
                "status": doc["status"],
                "at": doc["requested_at"],
                "doc": json.dumps(doc),
                "pos": positions[k],
            }
            for k, doc in docs.items()
            if doc is not None and k in positions
        ]
        if upserts:
            await conn.execute(_UPSERT, upserts)


_UPSERT = text(
    "INSERT INTO fulfilment_picklists "
    "(fulfilment_id, warehouse_id, status, requested_at, doc, position) "
    "VALUES (:id, :wh, :status, CAST(:at AS timestamptz), CAST(:doc AS jsonb), :pos) "
    "ON CONFLICT (fulfilment_id) DO UPDATE SET status = EXCLUDED.status, "
    "doc = EXCLUDED.doc, position = EXCLUDED.position"
)


class SqlPicklists:
    """Pick lists from ``fulfilment_picklists``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def find(self, warehouse: str, status: str, limit: int) -> Page:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT doc FROM fulfilment_picklists "
                    "WHERE warehouse_id = :wh AND status = :status "
                    "ORDER BY requested_at, fulfilment_id LIMIT :limit"
                ),
                {"wh": warehouse, "status": status, "limit": limit + 1},
            )
            docs = [dict(r.doc) for r in rows]
        return Page(docs[:limit], len(docs) > limit)


_PAGE = 1000


class DerivedPicklists:
    """The same documents folded from ``store`` on every query (no table): for a host on
    the in-memory store, never used in production."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def find(self, warehouse: str, status: str, limit: int) -> Page:
        docs: dict[str, Doc | None] = {}
        after = START
        while page := await self.store.read_all(after, _PAGE):
            for rec in page:
                k = key(rec.envelope)
                if k is not None:
                    docs[k] = project(docs.get(k), rec.envelope)
            after = page[-1].commit_position
        matching = [
            d for d in docs.values() if d and d["warehouse"] == warehouse and d["status"] == status
        ]
        found = sorted(
            matching,
            key=lambda d: (d["requested_at"], d["fulfilment_id"]),
        )
        return Page(found[:limit], len(found) > limit)
