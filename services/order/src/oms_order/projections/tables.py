"""The order service's tables next to its event store: order summaries and known SKUs.

Both are written in the same transaction as the events that change them (one unit of
work per message or request), so a lookup right after ``POST /v1/orders`` finds the
order. ``orders`` is derived from the order streams and can be rebuilt from them
(:func:`rebuild_orders`); ``known_skus`` mirrors inventory's ``SkuRegistered`` events.

``orders.recorded_at`` is when the order service placed the order (its own clock, as the
timeline's ``recorded_at``), not the platform's ``placed_at``: how long an order has been
waiting for stock and payment is measured from there (stalled orders).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.registry import registry
from oms_order.domain.order import order_decider
from oms_order.domain.state import OrderState
from oms_order.projections.order_view import summary_row
from oms_order.projections.read_models import Doc, OrderQuery, Stalled, summary_doc
from oms_order.streams import ORDER_STREAM_PREFIX
from oms_platform.decider import fold
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.eventstore.postgres import PostgresEventStore

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS orders (
        order_id            text PRIMARY KEY,
        platform_order_ref  text NOT NULL,
        sales_channel       text NOT NULL,
        status              text NOT NULL,
        customer_id         text NOT NULL,
        customer_email      text NOT NULL,
        total_amount        numeric NOT NULL,
        currency            text NOT NULL,
        placed_at           timestamptz NOT NULL,
        version             integer NOT NULL,
        updated_at          timestamptz NOT NULL DEFAULT now()
    )
    """,
    # Added after the table first shipped; rows older than the column get the migration time.
    "ALTER TABLE orders ADD COLUMN IF NOT EXISTS recorded_at timestamptz NOT NULL DEFAULT now()",
    "CREATE INDEX IF NOT EXISTS orders_by_ref ON orders (sales_channel, platform_order_ref)",
    "CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, updated_at)",
    "CREATE INDEX IF NOT EXISTS orders_waiting ON orders (recorded_at) WHERE status = 'placed'",
    """
    CREATE TABLE IF NOT EXISTS known_skus (
        sku            text PRIMARY KEY,
        name           text NOT NULL,
        registered_at  timestamptz NOT NULL DEFAULT now()
    )
    """,
)

_UPSERT_ORDER = text(
    """
    INSERT INTO orders (order_id, platform_order_ref, sales_channel, status, customer_id,
                        customer_email, total_amount, currency, placed_at, version,
                        recorded_at)
    VALUES (:order_id, :platform_order_ref, :sales_channel, :status, :customer_id,
            :customer_email, :total_amount, :currency, :placed_at, :version,
            COALESCE(CAST(:recorded_at AS timestamptz), now()))
    ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status,
        version = EXCLUDED.version, updated_at = now()
    WHERE orders.version < EXCLUDED.version
    """
)

_PENDING = "oms_order.orders_rows"
"""Where a unit of work keeps the ``orders`` rows it writes before its commit."""

_COLUMNS = (
    "order_id, platform_order_ref, sales_channel, status, customer_id, customer_email, "
    "total_amount, currency, placed_at, version, updated_at, recorded_at"
)
_FILTERS = ("platform_order_ref", "sales_channel", "status", "customer_id")
# Waiting for stock or payment for longer than the threshold, by the database's clock.
_STALLED = "(status = 'placed' AND recorded_at < now() - make_interval(secs => :stall_after_s))"


class SqlReadModels:
    """The read models in the service's PostgreSQL database."""

    def __init__(
        self, engine: AsyncEngine, *, check_skus: bool = True, stall_after_s: float = 60.0
    ):
        self.engine = engine
        self.check_skus = check_skus
        self.stall_after_s = stall_after_s
        self._seen: set[str] = set()

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.order.tables'))"))
            for statement in SCHEMA:
                await conn.execute(text(statement))

    async def save_order(
        self, uow: UnitOfWork, state: OrderState, recorded_at: datetime | None = None
    ) -> None:
        # Written once per unit of work, just before its commit: a batch of messages
        # then costs one statement, each order at the newest version it reached. (The
        # upsert only moves a row forwards, so the order of rows does not matter.)
        rows: dict[str, dict[str, Any]] = uow.extras.setdefault(_PENDING, {})
        row = {**summary_row(state), "recorded_at": recorded_at}
        known = rows.get(row["order_id"])
        if known is None or known["version"] < row["version"]:
            rows[row["order_id"]] = row

        async def write() -> None:
            await uow.connection.execute(_UPSERT_ORDER, list(rows.values()))

        uow.before_commit(_PENDING, write)

    async def unknown_skus(self, uow: UnitOfWork, skus: Iterable[str]) -> set[str]:
        # SKUs are registered, never removed: one found in the table once is known for
        # good, so only SKUs not seen yet cost a query.
        wanted = set(skus) - self._seen
        if not self.check_skus or not wanted:
            return set()
        rows = await uow.connection.execute(
            text("SELECT sku FROM known_skus WHERE sku = ANY(:skus)"), {"skus": sorted(wanted)}
        )
        found = {row[0] for row in rows}
        self._seen |= found
        return wanted - found

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None:
        await uow.connection.execute(
            text(
                "INSERT INTO known_skus (sku, name) VALUES (:sku, :name) "
                "ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name"
            ),
            {"sku": sku, "name": name},
        )

    async def find_orders(self, query: OrderQuery) -> list[Doc]:
        """Order summaries matching every given filter, newest first."""
        params: dict[str, Any] = {"limit": query.limit, "stall_after_s": self.stall_after_s}
        where = []
        for col in _FILTERS:
            value = getattr(query, col)
            if value is not None:
                where.append(f"{col} = :{col}")
                params[col] = value
        if query.stalled is not None:
            where.append(_STALLED if query.stalled else f"NOT {_STALLED}")
        sql = (
            f"SELECT {_COLUMNS} FROM orders WHERE {' AND '.join(where) or 'TRUE'} "
            "ORDER BY updated_at DESC, order_id LIMIT :limit"
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(text(sql), params)
            return [summary_doc(dict(row._mapping)) for row in rows]

    async def count_by_status(self) -> dict[str, int]:
        """How many orders are in each status (the index ``orders_by_status`` answers it)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(text("SELECT status, count(*) FROM orders GROUP BY status"))
            return {str(status): int(n) for status, n in rows}

    async def stalled(self, limit: int = 5) -> Stalled:
        """How many orders wait past the threshold, and the ``limit`` oldest of them."""
        sql = (
            "SELECT order_id, extract(epoch FROM now() - recorded_at) AS waiting_s, "
            f"count(*) OVER () AS total FROM orders WHERE {_STALLED} "
            "ORDER BY recorded_at, order_id LIMIT :limit"
        )
        async with self.engine.connect() as conn:
            rows = list(
                await conn.execute(text(sql), {"limit": limit, "stall_after_s": self.stall_after_s})
            )
        if not rows:
            return Stalled(0, [], None)
        return Stalled(int(rows[0].total), [r.order_id for r in rows], float(rows[0].waiting_s))


async def rebuild_orders(store: PostgresEventStore) -> int:
    """Empty ``orders`` and refill it from the order streams; returns the orders written.

    One transaction: the table is replaced by what every order stream says in its snapshot
    (stream by stream rather than ``read_all``, which holds back events of transactions
    that may still be running). ``recorded_at`` is taken from each ``OrderPlaced``.
    """
    async with store.unit_of_work() as uow:
        rows = await uow.connection.execute(
            text("SELECT stream_id FROM streams WHERE starts_with(stream_id, :prefix)"),
            {"prefix": ORDER_STREAM_PREFIX},
        )
        stream_ids = [row[0] for row in rows]
        await uow.connection.execute(text("DELETE FROM orders"))
        models = SqlReadModels(store.engine)
        written = 0
        for stream_id in stream_ids:
            records = await uow.read_stream(stream_id)
            state = fold(order_decider, (registry.parse(r.envelope) for r in records))
            if state.exists:
                await models.save_order(uow, state, records[0].recorded_at)
                written += 1
    return written
