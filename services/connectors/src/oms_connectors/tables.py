"""What the connector keeps beside its event store (all in the connector's own database).

- ``connector_orders``: each platform order taken, by shop and the platform's own id, with
  the OMS lines' platform item ids and, once the order service placed it, the OMS order id;
- ``connector_deliveries``: each webhook delivery seen (Shopify's ``X-Shopify-Webhook-Id``,
  Adobe Commerce's body digest), with its outcome, so a redelivery answers as the first did
  and changes nothing;
- ``connector_refusals``: every payload the connector could not take, and every order the
  OMS rejected, with the reasons, for the shop to read (``GET /v1/shops/{shop}/refusals``);
- ``connector_outbound``: what the platform must be told (ship, deliver, cancel, refund),
  one row per idempotency key, with its attempts, next try and outcome;
- ``connector_poll``: each polled shop's cursor (the last ``updated_at`` and ``entity_id``).

Rows are written in the unit of work of what caused them (the webhook's, the poll's, the
consumed event's inbox transaction), so a crash loses none and a redelivery adds none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_connectors.mapping.common import PlatformLine
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.refusal import FieldError

SCHEMA = (
    "SELECT pg_advisory_xact_lock(hashtext('oms_connectors_schema'))",
    "CREATE TABLE IF NOT EXISTS connector_orders ("
    " shop text NOT NULL, platform_order_id text NOT NULL, platform_order_ref text NOT NULL,"
    " sales_channel text NOT NULL, platform text NOT NULL, order_id text,"
    " lines jsonb NOT NULL, received_via text NOT NULL, received_at timestamptz NOT NULL,"
    " PRIMARY KEY (shop, platform_order_id), UNIQUE (sales_channel, platform_order_ref))",
    "CREATE INDEX IF NOT EXISTS connector_orders_order ON connector_orders (order_id)",
    "CREATE TABLE IF NOT EXISTS connector_deliveries ("
    " shop text NOT NULL, delivery_id text NOT NULL, received_at timestamptz NOT NULL,"
    " outcome text NOT NULL, status integer NOT NULL, answer jsonb NOT NULL,"
    " PRIMARY KEY (shop, delivery_id))",
    "CREATE TABLE IF NOT EXISTS connector_refusals ("
    " id bigserial PRIMARY KEY, shop text NOT NULL, platform_order_ref text,"
    " platform_order_id text, via text NOT NULL, code text NOT NULL, reason text NOT NULL,"
    " errors jsonb NOT NULL, refused_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS connector_refusals_shop ON connector_refusals (shop, id)",
    "CREATE TABLE IF NOT EXISTS connector_outbound ("
    " seq bigserial, key text PRIMARY KEY, shop text NOT NULL,"
    " platform_order_id text NOT NULL, order_id text NOT NULL, action text NOT NULL,"
    " body jsonb NOT NULL, status text NOT NULL DEFAULT 'pending',"
    " attempts integer NOT NULL DEFAULT 0, next_at timestamptz NOT NULL,"
    " last_error text, remote_id text, created_at timestamptz NOT NULL,"
    " done_at timestamptz)",
    "CREATE INDEX IF NOT EXISTS connector_outbound_due ON connector_outbound (next_at)"
    " WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS connector_outbound_order ON connector_outbound (order_id, seq)",
    "CREATE TABLE IF NOT EXISTS connector_poll ("
    " shop text PRIMARY KEY, updated_at text NOT NULL, entity_id bigint NOT NULL,"
    " polled_at timestamptz NOT NULL)",
)


def conn_of(uow: UnitOfWork) -> AsyncConnection:
    conn = uow.connection
    assert isinstance(conn, AsyncConnection), "the connector's tables need the PostgreSQL store"
    return conn


@dataclass(frozen=True, slots=True)
class LinkedOrder:
    """A platform order the OMS placed: what the way back needs."""

    shop: str
    platform: str
    platform_order_id: str
    platform_order_ref: str
    order_id: str | None
    lines: tuple[PlatformLine, ...]


@dataclass(frozen=True, slots=True)
class Outbound:
    seq: int
    key: str
    shop: str
    platform_order_id: str
    order_id: str
    action: str
    body: dict[str, Any]
    status: str
    attempts: int
    next_at: datetime
    last_error: str | None
    remote_id: str | None

    def view(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "action": self.action,
            "order_id": self.order_id,
            "platform_order_id": self.platform_order_id,
            "status": self.status,
            "attempts": self.attempts,
            "next_at": self.next_at.isoformat(),
            "last_error": self.last_error,
            "remote_id": self.remote_id,
            "body": self.body,
        }


def _lines(raw: Any) -> tuple[PlatformLine, ...]:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(PlatformLine(d["line_id"], d["item_id"], d["sku"], d["quantity"]) for d in data)


def _linked(row: Any) -> LinkedOrder:
    return LinkedOrder(row[0], row[1], row[2], row[3], row[4], _lines(row[5]))


_LINKED = (
    "SELECT shop, platform, platform_order_id, platform_order_ref, order_id, lines"
    " FROM connector_orders"
)
_OUTBOUND = (
    "SELECT seq, key, shop, platform_order_id, order_id, action, body, status, attempts,"
    " next_at, last_error, remote_id FROM connector_outbound"
)


def _outbound(row: Any) -> Outbound:
    body = row[6] if isinstance(row[6], dict) else json.loads(row[6])
    return Outbound(
        seq=row[0],
        key=row[1],
        shop=row[2],
        platform_order_id=row[3],
        order_id=row[4],
        action=row[5],
        body=body,
        status=row[7],
        attempts=row[8],
        next_at=row[9],
        last_error=row[10],
        remote_id=row[11],
    )


class Tables:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            for statement in SCHEMA:
                await conn.execute(text(statement))

    # -- intake ----------------------------------------------------------------------------

    async def delivery(self, uow: UnitOfWork, shop: str, delivery_id: str) -> Any:
        """The first answer to this delivery, or None; locks the key for this transaction
        (a concurrent redelivery waits, then sees the answer)."""
        conn = conn_of(uow)
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{shop}\x1f{delivery_id}"}
        )
        row = (
            await conn.execute(
                text(
                    "SELECT status, answer FROM connector_deliveries"
                    " WHERE shop = :s AND delivery_id = :d"
                ),
                {"s": shop, "d": delivery_id},
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def record_delivery(
        self,
        uow: UnitOfWork,
        shop: str,
        delivery_id: str,
        outcome: str,
        status: int,
        answer: dict[str, Any],
        at: datetime,
    ) -> None:
        await conn_of(uow).execute(
            text(
                "INSERT INTO connector_deliveries"
                " (shop, delivery_id, received_at, outcome, status, answer)"
                " VALUES (:s, :d, :t, :o, :st, CAST(:a AS jsonb)) ON CONFLICT DO NOTHING"
            ),
            {
                "s": shop,
                "d": delivery_id,
                "t": at,
                "o": outcome,
                "st": status,
                "a": json.dumps(answer),
            },
        )

    async def add_order(
        self,
        uow: UnitOfWork,
        shop: str,
        platform: str,
        platform_order_id: str,
        ref: str,
        channel: str,
        lines: tuple[PlatformLine, ...],
        via: str,
        at: datetime,
    ) -> bool:
        """Record a taken order; False if the shop's order (or its reference) was taken before."""
        result = await conn_of(uow).execute(
            text(
                "INSERT INTO connector_orders (shop, platform_order_id, platform_order_ref,"
                " sales_channel, platform, lines, received_via, received_at)"
                " VALUES (:s, :p, :r, :c, :pl, CAST(:l AS jsonb), :v, :t)"
                " ON CONFLICT DO NOTHING"
            ),
            {
                "s": shop,
                "p": platform_order_id,
                "r": ref,
                "c": channel,
                "pl": platform,
                "l": json.dumps(
                    [
                        {
                            "line_id": ln.line_id,
                            "item_id": ln.item_id,
                            "sku": ln.sku,
                            "quantity": ln.quantity,
                        }
                        for ln in lines
                    ]
                ),
                "v": via,
                "t": at,
            },
        )
        return bool(result.rowcount)

    async def taken(self, uow: UnitOfWork, shop: str, platform_order_id: str) -> str | None:
        """The reference of the shop's order ``platform_order_id`` if it was taken."""
        row = (
            await conn_of(uow).execute(
                text(
                    "SELECT platform_order_ref FROM connector_orders"
                    " WHERE shop = :s AND platform_order_id = :p"
                ),
                {"s": shop, "p": platform_order_id},
            )
        ).first()
        return None if row is None else str(row[0])

    async def refuse(
        self,
        uow: UnitOfWork,
        shop: str,
        via: str,
        code: str,
        reason: str,
        errors: list[FieldError],
        at: datetime,
        ref: str | None = None,
        platform_order_id: str | None = None,
    ) -> None:
        await conn_of(uow).execute(
            text(
                "INSERT INTO connector_refusals (shop, platform_order_ref, platform_order_id,"
                " via, code, reason, errors, refused_at)"
                " VALUES (:s, :r, :p, :v, :c, :re, CAST(:e AS jsonb), :t)"
            ),
            {
                "s": shop,
                "r": ref,
                "p": platform_order_id,
                "v": via,
                "c": code,
                "re": reason,
                "e": json.dumps([e.as_dict() for e in errors]),
                "t": at,
            },
        )

    async def refusals(self, shop: str, after: int, limit: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, platform_order_ref, platform_order_id, via, code, reason,"
                        " errors, refused_at FROM connector_refusals"
                        " WHERE shop = :s AND id > :a ORDER BY id LIMIT :n"
                    ),
                    {"s": shop, "a": after, "n": limit},
                )
            ).all()
        return [
            {
                "id": r[0],
                "platform_order_ref": r[1],
                "platform_order_id": r[2],
                "via": r[3],
                "code": r[4],
                "reason": r[5],
                "errors": r[6],
                "refused_at": r[7].isoformat(),
            }
            for r in rows
        ]

    # -- the OMS's side ----------------------------------------------------------------------

    async def link(
        self, uow: UnitOfWork, channel: str, ref: str, order_id: str
    ) -> LinkedOrder | None:
        row = (
            await conn_of(uow).execute(
                text(
                    "UPDATE connector_orders SET order_id = :o"
                    " WHERE sales_channel = :c AND platform_order_ref = :r"
                    " RETURNING shop, platform, platform_order_id, platform_order_ref, order_id,"
                    " lines"
                ),
                {"o": order_id, "c": channel, "r": ref},
            )
        ).first()
        return None if row is None else _linked(row)

    async def by_ref(self, uow: UnitOfWork, channel: str, ref: str) -> LinkedOrder | None:
        row = (
            await conn_of(uow).execute(
                text(f"{_LINKED} WHERE sales_channel = :c AND platform_order_ref = :r"),
                {"c": channel, "r": ref},
            )
        ).first()
        return None if row is None else _linked(row)

    async def by_order_id(self, conn: AsyncConnection, order_id: str) -> LinkedOrder | None:
        row = (await conn.execute(text(f"{_LINKED} WHERE order_id = :o"), {"o": order_id})).first()
        return None if row is None else _linked(row)

    async def order(self, shop: str, platform_order_id: str) -> LinkedOrder | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f"{_LINKED} WHERE shop = :s AND platform_order_id = :p"),
                    {"s": shop, "p": platform_order_id},
                )
            ).first()
        return None if row is None else _linked(row)

    async def enqueue(
        self,
        uow: UnitOfWork,
        key: str,
        order: LinkedOrder,
        action: str,
        body: dict[str, Any],
        at: datetime,
    ) -> None:
        assert order.order_id is not None
        await conn_of(uow).execute(
            text(
                "INSERT INTO connector_outbound (key, shop, platform_order_id, order_id, action,"
                " body, next_at, created_at) VALUES (:k, :s, :p, :o, :a, CAST(:b AS jsonb),"
                " :t, :t) ON CONFLICT (key) DO NOTHING"
            ),
            {
                "k": key,
                "s": order.shop,
                "p": order.platform_order_id,
                "o": order.order_id,
                "a": action,
                "b": json.dumps(body),
                "t": at,
            },
        )

    async def due(self, now: datetime, lease_s: float, limit: int) -> list[Outbound]:
        """Pending actions that are due, first of their order (an order's actions go out in
        the order they happened), leased for ``lease_s`` so another instance skips them."""
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        f"{_OUTBOUND} o WHERE status = 'pending' AND next_at <= :now"
                        " AND NOT EXISTS (SELECT 1 FROM connector_outbound e"
                        "  WHERE e.order_id = o.order_id AND e.status = 'pending'"
                        "  AND e.seq < o.seq)"
                        " ORDER BY next_at LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"now": now, "n": limit},
                )
            ).all()
            found = [_outbound(r) for r in rows]
            if found:
                await conn.execute(
                    text("UPDATE connector_outbound SET next_at = :lease WHERE key = ANY(:keys)"),
                    {"lease": now + _seconds(lease_s), "keys": [o.key for o in found]},
                )
        return found

    async def finish(
        self,
        key: str,
        status: str,
        at: datetime,
        *,
        remote_id: str | None = None,
        error: str | None = None,
        next_at: datetime | None = None,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE connector_outbound SET status = :st, attempts = attempts + 1,"
                    " remote_id = COALESCE(:r, remote_id), last_error = :e,"
                    " next_at = COALESCE(:n, next_at),"
                    " done_at = CASE WHEN :st = 'pending' THEN NULL"
                    " ELSE CAST(:t AS timestamptz) END"
                    " WHERE key = :k"
                ),
                {"st": status, "r": remote_id, "e": error, "n": next_at, "t": at, "k": key},
            )

    async def outbound(
        self, shop: str, status: str | None, limit: int, order_id: str | None = None
    ) -> list[Outbound]:
        sql = f"{_OUTBOUND} WHERE shop = :s"
        params: dict[str, Any] = {"s": shop, "n": limit}
        if status is not None:
            sql += " AND status = :st"
            params["st"] = status
        if order_id is not None:
            sql += " AND order_id = :o"
            params["o"] = order_id
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(sql + " ORDER BY seq LIMIT :n"), params)).all()
        return [_outbound(r) for r in rows]

    async def backlog(self, now: datetime) -> tuple[int, int, float]:
        """Pending actions, failed ones, and how overdue the oldest pending one is (s)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*) FILTER (WHERE status = 'pending'),"
                        " count(*) FILTER (WHERE status = 'failed'),"
                        " min(created_at) FILTER (WHERE status = 'pending')"
                        " FROM connector_outbound"
                    )
                )
            ).one()
        oldest = row[2]
        return int(row[0]), int(row[1]), (now - oldest).total_seconds() if oldest else 0.0

    # -- polling ---------------------------------------------------------------------------

    async def cursor(self, shop: str) -> tuple[str, int] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT updated_at, entity_id FROM connector_poll WHERE shop = :s"),
                    {"s": shop},
                )
            ).first()
        return None if row is None else (row[0], int(row[1]))

    async def move_cursor(
        self, uow: UnitOfWork, shop: str, updated_at: str, entity_id: int, at: datetime
    ) -> None:
        await conn_of(uow).execute(
            text(
                "INSERT INTO connector_poll (shop, updated_at, entity_id, polled_at)"
                " VALUES (:s, :u, :e, :t) ON CONFLICT (shop) DO UPDATE SET"
                " updated_at = EXCLUDED.updated_at, entity_id = EXCLUDED.entity_id,"
                " polled_at = EXCLUDED.polled_at"
            ),
            {"s": shop, "u": updated_at, "e": entity_id, "t": at},
        )


def _seconds(s: float) -> timedelta:
    return timedelta(seconds=s)
