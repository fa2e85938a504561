"""The read model tables and how each model's rows go in and out of them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_operations.projections import (
    dispatch,
    feedback,
    orders,
    payments,
    promotions,
    returns,
    shipments,
    stock,
    timeline,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS ops_orders (
    order_id        text PRIMARY KEY,
    status          text NOT NULL,
    platform_ref    text,
    sales_channel   text,
    customer_email  text,
    currency        text,
    order_value     numeric,
    lines           jsonb NOT NULL DEFAULT '[]',
    placed_at       timestamptz,
    confirmed_at    timestamptz,
    dispatched_at   timestamptz,
    delivered_at    timestamptz,
    cancelled_at    timestamptz,
    warehouses      text[] NOT NULL DEFAULT '{}',
    shipped_from    text[] NOT NULL DEFAULT '{}',
    shipments       text[] NOT NULL DEFAULT '{}',
    short_shipped   text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ops_orders_placed ON ops_orders (placed_at);
CREATE INDEX IF NOT EXISTS ops_orders_email_ci ON ops_orders (lower(customer_email));
CREATE INDEX IF NOT EXISTS ops_orders_ref ON ops_orders (platform_ref);
CREATE TABLE IF NOT EXISTS ops_shipments (
    shipment_id     text PRIMARY KEY,
    order_id        text NOT NULL,
    status          text NOT NULL,
    carrier         text,
    service         text,
    warehouse_id    text,
    tracking_number text,
    currency        text,
    cost            numeric,
    charged         numeric,
    promised_date   date,
    booked_at       timestamptz,
    dispatched_at   timestamptz,
    delivered_at    timestamptz,
    failed_attempts integer NOT NULL DEFAULT 0,
    failure         text
);
ALTER TABLE ops_shipments ADD COLUMN IF NOT EXISTS tracking_number text;
CREATE INDEX IF NOT EXISTS ops_shipments_order ON ops_shipments (order_id);
CREATE TABLE IF NOT EXISTS ops_returns (
    return_id       text PRIMARY KEY,
    order_id        text NOT NULL,
    status          text NOT NULL,
    warehouse_id    text,
    lines           jsonb NOT NULL DEFAULT '[]',
    currency        text,
    refund_amount   numeric,
    requested_at    timestamptz,
    authorized_at   timestamptz,
    received_at     timestamptz,
    resolved_at     timestamptz
);
CREATE INDEX IF NOT EXISTS ops_returns_order ON ops_returns (order_id);
CREATE TABLE IF NOT EXISTS ops_feedback (
    order_id        text PRIMARY KEY,
    rating          integer NOT NULL,
    comment         text,
    received_at     timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS ops_timeline (
    event_id        uuid PRIMARY KEY,
    order_id        text NOT NULL,
    type            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    actor           text NOT NULL,
    producer        text NOT NULL,
    correlation_id  text NOT NULL,
    causation_id    text,
    summary         text NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_timeline_order ON ops_timeline (order_id, occurred_at, event_id);
CREATE TABLE IF NOT EXISTS ops_payments (
    payment_id      text PRIMARY KEY,
    order_id        text NOT NULL,
    method          text NOT NULL,
    currency        text NOT NULL,
    status          text NOT NULL,
    amount          numeric,
    authorized      numeric NOT NULL DEFAULT 0,
    captured        numeric NOT NULL DEFAULT 0,
    refunded        numeric NOT NULL DEFAULT 0,
    voided          numeric NOT NULL DEFAULT 0,
    declined        boolean NOT NULL DEFAULT false,
    cancelled       boolean NOT NULL DEFAULT false,
    decline_reason  text,
    requested_at    timestamptz,
    authorized_at   timestamptz
);
CREATE INDEX IF NOT EXISTS ops_payments_order ON ops_payments (order_id);
CREATE INDEX IF NOT EXISTS ops_payments_requested ON ops_payments (requested_at);
CREATE TABLE IF NOT EXISTS ops_stock (
    sku             text NOT NULL,
    warehouse_id    text NOT NULL,
    on_hand         integer NOT NULL,
    reserved        integer NOT NULL,
    available       integer NOT NULL,
    threshold       integer NOT NULL,
    low             boolean NOT NULL,
    threshold_set_at timestamptz,
    PRIMARY KEY (sku, warehouse_id)
);
CREATE TABLE IF NOT EXISTS ops_stock_daily (
    sku             text NOT NULL,
    warehouse_id    text NOT NULL,
    day             date NOT NULL,
    reserved        integer NOT NULL,
    shipped         integer NOT NULL,
    PRIMARY KEY (sku, warehouse_id, day)
);
CREATE TABLE IF NOT EXISTS ops_promotions (
    promotion_id    text PRIMARY KEY,
    name            text NOT NULL,
    skus            text[] NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    expected_uplift numeric NOT NULL
);
CREATE TABLE IF NOT EXISTS ops_dispatch_hours (
    warehouse_id    text NOT NULL,
    hour            timestamptz NOT NULL,
    units_in        integer NOT NULL,
    units_packed    integer NOT NULL,
    units_dropped   integer NOT NULL,
    PRIMARY KEY (warehouse_id, hour)
);
"""

Row = Any
Key = tuple[Any, ...]
Apply = Callable[[Row | None, Envelope, Event], Row | None]


@dataclass(frozen=True)
class ReadModel:
    """A read model: its table, key, row class, pure ``apply`` and the events it takes."""

    table: str
    key: str | tuple[str, ...]
    """The key column, or the columns of a compound key."""
    row: type
    apply: Apply
    handled: tuple[type[Event], ...]
    json_columns: frozenset[str] = frozenset()
    array_columns: frozenset[str] = frozenset()
    build: Callable[..., Row] | None = None
    """Builds a row from its decoded columns (default: the row class itself)."""
    keys: Callable[[Envelope, Event], Sequence[Key]] | None = None
    """The keys of the rows an event touches, in the key columns' order (default: one
    row, the event's field named ``key``)."""
    blank: Callable[..., Row] | None = None
    """Builds the empty row of a key (its key columns as arguments), handed to ``apply``
    before that row's first event (default: ``apply`` gets ``None``)."""

    @property
    def columns(self) -> list[str]:
        return [f.name for f in fields(self.row)]

    @property
    def key_columns(self) -> tuple[str, ...]:
        return (self.key,) if isinstance(self.key, str) else self.key

    def keys_of(self, env: Envelope, event: Event) -> Sequence[Key]:
        if self.keys is not None:
            return self.keys(env, event)
        assert isinstance(self.key, str)
        return [(getattr(event, self.key),)]

    def initial(self, key: Key) -> Row | None:
        """What ``apply`` gets for a row not stored yet."""
        return None if self.blank is None else self.blank(*key)

    def encode(self, row: Row) -> dict[str, Any]:
        values = asdict(row)
        for name in self.json_columns:
            values[name] = json.dumps(values[name])
        for name in self.array_columns:
            values[name] = list(values[name])
        return values

    def decode(self, record: Mapping[Any, Any]) -> Row:
        values = dict(record)
        for name in self.array_columns:
            values[name] = tuple(values[name])
        return (self.build or self.row)(**values)

    async def load(self, conn: AsyncConnection, key: Key) -> Row | None:
        where = " AND ".join(f"{c} = :k{i}" for i, c in enumerate(self.key_columns))
        found = await conn.execute(
            text(f"SELECT * FROM {self.table} WHERE {where} FOR UPDATE"),
            {f"k{i}": value for i, value in enumerate(key)},
        )
        record = found.mappings().first()
        return None if record is None else self.decode(record)

    async def save(self, conn: AsyncConnection, row: Row) -> None:
        cols = self.columns
        values = ", ".join(
            f"CAST(:{c} AS jsonb)" if c in self.json_columns else f":{c}" for c in cols
        )
        keys = self.key_columns
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in keys)
        on_conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        await conn.execute(
            text(
                f"INSERT INTO {self.table} ({', '.join(cols)}) VALUES ({values}) "
                f"ON CONFLICT ({', '.join(keys)}) {on_conflict}"
            ),
            self.encode(row),
        )


def _order_row(**values: Any) -> orders.OrderRow:
    values["lines"] = tuple((sku, int(qty)) for sku, qty in values["lines"])
    return orders.OrderRow(**values)


def _return_row(**values: Any) -> returns.ReturnRow:
    values["lines"] = tuple(returns.ReturnLine(**line) for line in values["lines"])
    return returns.ReturnRow(**values)


ORDERS = ReadModel(
    "ops_orders",
    "order_id",
    orders.OrderRow,
    orders.apply,
    orders.HANDLED,
    json_columns=frozenset({"lines"}),
    array_columns=frozenset({"warehouses", "shipped_from", "shipments", "short_shipped"}),
    build=_order_row,
)
SHIPMENTS = ReadModel(
    "ops_shipments", "shipment_id", shipments.ShipmentRow, shipments.apply, shipments.HANDLED
)
RETURNS = ReadModel(
    "ops_returns",
    "return_id",
    returns.ReturnRow,
    returns.apply,
    returns.HANDLED,
    json_columns=frozenset({"lines"}),
    build=_return_row,
)
FEEDBACK = ReadModel(
    "ops_feedback", "order_id", feedback.FeedbackRow, feedback.apply, feedback.HANDLED
)

TIMELINE = ReadModel(
    "ops_timeline",
    "event_id",
    timeline.TimelineRow,
    timeline.apply,
    timeline.HANDLED,
    keys=timeline.keys,
)
PAYMENTS = ReadModel(
    "ops_payments", "payment_id", payments.PaymentRow, payments.apply, payments.HANDLED
)
STOCK = ReadModel(
    "ops_stock",
    ("sku", "warehouse_id"),
    stock.StockRow,
    stock.apply,
    stock.HANDLED,
    keys=stock.keys,
    blank=stock.StockRow,
)
STOCK_DAILY = ReadModel(
    "ops_stock_daily",
    ("sku", "warehouse_id", "day"),
    stock.SalesDayRow,
    stock.apply_sales,
    stock.SALES_HANDLED,
    keys=stock.sales_keys,
    blank=stock.SalesDayRow,
)
PROMOTIONS = ReadModel(
    "ops_promotions",
    "promotion_id",
    promotions.PromotionRow,
    promotions.apply,
    promotions.HANDLED,
    array_columns=frozenset({"skus"}),
)
DISPATCH_HOURS = ReadModel(
    "ops_dispatch_hours",
    ("warehouse_id", "hour"),
    dispatch.DispatchHourRow,
    dispatch.apply,
    dispatch.HANDLED,
    keys=dispatch.keys,
    blank=dispatch.DispatchHourRow,
)

MODELS: Sequence[ReadModel] = (
    ORDERS,
    SHIPMENTS,
    RETURNS,
    FEEDBACK,
    TIMELINE,
    PAYMENTS,
    STOCK,
    STOCK_DAILY,
    PROMOTIONS,
    DISPATCH_HOURS,
)
TABLES = tuple(model.table for model in MODELS)


async def create(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.operations.tables'))"))
        for statement in SCHEMA.split(";"):
            if statement.strip():
                await conn.execute(text(statement))


async def truncate(engine: AsyncEngine) -> None:
    """Empty every read model (before a rebuild from zero)."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
