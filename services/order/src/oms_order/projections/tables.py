"""The order service's tables next to its event store: order summaries and known SKUs.

Both are written in the same transaction as the events that change them (one unit of
work per message or request), so a lookup right after ``POST /v1/orders`` finds the
order. ``orders`` is derived from the order streams and can be rebuilt from them
(:func:`rebuild_orders`); ``known_skus`` mirrors inventory's ``SkuRegistered`` events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.registry import registry
from oms_order.domain.evolve import evolve
from oms_order.domain.state import OrderState
from oms_order.projections.order_view import summary_row
from oms_order.streams import ORDER_STREAM_PREFIX
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
    "CREATE INDEX IF NOT EXISTS orders_by_ref ON orders (sales_channel, platform_order_ref)",
    "CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, updated_at)",
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
                        customer_email, total_amount, currency, placed_at, version)
    VALUES (:order_id, :platform_order_ref, :sales_channel, :status, :customer_id,
            :customer_email, :total_amount, :currency, :placed_at, :version)
    ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status,
        version = EXCLUDED.version, updated_at = now()
    WHERE orders.version < EXCLUDED.version
    """
)


class ReadModels(Protocol):
    """What the handlers write and read besides events (a fake stands in for unit tests)."""

    async def save_order(self, uow: UnitOfWork, state: OrderState) -> None: ...

    async def unknown_skus(self, uow: UnitOfWork, skus: Iterable[str]) -> set[str]: ...

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None: ...


class SqlReadModels:
    """The read models in the service's PostgreSQL database."""

    def __init__(self, check_skus: bool = True) -> None:
        self.check_skus = check_skus

    async def create(self, engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.order.tables'))"))
            for statement in SCHEMA:
                await conn.execute(text(statement))

    async def save_order(self, uow: UnitOfWork, state: OrderState) -> None:
        await uow.connection.execute(_UPSERT_ORDER, summary_row(state))

    async def unknown_skus(self, uow: UnitOfWork, skus: Iterable[str]) -> set[str]:
        wanted = set(skus)
        if not self.check_skus or not wanted:
            return set()
        rows = await uow.connection.execute(
            text("SELECT sku FROM known_skus WHERE sku = ANY(:skus)"), {"skus": sorted(wanted)}
        )
        return wanted - {row[0] for row in rows}

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None:
        await uow.connection.execute(
            text(
                "INSERT INTO known_skus (sku, name) VALUES (:sku, :name) "
                "ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name"
            ),
            {"sku": sku, "name": name},
        )


async def find_orders(
    conn: AsyncConnection, filters: dict[str, str], limit: int = 100
) -> list[dict[str, Any]]:
    """Order summaries matching every given column filter, newest first."""
    allowed = ("platform_order_ref", "sales_channel", "status", "customer_id")
    where = " AND ".join(f"{col} = :{col}" for col in allowed if col in filters) or "TRUE"
    params: dict[str, Any] = {col: filters[col] for col in allowed if col in filters}
    params["limit"] = limit
    rows = await conn.execute(
        text(
            "SELECT order_id, platform_order_ref, sales_channel, status, customer_id, "
            "customer_email, total_amount, currency, placed_at, version, updated_at "
            f"FROM orders WHERE {where} ORDER BY updated_at DESC, order_id LIMIT :limit"
        ),
        params,
    )
    return [
        {
            "order_id": r.order_id,
            "platform_order_ref": r.platform_order_ref,
            "sales_channel": r.sales_channel,
            "status": r.status,
            "customer": {"customer_id": r.customer_id, "email": r.customer_email},
            "total": {"amount": format(r.total_amount, "f"), "currency": r.currency},
            "placed_at": r.placed_at.isoformat(),
            "version": r.version,
            "updated_at": r.updated_at.isoformat(),
        }
        for r in rows
    ]


async def rebuild_orders(store: PostgresEventStore) -> int:
    """Empty ``orders`` and refill it from the order streams; returns the orders written.

    One transaction: the table is replaced by what every order stream says in its snapshot
    (stream by stream rather than ``read_all``, which holds back events of transactions
    that may still be running).
    """
    async with store.unit_of_work() as uow:
        rows = await uow.connection.execute(
            text("SELECT stream_id FROM streams WHERE starts_with(stream_id, :prefix)"),
            {"prefix": ORDER_STREAM_PREFIX},
        )
        stream_ids = [row[0] for row in rows]
        await uow.connection.execute(text("DELETE FROM orders"))
        models = SqlReadModels()
        written = 0
        for stream_id in stream_ids:
            state = OrderState()
            for rec in await uow.read_stream(stream_id):
                state = evolve(state, registry.parse(rec.envelope))
            if state.exists:
                await models.save_order(uow, state)
                written += 1
    return written
