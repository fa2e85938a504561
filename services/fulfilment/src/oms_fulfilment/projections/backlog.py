"""Read model: each warehouse's backlog, from one row per fulfilment.

``GET /v1/warehouses/{code}/backlog`` and ``GET /v1/backlog`` read it. :func:`project` is
the pure function from one fulfilment event to the fulfilment's row (its warehouse, stage
and units); :func:`totals` sums rows per warehouse, the way :class:`SqlBacklog` does in
one ``GROUP BY``. :class:`BacklogProjection` keeps ``fulfilment_backlog`` with
:func:`project` (a checkpointed runner over the service's own events, like
``fulfilment_picklists``: a moment behind a command, rebuildable from zero by replay);
:class:`DerivedBacklog` folds the same rows from the store per query, for a host on the
in-memory store.

A row: ``fulfilment_id``, ``warehouse``, ``stage`` (``open``: to pick, ``picked``: to
pack, ``packed``, ``cancelled``), ``units`` (the pick list), ``picked_units`` (units
found), ``packed_units``, ``requested_at`` and ``packed_at`` (the events' times, ISO 8601).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
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
    ShortPicked,
)
from oms_events.envelope import Envelope
from oms_events.registry import registry
from oms_fulfilment.domain.fulfilment import FulfilmentStatus
from oms_platform.eventstore.base import EventStore
from oms_platform.eventstore.model import START, RecordedEvent

Row = dict[str, Any]

NAME = "fulfilment_backlog"

TYPES = frozenset(
    cls.event_type
    for cls in (FulfilmentRequested, OrderPicked, ShortPicked, OrderPacked, FulfilmentCancelled)
)

OPEN, PICKED, PACKED = FulfilmentStatus.OPEN, FulfilmentStatus.PICKED, FulfilmentStatus.PACKED

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS fulfilment_backlog (
        fulfilment_id  text PRIMARY KEY,
        warehouse_id   text NOT NULL,
        stage          text NOT NULL,
        units          integer NOT NULL,
        picked_units   integer NOT NULL,
        packed_units   integer NOT NULL,
        requested_at   timestamptz NOT NULL,
        packed_at      timestamptz,
        position       bigint NOT NULL
    )
    """,
    # The open work is what is asked for all the time; packed rows only by day.
    "CREATE INDEX IF NOT EXISTS fulfilment_backlog_open "
    "ON fulfilment_backlog (warehouse_id, stage) WHERE stage IN ('open', 'picked')",
    "CREATE INDEX IF NOT EXISTS fulfilment_backlog_packed "
    "ON fulfilment_backlog (packed_at) WHERE stage = 'packed'",
)


def _units(lines: Iterable[SkuQuantity]) -> int:
    return sum(line.quantity for line in lines)


def project(row: Row | None, env: Envelope) -> Row | None:
    """The fulfilment's row after ``env`` (``row`` before it; None: not known yet)."""
    if env.type not in TYPES:
        return row
    event: Event = registry.parse(env)
    at = env.occurred_at.isoformat()
    if isinstance(event, FulfilmentRequested):
        return {
            "fulfilment_id": event.fulfilment_id,
            "warehouse": event.warehouse_id,
            "stage": OPEN.value,
            "units": _units(event.lines),
            "picked_units": 0,
            "packed_units": 0,
            "requested_at": at,
            "packed_at": None,
        }
    if row is None:
        return None
    match event:
        case OrderPicked():
            return {**row, "stage": PICKED.value, "picked_units": _units(event.lines)}
        case ShortPicked():
            return {**row, "stage": PICKED.value}
        case OrderPacked():
            return {
                **row,
                "stage": PACKED.value,
                "packed_units": _units(event.lines),
                "packed_at": at,
            }
        case FulfilmentCancelled():
            return {**row, "stage": FulfilmentStatus.CANCELLED.value}
    return row


def key(env: Envelope) -> str | None:
    """The fulfilment an event is about, if it is one this model reads."""
    if env.type not in TYPES:
        return None
    fulfilment_id = env.payload.get("fulfilment_id")
    return fulfilment_id if isinstance(fulfilment_id, str) else None


@dataclass(frozen=True, slots=True)
class WarehouseTotals:
    """One warehouse's open work and what it packed since a moment (the day's start)."""

    warehouse: str
    to_pick_fulfilments: int = 0
    to_pick_units: int = 0
    oldest_to_pick: datetime | None = None
    """When the oldest fulfilment still to pick was requested."""
    to_pack_fulfilments: int = 0
    to_pack_units: int = 0
    packed_fulfilments: int = 0
    packed_units: int = 0


def totals(rows: Iterable[Row], since: datetime) -> dict[str, WarehouseTotals]:
    """Per warehouse: to pick, to pack (picked, not packed), and packed at or after ``since``.

    Warehouses with none of these are left out.
    """
    found: dict[str, WarehouseTotals] = {}
    for row in rows:
        wh, stage = row["warehouse"], row["stage"]
        t = found.get(wh, WarehouseTotals(wh))
        if stage == OPEN:
            at = datetime.fromisoformat(row["requested_at"])
            t = replace(
                t,
                to_pick_fulfilments=t.to_pick_fulfilments + 1,
                to_pick_units=t.to_pick_units + row["units"],
                oldest_to_pick=at if t.oldest_to_pick is None else min(t.oldest_to_pick, at),
            )
        elif stage == PICKED:
            t = replace(
                t,
                to_pack_fulfilments=t.to_pack_fulfilments + 1,
                to_pack_units=t.to_pack_units + row["picked_units"],
            )
        elif stage == PACKED and datetime.fromisoformat(row["packed_at"]) >= since:
            t = replace(
                t,
                packed_fulfilments=t.packed_fulfilments + 1,
                packed_units=t.packed_units + row["packed_units"],
            )
        else:
            continue
        found[wh] = t
    return dict(sorted(found.items()))


class Backlog(Protocol):
    async def totals(
        self, since: datetime, warehouse: str | None = None
    ) -> dict[str, WarehouseTotals]:
        """Per warehouse (only ``warehouse`` if given), as :func:`totals` defines them."""
        ...


class BacklogProjection:
    """Keeps ``fulfilment_backlog``: a batch in three round trips (read, fold, upsert)."""

    name = NAME

    async def setup(self, conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.fulfilment.tables'))"))
        for statement in SCHEMA:
            await conn.execute(text(statement))

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(text("DELETE FROM fulfilment_backlog"))

    async def apply(self, conn: AsyncConnection, rec: RecordedEvent) -> None:
        await self.apply_batch(conn, [rec])

    async def apply_batch(self, conn: AsyncConnection, records: Sequence[RecordedEvent]) -> None:
        keyed = [(k, rec) for rec in records if (k := key(rec.envelope)) is not None]
        if not keyed:
            return
        rows = await conn.execute(
            text(
                "SELECT fulfilment_id, warehouse_id, stage, units, picked_units, packed_units, "
                "requested_at, packed_at FROM fulfilment_backlog WHERE fulfilment_id = ANY(:k)"
            ),
            {"k": sorted({k for k, _ in keyed})},
        )
        known: dict[str, Row | None] = {r.fulfilment_id: _row(r) for r in rows}
        positions: dict[str, int] = {}
        for k, rec in keyed:
            known[k] = project(known.get(k), rec.envelope)
            positions[k] = rec.position
        upserts = [
            {**row, "pos": positions[k]}
            for k, row in known.items()
            if row is not None and k in positions
        ]
        if upserts:
            await conn.execute(_UPSERT, upserts)


def _row(r: Any) -> Row:
    return {
        "fulfilment_id": r.fulfilment_id,
        "warehouse": r.warehouse_id,
        "stage": r.stage,
        "units": r.units,
        "picked_units": r.picked_units,
        "packed_units": r.packed_units,
        "requested_at": r.requested_at.isoformat(),
        "packed_at": r.packed_at.isoformat() if r.packed_at is not None else None,
    }


_UPSERT = text(
    "INSERT INTO fulfilment_backlog (fulfilment_id, warehouse_id, stage, units, picked_units, "
    "packed_units, requested_at, packed_at, position) VALUES (:fulfilment_id, :warehouse, "
    ":stage, :units, :picked_units, :packed_units, CAST(:requested_at AS timestamptz), "
    "CAST(:packed_at AS timestamptz), :pos) "
    "ON CONFLICT (fulfilment_id) DO UPDATE SET stage = EXCLUDED.stage, "
    "picked_units = EXCLUDED.picked_units, packed_units = EXCLUDED.packed_units, "
    "packed_at = EXCLUDED.packed_at, position = EXCLUDED.position"
)

_TOTALS = """
SELECT warehouse_id,
    count(*) FILTER (WHERE stage = 'open') AS to_pick_fulfilments,
    coalesce(sum(units) FILTER (WHERE stage = 'open'), 0) AS to_pick_units,
    min(requested_at) FILTER (WHERE stage = 'open') AS oldest_to_pick,
    count(*) FILTER (WHERE stage = 'picked') AS to_pack_fulfilments,
    coalesce(sum(picked_units) FILTER (WHERE stage = 'picked'), 0) AS to_pack_units,
    count(*) FILTER (WHERE stage = 'packed') AS packed_fulfilments,
    coalesce(sum(packed_units) FILTER (WHERE stage = 'packed'), 0) AS packed_units
FROM fulfilment_backlog
WHERE (stage IN ('open', 'picked') OR (stage = 'packed' AND packed_at >= :since)) {only}
GROUP BY warehouse_id ORDER BY warehouse_id
"""


class SqlBacklog:
    """Totals from ``fulfilment_backlog``, summed by PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def totals(
        self, since: datetime, warehouse: str | None = None
    ) -> dict[str, WarehouseTotals]:
        only = "AND warehouse_id = :wh" if warehouse is not None else ""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(_TOTALS.format(only=only)), {"since": since, "wh": warehouse}
            )
            return {
                r.warehouse_id: WarehouseTotals(
                    warehouse=r.warehouse_id,
                    to_pick_fulfilments=r.to_pick_fulfilments,
                    to_pick_units=r.to_pick_units,
                    oldest_to_pick=r.oldest_to_pick,
                    to_pack_fulfilments=r.to_pack_fulfilments,
                    to_pack_units=r.to_pack_units,
                    packed_fulfilments=r.packed_fulfilments,
                    packed_units=r.packed_units,
                )
                for r in rows
            }


_PAGE = 1000


class DerivedBacklog:
    """The same rows folded from ``store`` on every query (no table): for a host on the
    in-memory store, never used in production."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def totals(
        self, since: datetime, warehouse: str | None = None
    ) -> dict[str, WarehouseTotals]:
        rows: dict[str, Row | None] = {}
        after = START
        while page := await self.store.read_all(after, _PAGE):
            for rec in page:
                k = key(rec.envelope)
                if k is not None:
                    rows[k] = project(rows.get(k), rec.envelope)
            after = page[-1].commit_position
        found = totals((r for r in rows.values() if r is not None), since)
        return found if warehouse is None else {w: t for w, t in found.items() if w == warehouse}
