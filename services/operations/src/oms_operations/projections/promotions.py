"""``ops_promotions``: the planned promotions (``PromotionPlanned``), and the rule that
says whether the stock will last through one (:func:`outlook`).

The plan is stored as published; readiness depends on the clock and on the stock and
sales at the moment it is asked, so the dashboard computes it then, from ``ops_stock``
and ``ops_stock_daily``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from oms_events.base import Event
from oms_events.contracts.inventory import PromotionPlanned
from oms_events.envelope import Envelope

HANDLED: tuple[type[Event], ...] = (PromotionPlanned,)

SALES_WINDOW_DAYS = 28
"""The trailing days whose net reserved units give a SKU's sales rate (as inventory's
default velocity window)."""


@dataclass(frozen=True)
class PromotionRow:
    promotion_id: str
    name: str
    skus: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    expected_uplift: Decimal


def apply(row: PromotionRow | None, _env: Envelope, event: Event) -> PromotionRow | None:
    """A promotion is planned once (inventory refuses other details for the same id)."""
    if not isinstance(event, PromotionPlanned):
        return row
    return PromotionRow(
        event.promotion_id,
        event.name,
        tuple(event.skus),
        event.starts_at,
        event.ends_at,
        event.expected_uplift,
    )


@dataclass(frozen=True)
class Outlook:
    """One SKU in one warehouse before one promotion."""

    sku: str
    warehouse: str
    available: int
    rate_per_day: Decimal
    demand_before_start: Decimal
    expected_demand: Decimal
    shortfall: int
    suggested_reorder: int


def _days(delta: timedelta) -> Decimal:
    return max(Decimal(0), Decimal(delta.total_seconds()) / Decimal(86400))


def _cents(d: Decimal) -> Decimal:
    return d.quantize(Decimal("0.01"))


def outlook(
    promotion: PromotionRow,
    sku: str,
    warehouse: str,
    *,
    available: int,
    reserved_in_window: int,
    now: datetime,
    window_days: int = SALES_WINDOW_DAYS,
) -> Outlook:
    """Whether ``warehouse``'s stock of ``sku`` lasts through ``promotion``, at ``now``:

    - sales rate = units reserved there (net of releases) over the trailing
      ``window_days`` / ``window_days``;
    - demand before the start = rate x days from now to the start;
    - expected demand during the promotion = rate x expected uplift x days of the
      promotion still to come;
    - shortfall = expected demand - (available now - demand before the start, not below
      zero), rounded up, not below zero;
    - suggested reorder = the shortfall: units to receive there before the start.

    Per warehouse, because allocation decides where orders ship from (inventory's rule).
    """
    rate = Decimal(max(0, reserved_in_window)) / window_days
    before = rate * _days(promotion.starts_at - now)
    during = (
        rate * promotion.expected_uplift * _days(promotion.ends_at - max(now, promotion.starts_at))
    )
    left_at_start = max(Decimal(0), available - before)
    short = math.ceil(max(Decimal(0), during - left_at_start))
    return Outlook(
        sku,
        warehouse,
        available,
        _cents(rate),
        _cents(before),
        _cents(during),
        short,
        short,
    )


def outlooks(
    promotion: PromotionRow,
    available: Mapping[tuple[str, str], int],
    reserved: Mapping[tuple[str, str], int],
    *,
    now: datetime,
    window_days: int = SALES_WINDOW_DAYS,
) -> list[Outlook]:
    """:func:`outlook` for each of the promotion's SKUs in every warehouse that stocks or
    sold it (``available`` and ``reserved`` keyed by (SKU, warehouse))."""
    found = []
    for sku in promotion.skus:
        warehouses = sorted({wh for s, wh in (*available, *reserved) if s == sku})
        found += [
            outlook(
                promotion,
                sku,
                wh,
                available=available.get((sku, wh), 0),
                reserved_in_window=reserved.get((sku, wh), 0),
                now=now,
                window_days=window_days,
            )
            for wh in warehouses
        ]
    return found
