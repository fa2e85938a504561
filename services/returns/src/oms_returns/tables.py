"""What returns keeps beside its streams: the orders' facts it decides on, and its returns.

Written by the consumers in the same transaction as their inbox row (``uow.connection``),
as shipping keeps ``shipping_orders``:

- ``returns_orders`` (from ``OrderPlaced``): per SKU the lowest unit price of its lines
  (a refund never exceeds what any unit cost), the shipping charge, the payments (id,
  method, amount) in the order's payment order;
- ``returns_shipments`` (from ``ShipmentDispatched`` and ``ShipmentDelivered``, in either
  order): per shipment the order, the dispatching warehouse, the lines and, once the
  carrier reported it, ``delivered_at``. Delivered units per SKU are the lines of the
  order's delivered shipments;
- ``returns_index`` (written with a return's own events): every return of an order, and
  until it is resolved or expired its ``expires_at``, which the expiry loop scans.

A request and a receipt lock the order's ``returns_orders`` row (``FOR UPDATE``), so two
returns of one order are decided one after the other: units cannot be asked back twice,
shipping is refunded once and no payment is refunded beyond what it has left.
:class:`MemoryTables` stands in on the in-memory store (route tests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.contracts.common import PaymentMethod, SkuQuantity
from oms_events.money import Money
from oms_platform.eventstore.base import UnitOfWork

SCHEMA = (
    "SELECT pg_advisory_xact_lock(hashtext('oms_returns_schema'))",
    "CREATE TABLE IF NOT EXISTS returns_orders ("
    " order_id text PRIMARY KEY, currency text NOT NULL, shipping_charge text NOT NULL,"
    " prices jsonb NOT NULL, payments jsonb NOT NULL)",
    "CREATE TABLE IF NOT EXISTS returns_shipments ("
    " shipment_id text PRIMARY KEY, order_id text NOT NULL, warehouse_id text,"
    " lines jsonb NOT NULL DEFAULT '[]', delivered_at timestamptz)",
    "CREATE INDEX IF NOT EXISTS returns_shipments_order ON returns_shipments (order_id)",
    "CREATE TABLE IF NOT EXISTS returns_index ("
    " rma text PRIMARY KEY, order_id text NOT NULL, requested_at timestamptz NOT NULL,"
    " expires_at timestamptz, open boolean NOT NULL DEFAULT true)",
    "CREATE INDEX IF NOT EXISTS returns_index_order ON returns_index (order_id, requested_at)",
    "CREATE INDEX IF NOT EXISTS returns_index_due ON returns_index (expires_at) WHERE open",
)


@dataclass(frozen=True, slots=True)
class PaidWith:
    payment_id: str
    method: PaymentMethod
    amount: Money


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What returns knows of an order from its ``OrderPlaced``."""

    order_id: str
    shipping_charge: Money
    prices: Mapping[str, Money]
    payments: tuple[PaidWith, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivered shipment of an order."""

    shipment_id: str
    warehouse_id: str | None
    lines: tuple[SkuQuantity, ...]
    delivered_at: datetime


class Tables(Protocol):
    async def remember_order(self, uow: UnitOfWork, order: OrderFacts) -> None: ...

    async def order(
        self, uow: UnitOfWork, order_id: str, *, lock: bool = False
    ) -> OrderFacts | None:
        """The order's facts; ``lock``: hold its row until the unit of work ends."""

    async def dispatched(
        self,
        uow: UnitOfWork,
        shipment_id: str,
        order_id: str,
        warehouse_id: str,
        lines: tuple[SkuQuantity, ...],
    ) -> None: ...

    async def delivered(
        self, uow: UnitOfWork, shipment_id: str, order_id: str, at: datetime
    ) -> None: ...

    async def deliveries(self, uow: UnitOfWork, order_id: str) -> list[Delivery]:
        """The order's shipments that were dispatched and delivered, oldest delivery first."""

    async def add_return(
        self,
        uow: UnitOfWork,
        rma: str,
        order_id: str,
        requested_at: datetime,
        expires_at: datetime | None,
    ) -> None: ...

    async def close_return(self, uow: UnitOfWork, rma: str) -> None: ...

    async def returns_of(self, uow: UnitOfWork | None, order_id: str) -> list[str]:
        """The order's returns, oldest first (``uow`` None: outside a unit of work)."""

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Open returns whose authorisation lapsed at or before ``now``, oldest first."""


def _conn(uow: UnitOfWork) -> AsyncConnection:
    conn = uow.connection
    assert isinstance(conn, AsyncConnection), "the SQL tables need the PostgreSQL store"
    return conn


def _money(value: Mapping[str, Any]) -> Money:
    return Money.of(Decimal(value["amount"]), value["currency"])


def _dump(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency}


class SqlTables:
    """The tables in the service's PostgreSQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            for statement in SCHEMA:
                await conn.execute(text(statement))

    async def remember_order(self, uow: UnitOfWork, order: OrderFacts) -> None:
        await _conn(uow).execute(
            text(
                "INSERT INTO returns_orders (order_id, currency, shipping_charge, prices,"
                " payments) VALUES (:o, :cur, :ship, CAST(:prices AS jsonb),"
                " CAST(:payments AS jsonb)) ON CONFLICT (order_id) DO NOTHING"
            ),
            {
                "o": order.order_id,
                "cur": order.shipping_charge.currency,
                "ship": str(order.shipping_charge.amount),
                "prices": json.dumps({s: _dump(p) for s, p in order.prices.items()}),
                "payments": json.dumps(
                    [
                        {"payment_id": p.payment_id, "method": p.method.value, **_dump(p.amount)}
                        for p in order.payments
                    ]
                ),
            },
        )

    async def order(
        self, uow: UnitOfWork, order_id: str, *, lock: bool = False
    ) -> OrderFacts | None:
        sql = (
            "SELECT currency, shipping_charge, prices, payments FROM returns_orders"
            " WHERE order_id = :o" + (" FOR UPDATE" if lock else "")
        )
        row = (await _conn(uow).execute(text(sql), {"o": order_id})).first()
        if row is None:
            return None
        return OrderFacts(
            order_id,
            Money.of(Decimal(row.shipping_charge), row.currency),
            {sku: _money(p) for sku, p in row.prices.items()},
            tuple(
                PaidWith(p["payment_id"], PaymentMethod(p["method"]), _money(p))
                for p in row.payments
            ),
        )

    async def dispatched(
        self,
        uow: UnitOfWork,
        shipment_id: str,
        order_id: str,
        warehouse_id: str,
        lines: tuple[SkuQuantity, ...],
    ) -> None:
        await _conn(uow).execute(
            text(
                "INSERT INTO returns_shipments (shipment_id, order_id, warehouse_id, lines)"
                " VALUES (:s, :o, :w, CAST(:l AS jsonb)) ON CONFLICT (shipment_id) DO UPDATE"
                " SET warehouse_id = EXCLUDED.warehouse_id, lines = EXCLUDED.lines"
            ),
            {
                "s": shipment_id,
                "o": order_id,
                "w": warehouse_id,
                "l": json.dumps([{"sku": ln.sku, "quantity": ln.quantity} for ln in lines]),
            },
        )

    async def delivered(
        self, uow: UnitOfWork, shipment_id: str, order_id: str, at: datetime
    ) -> None:
        await _conn(uow).execute(
            text(
                "INSERT INTO returns_shipments (shipment_id, order_id, delivered_at)"
                " VALUES (:s, :o, :at) ON CONFLICT (shipment_id) DO UPDATE"
                " SET delivered_at = EXCLUDED.delivered_at"
            ),
            {"s": shipment_id, "o": order_id, "at": at},
        )

    async def deliveries(self, uow: UnitOfWork, order_id: str) -> list[Delivery]:
        rows = await _conn(uow).execute(
            text(
                "SELECT shipment_id, warehouse_id, lines, delivered_at FROM returns_shipments"
                " WHERE order_id = :o AND delivered_at IS NOT NULL"
                " AND jsonb_array_length(lines) > 0 ORDER BY delivered_at, shipment_id"
            ),
            {"o": order_id},
        )
        return [
            Delivery(
                r.shipment_id,
                r.warehouse_id,
                tuple(SkuQuantity(sku=ln["sku"], quantity=ln["quantity"]) for ln in r.lines),
                r.delivered_at,
            )
            for r in rows
        ]

    async def add_return(
        self,
        uow: UnitOfWork,
        rma: str,
        order_id: str,
        requested_at: datetime,
        expires_at: datetime | None,
    ) -> None:
        await _conn(uow).execute(
            text(
                "INSERT INTO returns_index (rma, order_id, requested_at, expires_at)"
                " VALUES (:r, :o, :at, :exp) ON CONFLICT (rma) DO NOTHING"
            ),
            {"r": rma, "o": order_id, "at": requested_at, "exp": expires_at},
        )

    async def close_return(self, uow: UnitOfWork, rma: str) -> None:
        await _conn(uow).execute(
            text("UPDATE returns_index SET open = false WHERE rma = :r"), {"r": rma}
        )

    async def returns_of(self, uow: UnitOfWork | None, order_id: str) -> list[str]:
        sql = text("SELECT rma FROM returns_index WHERE order_id = :o ORDER BY requested_at, rma")
        if uow is not None:
            return [r.rma for r in await _conn(uow).execute(sql, {"o": order_id})]
        async with self.engine.connect() as conn:
            return [r.rma for r in await conn.execute(sql, {"o": order_id})]

    async def due(self, now: datetime, limit: int) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT rma FROM returns_index WHERE open AND expires_at <= :now"
                    " ORDER BY expires_at, rma LIMIT :limit"
                ),
                {"now": now, "limit": limit},
            )
            return [r.rma for r in rows]


@dataclass
class _Shipment:
    order_id: str
    warehouse_id: str | None = None
    lines: tuple[SkuQuantity, ...] = ()
    delivered_at: datetime | None = None


@dataclass
class _Indexed:
    order_id: str
    requested_at: datetime
    expires_at: datetime | None
    open: bool = True


@dataclass
class MemoryTables:
    """The tables in memory, for the in-memory store (not transactional)."""

    orders: dict[str, OrderFacts] = field(default_factory=dict)
    shipments: dict[str, _Shipment] = field(default_factory=dict)
    index: dict[str, _Indexed] = field(default_factory=dict)

    async def remember_order(self, uow: UnitOfWork, order: OrderFacts) -> None:
        self.orders.setdefault(order.order_id, order)

    async def order(
        self, uow: UnitOfWork, order_id: str, *, lock: bool = False
    ) -> OrderFacts | None:
        return self.orders.get(order_id)

    async def dispatched(
        self,
        uow: UnitOfWork,
        shipment_id: str,
        order_id: str,
        warehouse_id: str,
        lines: tuple[SkuQuantity, ...],
    ) -> None:
        known = self.shipments.setdefault(shipment_id, _Shipment(order_id))
        known.warehouse_id, known.lines = warehouse_id, lines

    async def delivered(
        self, uow: UnitOfWork, shipment_id: str, order_id: str, at: datetime
    ) -> None:
        self.shipments.setdefault(shipment_id, _Shipment(order_id)).delivered_at = at

    async def deliveries(self, uow: UnitOfWork, order_id: str) -> list[Delivery]:
        found = [
            Delivery(sid, s.warehouse_id, s.lines, s.delivered_at)
            for sid, s in self.shipments.items()
            if s.order_id == order_id and s.delivered_at is not None and s.lines
        ]
        return sorted(found, key=lambda d: (d.delivered_at, d.shipment_id))

    async def add_return(
        self,
        uow: UnitOfWork,
        rma: str,
        order_id: str,
        requested_at: datetime,
        expires_at: datetime | None,
    ) -> None:
        self.index.setdefault(rma, _Indexed(order_id, requested_at, expires_at))

    async def close_return(self, uow: UnitOfWork, rma: str) -> None:
        if rma in self.index:
            self.index[rma].open = False

    async def returns_of(self, uow: UnitOfWork | None, order_id: str) -> list[str]:
        found = [(i.requested_at, rma) for rma, i in self.index.items() if i.order_id == order_id]
        return [rma for _, rma in sorted(found)]

    async def due(self, now: datetime, limit: int) -> list[str]:
        found = sorted(
            (i.expires_at, rma)
            for rma, i in self.index.items()
            if i.open and i.expires_at is not None and i.expires_at <= now
        )
        return [rma for _, rma in found[:limit]]
