"""The dashboards' figures, computed in SQL over the read models.

Each dashboard filters on its own natural time: orders on ``placed_at``, shipping on the
parcel's ``dispatched_at``, returns on ``requested_at``, satisfaction on the rating's
``received_at``; ``to`` is inclusive (the whole day). ``warehouse`` and ``carrier`` keep
what involves that warehouse or was carried (at least in part) by that carrier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.capacity import CAPACITY, CapacityTable
from oms_operations.projections import dispatch
from oms_operations.projections import payments as pay
from oms_operations.projections.orders import STATUSES
from oms_operations.projections.promotions import SALES_WINDOW_DAYS, PromotionRow, outlooks

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
    async def payments(self, f: Filters) -> Figures: ...
    async def stock(self, f: Filters) -> Figures: ...
    async def capacity(self, f: Filters) -> Figures: ...
    async def timeline(self, order_id: str) -> list[Figures]: ...


def _num(value: Any, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


TIMELINE_LIMIT = 1000
"""At most this many events of one order (its first ones) in a timeline."""
LATE_ROWS = 20
"""The oldest parcels past their promised date listed on the orders dashboard."""
STOCK_ROWS = 500
"""At most this many SKU x warehouse rows (and low-stock rows) on the stock dashboard."""
PROMOTION_ROWS = 50
"""At most this many promotions (the soonest to start) on the stock dashboard."""
WAREHOUSE_ROWS = 100
"""At most this many warehouses (and carriers) on the capacity dashboard."""
HOURS = 24

LEGS = {
    "placed_to_confirmed": ("placed_at", "confirmed_at"),
    "confirmed_to_dispatched": ("confirmed_at", "dispatched_at"),
    "dispatched_to_delivered": ("dispatched_at", "delivered_at"),
    "placed_to_delivered": ("placed_at", "delivered_at"),
}


def _now() -> datetime:
    return datetime.now(UTC)


class SqlDashboardQueries:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], datetime] = _now,
        capacity: CapacityTable = CapacityTable(CAPACITY),  # noqa: B008 - immutable
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.capacity_table = capacity

    async def _all(self, sql: str, f: Filters, **extra: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), {**f.params(), **extra})).mappings())

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
            "past_promised_date": await self._late(f),
        }

    async def _late(self, f: Filters) -> Figures:
        """Parcels not delivered by their promised date: still out after it, or delivered
        on a later day (UTC); counted per order, the oldest promises listed."""
        today = self.clock().date()
        sql = f"""
        SELECT s.order_id, s.shipment_id, s.carrier, s.warehouse_id, s.status,
               s.promised_date, s.delivered_at,
               coalesce((s.delivered_at AT TIME ZONE 'UTC')::date, CAST(:today AS date))
                   - s.promised_date AS days_late
        FROM ops_shipments s JOIN ops_orders o USING (order_id)
        WHERE s.promised_date IS NOT NULL
        AND coalesce((s.delivered_at AT TIME ZONE 'UTC')::date, CAST(:today AS date))
            > s.promised_date
        AND {f.window("o.placed_at")} AND {_FROM_WAREHOUSE.format(column="s.warehouse_id")}
        AND (CAST(:carrier AS text) IS NULL OR s.carrier = CAST(:carrier AS text))
        """
        count = await self._all(
            f"SELECT count(DISTINCT order_id) AS n, count(*) AS p FROM ({sql}) late", f, today=today
        )
        rows = await self._all(
            f"{sql} ORDER BY s.promised_date, s.shipment_id LIMIT {LATE_ROWS}", f, today=today
        )
        return {
            "orders": count[0]["n"],
            "parcels": count[0]["p"],
            "as_of": today.isoformat(),
            "oldest": [
                {
                    "order_id": r["order_id"],
                    "shipment_id": r["shipment_id"],
                    "carrier": r["carrier"],
                    "warehouse": r["warehouse_id"],
                    "status": r["status"],
                    "promised_date": r["promised_date"].isoformat(),
                    "delivered_at": r["delivered_at"].isoformat() if r["delivered_at"] else None,
                    "days_late": r["days_late"],
                }
                for r in rows
            ],
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

    async def payments(self, f: Filters) -> Figures:
        """Payments whose authorisation was requested in the window (orders allocated to
        ``warehouse``, carried by ``carrier``): mix by method, declines, money per currency.

        A decline rate is declined / attempted, where attempted means the provider
        answered (authorised or declined): pending and cancelled-before-authorisation
        payments are no attempt.
        """
        base = f"""
        WITH p AS (
            SELECT p.* FROM ops_payments p
            WHERE {f.window("coalesce(p.requested_at, p.authorized_at)")}
            AND (CAST(:warehouse AS text) IS NULL OR EXISTS (SELECT 1 FROM ops_orders o
                 WHERE o.order_id = p.order_id AND CAST(:warehouse AS text) = ANY(o.warehouses)))
            AND {_CARRIED_BY.format(order="p.order_id")}
        )
        """
        overall = (
            await self._all(
                base + "SELECT count(*) AS payments, count(DISTINCT order_id) AS orders, "
                "count(*) FILTER (WHERE declined OR authorized > 0) AS attempted, "
                "count(*) FILTER (WHERE declined) AS declined FROM p",
                f,
            )
        )[0]
        orders = overall["orders"]
        by_status = {s: 0 for s in pay.STATUSES}
        for r in await self._all(base + "SELECT status, count(*) AS n FROM p GROUP BY 1", f):
            by_status[r["status"]] = r["n"]
        by_method = [
            {
                "method": r["method"],
                "currency": r["currency"],
                "payments": r["n"],
                "orders": r["orders"],
                "order_share": _rate(r["orders"], orders),
                "amount": _money(r["amount"]),
            }
            for r in await self._all(
                base + "SELECT method, currency, count(*) AS n, count(DISTINCT order_id) AS orders,"
                " sum(coalesce(amount, authorized)) AS amount FROM p GROUP BY 1, 2 ORDER BY 1, 2",
                f,
            )
        ]
        declines = [
            {
                "method": r["method"],
                "attempted": r["attempted"],
                "declined": r["declined"],
                "decline_rate": _rate(r["declined"], r["attempted"]),
            }
            for r in await self._all(
                base + "SELECT method, count(*) FILTER (WHERE declined OR authorized > 0) "
                "AS attempted, count(*) FILTER (WHERE declined) AS declined "
                "FROM p GROUP BY 1 ORDER BY 1",
                f,
            )
        ]
        reasons = [
            {
                "reason": r["reason"],
                "declined": r["n"],
                "rate": _rate(r["n"], overall["attempted"]),
            }
            for r in await self._all(
                base + "SELECT coalesce(decline_reason, 'unknown') AS reason, count(*) AS n "
                "FROM p WHERE declined GROUP BY 1 ORDER BY 1",
                f,
            )
        ]
        totals = [
            {
                "currency": r["currency"],
                **{k: _money(r[k]) for k in ("authorized", "captured", "refunded", "voided")},
            }
            for r in await self._all(
                base + "SELECT currency, sum(authorized) AS authorized, sum(captured) AS captured,"
                " sum(refunded) AS refunded, sum(voided) AS voided FROM p "
                "GROUP BY 1 ORDER BY 1",
                f,
            )
        ]
        return {
            "payments": overall["payments"],
            "orders": orders,
            "by_status": by_status,
            "by_method": by_method,
            "declines": {
                "attempted": overall["attempted"],
                "declined": overall["declined"],
                "decline_rate": _rate(overall["declined"], overall["attempted"]),
                "by_method": declines,
                "by_reason": reasons,
            },
            "totals": totals,
        }

    async def stock(self, f: Filters) -> Figures:
        """Stock now per SKU x warehouse (``warehouse`` filters), the low ones, and the
        readiness of the promotions not over yet (those overlapping ``from``..``to`` when
        given), by :func:`~oms_operations.projections.promotions.outlook`."""
        now = self.clock()
        levels = await self._all(
            f"SELECT * FROM ops_stock s WHERE {_FROM_WAREHOUSE.format(column='s.warehouse_id')} "
            f"ORDER BY sku, warehouse_id LIMIT {STOCK_ROWS}",
            f,
        )
        count = await self._all(
            "SELECT count(*) AS n, count(*) FILTER (WHERE low) AS low FROM ops_stock s "
            f"WHERE {_FROM_WAREHOUSE.format(column='s.warehouse_id')}",
            f,
        )
        low = await self._all(
            f"SELECT * FROM ops_stock s WHERE low AND "
            f"{_FROM_WAREHOUSE.format(column='s.warehouse_id')} "
            f"ORDER BY available - threshold, sku, warehouse_id LIMIT {STOCK_ROWS}",
            f,
        )
        return {
            "rows": count[0]["n"],
            "levels": [_level(r) for r in levels],
            "low_stock": {"rows": count[0]["low"], "levels": [_level(r) for r in low]},
            "promotions": await self._promotions(f, now),
        }

    async def _promotions(self, f: Filters, now: datetime) -> list[Figures]:
        found = await self._all(
            "SELECT * FROM ops_promotions p WHERE p.ends_at > CAST(:now AS timestamptz) "
            "AND (CAST(:start AS date) IS NULL OR p.ends_at >= CAST(:start AS date)) "
            "AND (CAST(:end AS date) IS NULL OR p.starts_at < CAST(:end AS date)) "
            f"ORDER BY starts_at, promotion_id LIMIT {PROMOTION_ROWS}",
            f,
            now=now,
        )
        plans = [
            PromotionRow(
                r["promotion_id"],
                r["name"],
                tuple(r["skus"]),
                r["starts_at"],
                r["ends_at"],
                r["expected_uplift"],
            )
            for r in found
        ]
        skus = sorted({sku for p in plans for sku in p.skus})
        if not skus:
            return []
        wh = _FROM_WAREHOUSE.format(column="warehouse_id")
        available = {
            (r["sku"], r["warehouse_id"]): r["available"]
            for r in await self._all(
                f"SELECT sku, warehouse_id, available FROM ops_stock "
                f"WHERE sku = ANY(:skus) AND {wh}",
                f,
                skus=skus,
            )
        }
        today = now.date()
        reserved = {
            (r["sku"], r["warehouse_id"]): int(r["units"])
            for r in await self._all(
                "SELECT sku, warehouse_id, sum(reserved) AS units FROM ops_stock_daily "
                f"WHERE sku = ANY(:skus) AND {wh} AND day > CAST(:first AS date) "
                "AND day <= CAST(:last AS date) GROUP BY 1, 2",
                f,
                skus=skus,
                first=today - timedelta(days=SALES_WINDOW_DAYS),
                last=today,
            )
        }
        return [_readiness(p, outlooks(p, available, reserved, now=now)) for p in plans]

    async def capacity(self, f: Filters) -> Figures:
        """Per warehouse, the last ``HOURS`` hours of the window (up to now): units that
        entered its backlog, were packed or dropped (short picks, cancellations), the
        backlog at each hour's end against its capacity; per carrier the late-delivery
        rate of parcels dispatched in the window; and the signals they give
        (:mod:`~oms_operations.projections.dispatch`)."""
        last = dispatch.hour_of(self.clock())
        if f.end is not None:
            end_of_window = datetime.combine(f.end + timedelta(days=1), time(), UTC)
            last = min(last, dispatch.hour_of(end_of_window - timedelta(microseconds=1)))
        first = last - (HOURS - 1) * dispatch.HOUR
        if f.start is not None:
            first = max(first, datetime.combine(f.start, time(), UTC))
        hours = [
            first + n * dispatch.HOUR for n in range(HOURS) if first + n * dispatch.HOUR <= last
        ]
        wh = _FROM_WAREHOUSE.format(column="warehouse_id")
        before = {
            r["warehouse_id"]: int(r["backlog"])
            for r in await self._all(
                "SELECT warehouse_id, sum(units_in - units_packed - units_dropped) AS backlog "
                f"FROM ops_dispatch_hours WHERE {wh} AND hour < CAST(:first AS timestamptz) "
                "GROUP BY 1",
                f,
                first=first,
            )
        }
        rows: dict[str, dict[datetime, dispatch.DispatchHourRow]] = {}
        for r in await self._all(
            f"SELECT * FROM ops_dispatch_hours WHERE {wh} "
            "AND hour >= CAST(:first AS timestamptz) AND hour <= CAST(:last AS timestamptz)",
            f,
            first=first,
            last=last,
        ):
            rows.setdefault(r["warehouse_id"], {})[r["hour"]] = dispatch.DispatchHourRow(**r)
        warehouses = sorted({*before, *rows})[:WAREHOUSE_ROWS]
        signals: list[str] = []
        per_warehouse = []
        for code in warehouses:
            cap, default = self.capacity_table.of(code)
            figures = dispatch.series(hours, before.get(code, 0), rows.get(code, {}), cap)
            run, _ = dispatch.longest_over(figures)
            staff = dispatch.staff_signal(code, figures)
            signals += [staff] if staff else []
            per_warehouse.append(
                {
                    "warehouse": code,
                    "capacity": {
                        "picks_per_hour": cap.picks_per_hour,
                        "packs_per_hour": cap.packs_per_hour,
                        "default": default,
                    },
                    "backlog": figures[-1].backlog if figures else before.get(code, 0),
                    "hours_over_capacity": run,
                    "hours": [
                        {
                            "hour": h.hour.isoformat(),
                            "units_in": h.units_in,
                            "units_packed": h.units_packed,
                            "units_dropped": h.units_dropped,
                            "backlog": h.backlog,
                            "over_capacity": h.over_capacity,
                        }
                        for h in figures
                    ],
                }
            )
        carriers = []
        for r in await self._all(
            "SELECT carrier, count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered, "
            "count(*) FILTER (WHERE (delivered_at AT TIME ZONE 'UTC')::date > promised_date) "
            "AS late FROM ops_shipments s WHERE s.dispatched_at IS NOT NULL "
            f"AND s.promised_date IS NOT NULL AND carrier IS NOT NULL "
            f"AND {f.window('s.dispatched_at')} "
            f"AND {_FROM_WAREHOUSE.format(column='s.warehouse_id')} "
            "AND (CAST(:carrier AS text) IS NULL OR s.carrier = CAST(:carrier AS text)) "
            f"GROUP BY 1 ORDER BY 1 LIMIT {WAREHOUSE_ROWS}",
            f,
        ):
            late_signal = dispatch.carrier_signal(r["carrier"], r["delivered"], r["late"])
            signals += [late_signal] if late_signal else []
            carriers.append(
                {
                    "carrier": r["carrier"],
                    "delivered": r["delivered"],
                    "late": r["late"],
                    "late_delivery_rate": _rate(r["late"], r["delivered"]),
                }
            )
        return {
            "hours": [h.isoformat() for h in hours],
            "warehouses": per_warehouse,
            "carriers": carriers,
            "signals": signals,
            "thresholds": {
                "staff_signal_hours": dispatch.STAFF_SIGNAL_HOURS,
                "late_delivery_rate": dispatch.LATE_RATE_THRESHOLD,
                "min_delivered": dispatch.MIN_DELIVERED,
            },
        }


def _level(r: Any) -> Figures:
    return {
        "sku": r["sku"],
        "warehouse": r["warehouse_id"],
        "on_hand": r["on_hand"],
        "reserved": r["reserved"],
        "available": r["available"],
        "low_stock_threshold": r["threshold"],
        "low": r["low"],
    }


def _readiness(p: PromotionRow, found: list[Any]) -> Figures:
    skus = []
    for sku in p.skus:
        mine = [o for o in found if o.sku == sku]
        skus.append(
            {
                "sku": sku,
                "available": sum(o.available for o in mine),
                "expected_demand": _num(sum((o.expected_demand for o in mine), Decimal(0)), 2),
                "shortfall": sum(o.shortfall for o in mine),
                "suggested_reorder": sum(o.suggested_reorder for o in mine),
                "warehouses": [
                    {
                        "warehouse": o.warehouse,
                        "available": o.available,
                        "rate_per_day": _num(o.rate_per_day, 2),
                        "demand_before_start": _num(o.demand_before_start, 2),
                        "expected_demand": _num(o.expected_demand, 2),
                        "shortfall": o.shortfall,
                        "suggested_reorder": o.suggested_reorder,
                    }
                    for o in mine
                ],
            }
        )
    return {
        "promotion_id": p.promotion_id,
        "name": p.name,
        "starts_at": p.starts_at.isoformat(),
        "ends_at": p.ends_at.isoformat(),
        "expected_uplift": str(p.expected_uplift),
        "ready": all(s["shortfall"] == 0 for s in skus),
        "skus": skus,
    }
