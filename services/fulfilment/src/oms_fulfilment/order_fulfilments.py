"""Which fulfilments an order has: a small table written with the fulfilments themselves.

A cancellation request names the order only; the decision needs every fulfilment of it.
Their ids follow from the order and its warehouses (``fulfilment_id``), but the request
does not carry the warehouses, so the ids are remembered here when the fulfilments are
requested, in the same unit of work as their ``FulfilmentRequested`` (committed together
or not at all). The table is derived from the service's own events:
:meth:`SqlOrderFulfilments.create` fills it from the ``FulfilmentRequested`` already stored
when it is first created.

:class:`InMemoryOrderFulfilments` serves a host on the in-memory store (route tests); it
takes a write only once the unit of work commits, as the table would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_platform.eventstore.base import UnitOfWork

SCHEMA = """
CREATE TABLE IF NOT EXISTS fulfilment_orders (
    order_id       text NOT NULL,
    fulfilment_id  text NOT NULL,
    PRIMARY KEY (order_id, fulfilment_id)
)
"""

# Fulfilments requested before the table existed (the events table is the store's).
_BACKFILL = """
INSERT INTO fulfilment_orders (order_id, fulfilment_id)
SELECT payload->>'order_id', payload->>'fulfilment_id' FROM events
WHERE type = 'FulfilmentRequested'
ON CONFLICT DO NOTHING
"""


class OrderFulfilments(Protocol):
    """Where the handlers keep and find an order's fulfilment ids (in the caller's unit of
    work)."""

    async def remember(
        self, uow: UnitOfWork, order_id: str, fulfilment_ids: Iterable[str]
    ) -> None: ...

    async def of(self, uow: UnitOfWork, order_id: str) -> list[str]: ...


class SqlOrderFulfilments:
    """``fulfilment_orders`` in the service's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self) -> None:
        """Create the table; when it is new, fill it from the events stored so far."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('oms.fulfilment.tables'))")
            )
            existed = (
                await conn.execute(text("SELECT to_regclass('fulfilment_orders') IS NOT NULL"))
            ).scalar_one()
            await conn.execute(text(SCHEMA))
            has_events = (
                await conn.execute(text("SELECT to_regclass('events') IS NOT NULL"))
            ).scalar_one()
            if not existed and has_events:
                await conn.execute(text(_BACKFILL))

    async def remember(self, uow: UnitOfWork, order_id: str, fulfilment_ids: Iterable[str]) -> None:
        rows = [{"order": order_id, "id": fid} for fid in fulfilment_ids]
        if rows:
            await uow.connection.execute(
                text(
                    "INSERT INTO fulfilment_orders (order_id, fulfilment_id) "
                    "VALUES (:order, :id) ON CONFLICT DO NOTHING"
                ),
                rows,
            )

    async def of(self, uow: UnitOfWork, order_id: str) -> list[str]:
        rows = await uow.connection.execute(
            text(
                "SELECT fulfilment_id FROM fulfilment_orders WHERE order_id = :order "
                "ORDER BY fulfilment_id"
            ),
            {"order": order_id},
        )
        return [r.fulfilment_id for r in rows]


class InMemoryOrderFulfilments:
    """The same in a dict, for a host on the in-memory event store."""

    def __init__(self) -> None:
        self.known: dict[str, set[str]] = {}

    async def remember(self, uow: UnitOfWork, order_id: str, fulfilment_ids: Iterable[str]) -> None:
        ids = set(fulfilment_ids)
        self._pending(uow).setdefault(order_id, set()).update(ids)
        uow.on_commit(lambda: self.known.setdefault(order_id, set()).update(ids))

    async def of(self, uow: UnitOfWork, order_id: str) -> list[str]:
        pending = self._pending(uow).get(order_id, set())
        return sorted(self.known.get(order_id, set()) | pending)

    @staticmethod
    def _pending(uow: UnitOfWork) -> dict[str, set[str]]:
        # What this unit of work remembered, visible to it before the commit.
        pending: dict[str, set[str]] = uow.extras.setdefault("fulfilment_orders", {})
        return pending
