"""The console's and the tracking page's reads, in SQL over the read models.

``search`` finds orders by order id, platform reference or customer e-mail (exact; the
e-mail case-insensitively), at most ``MAX_RESULTS``. ``order`` is everything customer
service sees of one order; ``tracking`` is the little a tracking link shows: status and
parcels, nothing personal (no e-mail, address, amounts or payments).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Record = dict[str, Any]

MAX_RESULTS = 50
MAX_QUERY_LENGTH = 254
"""The longest e-mail address; order ids and references are shorter."""
MAX_TIMELINE = 1000


class Lookup(Protocol):
    async def search(self, q: str) -> list[Record]: ...
    async def order(self, order_id: str) -> Record | None: ...
    async def tracking(self, order_id: str) -> Record | None: ...


_PARCELS = (
    "SELECT shipment_id, carrier, service, warehouse_id, tracking_number, status, "
    "promised_date, dispatched_at, delivered_at, failed_attempts, failure "
    "FROM ops_shipments WHERE order_id = :order_id "
    "ORDER BY booked_at NULLS LAST, shipment_id"
)


class SqlLookup:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @staticmethod
    async def _all(conn: AsyncConnection, sql: str, **params: Any) -> list[Record]:
        return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]

    async def search(self, q: str) -> list[Record]:
        async with self.engine.connect() as conn:
            return await self._all(
                conn,
                "SELECT order_id, platform_ref, sales_channel, customer_email, status, "
                "currency, order_value, placed_at FROM ops_orders "
                "WHERE order_id = :q OR platform_ref = :q "
                "OR lower(customer_email) = lower(:q) "
                "ORDER BY placed_at DESC NULLS LAST, order_id LIMIT :limit",
                q=q,
                limit=MAX_RESULTS,
            )

    async def order(self, order_id: str) -> Record | None:
        async with self.engine.connect() as conn:
            found = await self._all(
                conn, "SELECT * FROM ops_orders WHERE order_id = :order_id", order_id=order_id
            )
            if not found:
                return None
            return {
                "order": found[0],
                "parcels": await self._all(conn, _PARCELS, order_id=order_id),
                "payments": await self._all(
                    conn,
                    "SELECT * FROM ops_payments WHERE order_id = :order_id "
                    "ORDER BY requested_at NULLS LAST, payment_id",
                    order_id=order_id,
                ),
                "returns": await self._all(
                    conn,
                    "SELECT * FROM ops_returns WHERE order_id = :order_id "
                    "ORDER BY requested_at NULLS LAST, return_id",
                    order_id=order_id,
                ),
                "feedback": next(
                    iter(
                        await self._all(
                            conn,
                            "SELECT rating, comment, received_at FROM ops_feedback "
                            "WHERE order_id = :order_id",
                            order_id=order_id,
                        )
                    ),
                    None,
                ),
                "timeline": await self._all(
                    conn,
                    "SELECT event_id, type, occurred_at, actor, producer, causation_id, summary "
                    "FROM ops_timeline WHERE order_id = :order_id "
                    "ORDER BY occurred_at, event_id LIMIT :limit",
                    order_id=order_id,
                    limit=MAX_TIMELINE,
                ),
            }

    async def tracking(self, order_id: str) -> Record | None:
        async with self.engine.connect() as conn:
            found = await self._all(
                conn,
                "SELECT status, placed_at FROM ops_orders WHERE order_id = :order_id",
                order_id=order_id,
            )
            if not found:
                return None
            return {**found[0], "parcels": await self._all(conn, _PARCELS, order_id=order_id)}
