"""What shipping keeps beside its streams: orders it will ship, tracking numbers, a sequence.

Three things the shipment streams cannot answer by themselves:

- **orders** (``shipping_orders``): from each ``OrderPlaced``, the destination (country,
  postal code) and the shipping charge, which ``ParcelsPacked`` does not carry; and which
  shipment of the order carries that charge (the first one booked: payments captures the
  shipping charge with the order's first shipment too);
- **tracking** (``shipping_tracking``): (carrier, tracking number) -> shipment and order,
  to match a carrier's webhook to its shipment, and an order's shipments;
- the **carrier manifest** (``shipping_manifest``): per shipment its carrier, tracking
  number, order, service, dispatch time, status and last update, ``open`` until the
  shipment ends (delivered, lost, returned to sender): what a carrier collects and still
  owes news of (``GET /v1/carriers/{carrier}/manifest``). Kept by the handlers in the
  transaction of the shipment's events, so it never disagrees with the streams;
- the **tracking sequence** (PostgreSQL sequence ``shipping_tracking_sequence``, 1 to
  9,999,999, the widest serial every carrier's format holds): each booking draws the
  next number, which the domain turns into the carrier's tracking number. A sequence is
  unique across restarts and between processes on the same database; a number drawn by
  a unit of work that rolls back is skipped, never reused.

Writes go through the unit of work's own transaction (``uow.connection``), so a booking,
its tracking row and its charge claim commit together or not at all. On the in-memory
store (route tests) :class:`MemoryDirectory` stands in.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.money import Money
from oms_platform.eventstore import UnitOfWork

MAX_SEQUENCE = 9_999_999

SCHEMA = (
    "SELECT pg_advisory_xact_lock(hashtext('oms_shipping_schema'))",
    f"CREATE SEQUENCE IF NOT EXISTS shipping_tracking_sequence MINVALUE 1 "
    f"MAXVALUE {MAX_SEQUENCE} NO CYCLE",
    "CREATE TABLE IF NOT EXISTS shipping_orders ("
    " order_id text PRIMARY KEY, country text NOT NULL, postal_code text,"
    " shipping_charge text NOT NULL, currency text NOT NULL, charged_shipment_id text)",
    "CREATE TABLE IF NOT EXISTS shipping_tracking ("
    " carrier text NOT NULL, tracking_number text NOT NULL, shipment_id text NOT NULL,"
    " order_id text NOT NULL, PRIMARY KEY (carrier, tracking_number))",
    "CREATE INDEX IF NOT EXISTS shipping_tracking_order ON shipping_tracking (order_id)",
    "CREATE TABLE IF NOT EXISTS shipping_manifest ("
    " shipment_id text PRIMARY KEY, carrier text NOT NULL, tracking_number text NOT NULL,"
    " order_id text NOT NULL, service text NOT NULL, dispatched_at timestamptz NOT NULL,"
    " status text NOT NULL, updated_at timestamptz NOT NULL, open boolean NOT NULL)",
    "CREATE INDEX IF NOT EXISTS shipping_manifest_open"
    " ON shipping_manifest (carrier, dispatched_at, shipment_id) WHERE open",
)


MANIFEST_BACKFILL = """
INSERT INTO shipping_manifest (shipment_id, carrier, tracking_number, order_id, service,
                               dispatched_at, status, updated_at, open)
SELECT d.payload->>'shipment_id', d.payload->>'carrier', d.payload->>'tracking_number',
       d.payload->>'order_id', d.payload->>'service', d.occurred_at,
       CASE last.type WHEN 'ShipmentInTransit' THEN 'in_transit'
                      WHEN 'ShipmentDeliveryFailed' THEN 'delivery_failed'
                      WHEN 'ShipmentDelivered' THEN 'delivered'
                      WHEN 'ShipmentReturnedToSender' THEN 'returned_to_sender'
                      WHEN 'ShipmentLost' THEN 'lost'
                      ELSE 'dispatched' END,
       last.occurred_at,
       last.type NOT IN ('ShipmentDelivered', 'ShipmentReturnedToSender', 'ShipmentLost')
FROM events d
CROSS JOIN LATERAL (SELECT l.type, l.occurred_at FROM events l WHERE l.stream_id = d.stream_id
                    ORDER BY l.stream_version DESC LIMIT 1) last
WHERE d.type = 'ShipmentDispatched'
ON CONFLICT (shipment_id) DO NOTHING
"""
"""The manifest of a database whose shipments predate the table, from their streams (once,
when the table is created): each dispatched shipment with its latest status."""


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """What shipping knows of an order from its ``OrderPlaced``."""

    order_id: str
    country: str
    postal_code: str | None
    shipping_charge: Money
    charged_shipment_id: str | None = None


@dataclass(frozen=True, slots=True)
class Tracked:
    shipment_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One shipment on its carrier's manifest."""

    shipment_id: str
    carrier: str
    tracking_number: str
    order_id: str
    service: str
    dispatched_at: datetime
    status: str
    updated_at: datetime
    open: bool = True

    def view(self) -> dict[str, str]:
        return {
            "shipment_id": self.shipment_id,
            "tracking_number": self.tracking_number,
            "order_id": self.order_id,
            "service": self.service,
            "dispatched_at": self.dispatched_at.isoformat(),
            "status": self.status,
            "updated_at": self.updated_at.isoformat(),
        }


class Directory(Protocol):
    async def remember_order(self, uow: UnitOfWork, order: OrderInfo) -> None: ...

    async def order(self, uow: UnitOfWork, order_id: str) -> OrderInfo | None: ...

    async def claim_charge(self, uow: UnitOfWork, order_id: str, shipment_id: str) -> bool:
        """Whether ``shipment_id`` carries the order's shipping charge (the first asking)."""

    async def next_sequence(self, uow: UnitOfWork) -> int: ...

    async def add_tracking(
        self, uow: UnitOfWork, carrier: str, number: str, tracked: Tracked
    ) -> None: ...

    async def find(self, uow: UnitOfWork, carrier: str, number: str) -> Tracked | None: ...

    async def shipments_of(self, order_id: str) -> list[str]: ...

    async def add_to_manifest(self, uow: UnitOfWork, entry: ManifestEntry) -> None:
        """Put a dispatched shipment on its carrier's manifest (once)."""

    async def update_manifest(
        self, uow: UnitOfWork, shipment_id: str, status: str, at: datetime, open: bool
    ) -> None:
        """The shipment's new status; ``open`` false takes it off the manifest."""

    async def manifest(self, carrier: str, limit: int) -> tuple[list[ManifestEntry], bool]:
        """The carrier's open shipments, oldest dispatch first, and whether more remain."""


def _conn(uow: UnitOfWork) -> AsyncConnection:
    conn = uow.connection
    assert isinstance(conn, AsyncConnection), "the SQL directory needs the PostgreSQL store"
    return conn


class SqlDirectory:
    """The directory in the service's PostgreSQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(SCHEMA[0]))  # the lock: one process creates, the others wait
            had_manifest = await conn.scalar(text("SELECT to_regclass('shipping_manifest')"))
            for statement in SCHEMA[1:]:
                await conn.execute(text(statement))
            has_events = await conn.scalar(text("SELECT to_regclass('events')"))
            if had_manifest is None and has_events is not None:
                await conn.execute(text(MANIFEST_BACKFILL))

    async def remember_order(self, uow: UnitOfWork, order: OrderInfo) -> None:
        await _conn(uow).execute(
            text(
                "INSERT INTO shipping_orders (order_id, country, postal_code,"
                " shipping_charge, currency) VALUES (:o, :c, :p, :a, :cur)"
                " ON CONFLICT (order_id) DO NOTHING"
            ),
            {
                "o": order.order_id,
                "c": order.country,
                "p": order.postal_code,
                "a": str(order.shipping_charge.amount),
                "cur": order.shipping_charge.currency,
            },
        )

    async def order(self, uow: UnitOfWork, order_id: str) -> OrderInfo | None:
        row = (
            await _conn(uow).execute(
                text(
                    "SELECT country, postal_code, shipping_charge, currency, charged_shipment_id"
                    " FROM shipping_orders WHERE order_id = :o"
                ),
                {"o": order_id},
            )
        ).first()
        if row is None:
            return None
        charge = Money.of(Decimal(row.shipping_charge), row.currency)
        return OrderInfo(order_id, row.country, row.postal_code, charge, row.charged_shipment_id)

    async def claim_charge(self, uow: UnitOfWork, order_id: str, shipment_id: str) -> bool:
        row = (
            await _conn(uow).execute(
                text(
                    "UPDATE shipping_orders SET charged_shipment_id = :s WHERE order_id = :o"
                    " AND (charged_shipment_id IS NULL OR charged_shipment_id = :s)"
                    " RETURNING 1"
                ),
                {"o": order_id, "s": shipment_id},
            )
        ).first()
        return row is not None

    async def next_sequence(self, uow: UnitOfWork) -> int:
        result = await _conn(uow).execute(text("SELECT nextval('shipping_tracking_sequence')"))
        return int(result.scalar_one())

    async def add_tracking(
        self, uow: UnitOfWork, carrier: str, number: str, tracked: Tracked
    ) -> None:
        await _conn(uow).execute(
            text(
                "INSERT INTO shipping_tracking (carrier, tracking_number, shipment_id, order_id)"
                " VALUES (:c, :n, :s, :o) ON CONFLICT DO NOTHING"
            ),
            {"c": carrier, "n": number, "s": tracked.shipment_id, "o": tracked.order_id},
        )

    async def find(self, uow: UnitOfWork, carrier: str, number: str) -> Tracked | None:
        row = (
            await _conn(uow).execute(
                text(
                    "SELECT shipment_id, order_id FROM shipping_tracking"
                    " WHERE carrier = :c AND tracking_number = :n"
                ),
                {"c": carrier, "n": number},
            )
        ).first()
        return None if row is None else Tracked(row.shipment_id, row.order_id)

    async def shipments_of(self, order_id: str) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT shipment_id FROM shipping_tracking WHERE order_id = :o"
                    " ORDER BY shipment_id"
                ),
                {"o": order_id},
            )
            return [r.shipment_id for r in rows]

    async def add_to_manifest(self, uow: UnitOfWork, entry: ManifestEntry) -> None:
        await _conn(uow).execute(
            text(
                "INSERT INTO shipping_manifest (shipment_id, carrier, tracking_number, order_id,"
                " service, dispatched_at, status, updated_at, open)"
                " VALUES (:s, :c, :n, :o, :svc, :d, :st, :u, :open)"
                " ON CONFLICT (shipment_id) DO NOTHING"
            ),
            {
                "s": entry.shipment_id,
                "c": entry.carrier,
                "n": entry.tracking_number,
                "o": entry.order_id,
                "svc": entry.service,
                "d": entry.dispatched_at,
                "st": entry.status,
                "u": entry.updated_at,
                "open": entry.open,
            },
        )

    async def update_manifest(
        self, uow: UnitOfWork, shipment_id: str, status: str, at: datetime, open: bool
    ) -> None:
        await _conn(uow).execute(
            text(
                "UPDATE shipping_manifest SET status = :st, updated_at = :u, open = :open"
                " WHERE shipment_id = :s"
            ),
            {"s": shipment_id, "st": status, "u": at, "open": open},
        )

    async def manifest(self, carrier: str, limit: int) -> tuple[list[ManifestEntry], bool]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT shipment_id, carrier, tracking_number, order_id, service,"
                    " dispatched_at, status, updated_at, open FROM shipping_manifest"
                    " WHERE carrier = :c AND open ORDER BY dispatched_at, shipment_id"
                    " LIMIT :limit"
                ),
                {"c": carrier, "limit": limit + 1},
            )
            entries = [ManifestEntry(*row) for row in rows]
        return entries[:limit], len(entries) > limit


@dataclass
class MemoryDirectory:
    """The directory in memory, for the in-memory store (not transactional)."""

    orders: dict[str, OrderInfo] = field(default_factory=dict)
    tracking: dict[tuple[str, str], Tracked] = field(default_factory=dict)
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    manifests: dict[str, ManifestEntry] = field(default_factory=dict)

    async def remember_order(self, uow: UnitOfWork, order: OrderInfo) -> None:
        self.orders.setdefault(order.order_id, order)

    async def order(self, uow: UnitOfWork, order_id: str) -> OrderInfo | None:
        return self.orders.get(order_id)

    async def claim_charge(self, uow: UnitOfWork, order_id: str, shipment_id: str) -> bool:
        known = self.orders.get(order_id)
        if known is None or known.charged_shipment_id not in (None, shipment_id):
            return False
        self.orders[order_id] = replace(known, charged_shipment_id=shipment_id)
        return True

    async def next_sequence(self, uow: UnitOfWork) -> int:
        return next(self.sequence)

    async def add_tracking(
        self, uow: UnitOfWork, carrier: str, number: str, tracked: Tracked
    ) -> None:
        self.tracking.setdefault((carrier, number), tracked)

    async def find(self, uow: UnitOfWork, carrier: str, number: str) -> Tracked | None:
        return self.tracking.get((carrier, number))

    async def shipments_of(self, order_id: str) -> list[str]:
        return sorted(t.shipment_id for t in self.tracking.values() if t.order_id == order_id)

    async def add_to_manifest(self, uow: UnitOfWork, entry: ManifestEntry) -> None:
        self.manifests.setdefault(entry.shipment_id, entry)

    async def update_manifest(
        self, uow: UnitOfWork, shipment_id: str, status: str, at: datetime, open: bool
    ) -> None:
        known = self.manifests.get(shipment_id)
        if known is not None:
            self.manifests[shipment_id] = replace(known, status=status, updated_at=at, open=open)

    async def manifest(self, carrier: str, limit: int) -> tuple[list[ManifestEntry], bool]:
        entries = sorted(
            (e for e in self.manifests.values() if e.carrier == carrier and e.open),
            key=lambda e: (e.dispatched_at, e.shipment_id),
        )
        return entries[:limit], len(entries) > limit
