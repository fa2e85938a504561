"""The dashboards' figures, computed in SQL over the read models.

Each dashboard filters on its own natural time: orders on ``placed_at``, shipping on the
parcel's ``dispatched_at``, returns on ``requested_at``, satisfaction on the rating's
``received_at``; ``to`` is inclusive (the whole day). ``warehouse`` and ``carrier`` keep
what involves that warehouse or was carried (at least in part) by that carrier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_operations.projections.orders import STATUSES

Figures = dict[str, Any]


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    """Inclusive."""
    warehouse: str | None = None
    carrier: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end + timedelta(days=1) if self.end else None,
            "warehouse": self.warehouse,
            "carrier": self.carrier,
        }

    def window(self, column: str) -> str:
        return (
            f"(CAST(:start AS date) IS NULL OR {column} >= CAST(:start AS date)) AND "
            f"(CAST(:end AS date) IS NULL OR {column} < CAST(:end AS date))"
        )


_CARRIED_BY = (
    "(CAST(:carrier AS text) IS NULL OR EXISTS (SELECT 1 FROM ops_shipments cs "
    "WHERE cs.order_id = {order} AND cs.carrier = CAST(:carrier AS text)))"
)
_FROM_WAREHOUSE = "(CAST(:warehouse AS text) IS NULL OR {column} = CAST(:warehouse AS text))"
_ALLOCATED_TO = "(CAST(:warehouse AS text) IS NULL OR CAST(:warehouse AS text) = ANY({column}))"


def _order_filter(f: Filters, alias: str = "o") -> str:
    return " AND ".join(
        [
            f.window(f"{alias}.placed_at"),
            _ALLOCATED_TO.format(column=f"{alias}.warehouses"),
            _CARRIED_BY.format(order=f"{alias}.order_id"),
        ]
    )


class DashboardQueries(Protocol):
    async def orders(self, f: Filters) -> Figures: ...
    async def shipping(self, f: Filters) -> Figures: ...
    async def returns(self, f: Filters) -> Figures: ...
    async def satisfaction(self, f: Filters) -> Figures: ...
    async def timeline(self, order_id: str) -> list[Figures]: ...


def _num(value: Any, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


TIMELINE_LIMIT = 1000
"""At most this many events of one order (its first ones) in a timeline."""

LEGS = {
    "placed_to_confirmed": ("placed_at", "confirmed_at"),
    "confirmed_to_dispatched": ("confirmed_at", "dispatched_at"),
    "dispatched_to_delivered": ("dispatched_at", "delivered_at"),
    "placed_to_delivered": ("placed_at", "delivered_at"),
}


class SqlDashboardQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _all(self, sql: str, f: Filters) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), f.params())).mappings())

    async def orders(self, f: Filters) -> Figures:
        where = _order_filter(f)
        counts = {s: 0 for s in STATUSES}
        for r in await self._all(
            f"SELECT status, count(*) AS n FROM ops_orders o WHERE {where} GROUP BY status", f
        ):
            counts[r["status"]] = r["n"]
        legs = ", ".join(
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM {b} - {a})) "
            f"AS {name}_p50, percentile_cont(0.9) WITHIN GROUP "
            f"(ORDER BY extract(epoch FROM {b} - {a})) AS {name}_p90, "
            f"count({b} - {a}) AS {name}_n"
            for name, (a, b) in LEGS.items()
        )
        row = (await self._all(f"SELECT {legs} FROM ops_orders o WHERE {where}", f))[0]
        lead = {
            name: {
                "p50_s": _num(row[f"{name}_p50"], 1),
                "p90_s": _num(row[f"{name}_p90"], 1),
                "orders": row[f"{name}_n"],
            }
            for name in LEGS
        }
        backlog_sql = (
            "SELECT w AS warehouse, count(*) AS orders, min(o.confirmed_at) AS oldest "
            "FROM ops_orders o, unnest(o.warehouses) AS w "
            "WHERE o.status IN ('confirmed', 'shipped') AND NOT (w = ANY(o.shipped_from)) "
            f"AND {_FROM_WAREHOUSE.format(column='w')} AND {f.window('o.placed_at')} "
            f"AND {_CARRIED_BY.format(order='o.order_id')} GROUP BY w ORDER BY w"
        )
        backlog = [
            {
                "warehouse": r["warehouse"],
                "orders": r["orders"],
                "oldest_confirmed_at": r["oldest"].isoformat(),
            }
            for r in await self._all(backlog_sql, f)
        ]
        return {
            "total": sum(counts.values()),
            "by_status": counts,
            "lead_times": lead,
            "backlog": backlog,
        }

    async def shipping(self, f: Filters) -> Figures:
        sql = f"""
        WITH s AS (
            SELECT * FROM ops_shipments s WHERE s.dispatched_at IS NOT NULL
            AND {f.window("s.dispatched_at")} AND {_FROM_WAREHOUSE.format(column="s.warehouse_id")}
            AND (CAST(:carrier AS text) IS NULL OR s.carrier = CAST(:carrier AS text))
        ), g AS (
            SELECT carrier, service, warehouse_id, currency, count(*) AS parcels,
                   sum(cost) AS cost, sum(charged) AS charged,
                   count(*) FILTER (WHERE delivered_at IS NOT NULL
                                    AND promised_date IS NOT NULL) AS delivered,
                   count(*) FILTER (WHERE (delivered_at AT TIME ZONE 'UTC')::date
                                    > promised_date) AS late,
                   array_agg(DISTINCT order_id) AS orders
            FROM s GROUP BY carrier, service, warehouse_id, currency
        )
        SELECT g.*, (SELECT sum(o.order_value) FROM ops_orders o
                     WHERE o.order_id = ANY(g.orders)) AS order_value
        FROM g ORDER BY carrier, service, warehouse_id, currency
        """
        groups = [
            {
                "carrier": r["carrier"],
                "service": r["service"],
                "warehouse": r["warehouse_id"],
                "currency": r["currency"],
                "parcels": r["parcels"],
                "cost": _money(r["cost"]),
                "charged": _money(r["charged"]),
                "order_value": _money(r["order_value"]),
                "cost_share_of_order_value": _num(r["cost"] / r["order_value"])
                if r["order_value"]
                else None,
                "delivered": r["delivered"],
                "late": r["late"],
                "late_delivery_rate": _rate(r["late"], r["delivered"]),
            }
            for r in await self._all(sql, f)
        ]
        return {"parcels": sum(g["parcels"] for g in groups), "groups": groups}

    async def returns(self, f: Filters) -> Figures:
        rwhere = " AND ".join(
            [
                f.window("coalesce(r.requested_at, r.authorized_at)"),
                _FROM_WAREHOUSE.format(column="r.warehouse_id"),
                _CARRIED_BY.format(order="r.order_id"),
            ]
        )
        owhere = " AND ".join(
            [
                "o.delivered_at IS NOT NULL",
                f.window("o.delivered_at"),
                _ALLOCATED_TO.format(column="o.warehouses"),
                _CARRIED_BY.format(order="o.order_id"),
            ]
        )
        delivered = (await self._all(f"SELECT count(*) AS n FROM ops_orders o WHERE {owhere}", f))[
            0
        ]["n"]
        total = (await self._all(f"SELECT count(*) AS n FROM ops_returns r WHERE {rwhere}", f))[0][
            "n"
        ]
        by_reason = [
            {
                "reason": r["reason"],
                "returns": r["returns"],
                "units": r["units"],
                "rate": _rate(r["returns"], delivered),
            }
            for r in await self._all(
                "SELECT coalesce(l->>'reason', 'unknown') AS reason, "
                "count(DISTINCT r.return_id) AS returns, sum((l->>'quantity')::int) AS units "
                f"FROM ops_returns r, jsonb_array_elements(r.lines) AS l WHERE {rwhere} "
                "GROUP BY 1 ORDER BY 1",
                f,
            )
        ]
        sku_sql = f"""
        WITH returned AS (
            SELECT l->>'sku' AS sku, sum((l->>'quantity')::int) AS units
            FROM ops_returns r, jsonb_array_elements(r.lines) AS l WHERE {rwhere} GROUP BY 1
        ), sold AS (
            SELECT e->>0 AS sku, sum((e->>1)::int) AS units
            FROM ops_orders o, jsonb_array_elements(o.lines) AS e WHERE {owhere} GROUP BY 1
        )
        SELECT returned.sku, returned.units, sold.units AS delivered_units
        FROM returned LEFT JOIN sold USING (sku) ORDER BY returned.sku
        """
        by_sku = [
            {
                "sku": r["sku"],
                "units": r["units"],
                "delivered_units": r["delivered_units"] or 0,
                "rate": _rate(r["units"], r["delivered_units"] or 0),
            }
            for r in await self._all(sku_sql, f)
        ]
        by_condition = {
            r["condition"]: r["units"]
            for r in await self._all(
                "SELECT l->>'condition' AS condition, sum((l->>'quantity')::int) AS units "
                f"FROM ops_returns r, jsonb_array_elements(r.lines) AS l WHERE {rwhere} "
                "AND l->>'condition' IS NOT NULL GROUP BY 1 ORDER BY 1",
                f,
            )
        }
        refunded = [
            {
                "currency": r["currency"],
                "amount": _money(r["amount"]),
                "returns": r["n"],
                "mean_days_to_refund": _num(r["days"], 2),
            }
            for r in await self._all(
                "SELECT currency, sum(refund_amount) AS amount, count(*) AS n, "
                "avg(extract(epoch FROM resolved_at - requested_at) / 86400) AS days "
                f"FROM ops_returns r WHERE {rwhere} AND r.status = 'resolved' "
                "GROUP BY currency ORDER BY currency",
                f,
            )
        ]
        return {
            "returns": total,
            "delivered_orders": delivered,
            "rate": _rate(total, delivered),
            "by_reason": by_reason,
            "by_sku": by_sku,
            "by_condition": by_condition,
            "refunded": refunded,
        }

    async def satisfaction(self, f: Filters) -> Figures:
        base = f"""
        WITH rated AS (
            SELECT f.order_id, f.rating, o.shipments,
                   EXISTS (SELECT 1 FROM ops_returns r WHERE r.order_id = f.order_id
                           AND r.status <> 'expired') AS returned
            FROM ops_feedback f LEFT JOIN ops_orders o USING (order_id)
            WHERE {f.window("f.received_at")}
            AND (CAST(:warehouse AS text) IS NULL OR EXISTS (SELECT 1 FROM ops_shipments ws
                 WHERE ws.order_id = f.order_id AND ws.warehouse_id = CAST(:warehouse AS text)))
            AND {_CARRIED_BY.format(order="f.order_id")}
        )
        """

        def groups(rows: list[Any], name: str) -> list[Figures]:
            return [
                {name: r["k"], "mean_rating": _num(r["mean"], 3), "ratings": r["n"]} for r in rows
            ]

        overall = (
            await self._all(base + "SELECT avg(rating) AS mean, count(*) AS n FROM rated", f)
        )[0]
        by = {}
        for name, column in (("carrier", "carrier"), ("warehouse", "warehouse_id")):
            by[name] = groups(
                await self._all(
                    base + f"SELECT s.{column} AS k, avg(rated.rating) AS mean, count(*) AS n "
                    f"FROM rated JOIN (SELECT DISTINCT order_id, {column} FROM ops_shipments "
                    f"WHERE dispatched_at IS NOT NULL) s USING (order_id) GROUP BY 1 ORDER BY 1",
                    f,
                ),
                name,
            )
        by["split"] = groups(
            await self._all(
                base + "SELECT CASE WHEN cardinality(shipments) > 1 THEN 'split' "
                "WHEN cardinality(shipments) = 1 THEN 'single' ELSE 'unshipped' END AS k, "
                "avg(rating) AS mean, count(*) AS n FROM rated GROUP BY 1 ORDER BY 1",
                f,
            ),
            "parcels",
        )
        by["returned"] = groups(
            await self._all(
                base + "SELECT CASE WHEN returned THEN 'returned' ELSE 'kept' END AS k, "
                "avg(rating) AS mean, count(*) AS n FROM rated GROUP BY 1 ORDER BY 1",
                f,
            ),
            "kept_or_returned",
        )
        return {
            "mean_rating": _num(overall["mean"], 3),
            "ratings": overall["n"],
            "by_carrier": by["carrier"],
            "by_warehouse": by["warehouse"],
            "split_vs_single": by["split"],
            "returned_vs_kept": by["returned"],
        }

    async def timeline(self, order_id: str) -> list[Figures]:
        """The order's events from every service, oldest first (at most ``TIMELINE_LIMIT``)."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT * FROM ops_timeline WHERE order_id = :order_id "
                    "ORDER BY occurred_at, event_id LIMIT :limit"
                ),
                {"order_id": order_id, "limit": TIMELINE_LIMIT},
            )
            return [
                {
                    "event_id": str(r["event_id"]),
                    "order_id": r["order_id"],
                    "type": r["type"],
                    "occurred_at": r["occurred_at"].isoformat(),
                    "actor": r["actor"],
                    "producer": r["producer"],
                    "correlation_id": r["correlation_id"],
                    "causation_id": r["causation_id"],
                    "summary": r["summary"],
                }
                for r in found.mappings()
            ]
