"""Planned promotions and whether the stock will last through them.

Readiness compares, per SKU and warehouse, what the promotion is expected to sell with
what will be left when it starts:

- sales velocity = units reserved (net of releases) over the trailing window / window days;
- demand before the start = velocity x days from now until the promotion starts;
- promotion demand = velocity x expected uplift x days of the promotion still to come;
- projected available at the start = available now - demand before the start (not < 0);
- shortfall = promotion demand - projected available at the start, rounded up (not < 0);
- suggested reorder quantity = the shortfall: units to receive in that warehouse before
  the start. Velocity is per warehouse because allocation decides where orders ship from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from oms_events.base import Event
from oms_events.contracts import PromotionPlanned
from oms_inventory.domain.commands import PlanPromotion
from oms_inventory.domain.errors import Conflict, NotFound

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Promotion:
    promotion_id: str
    name: str
    skus: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    expected_uplift: Decimal

    @classmethod
    def from_event(cls, e: PromotionPlanned) -> Promotion:
        return cls(e.promotion_id, e.name, e.skus, e.starts_at, e.ends_at, e.expected_uplift)


def plan(cmd: PlanPromotion, existing: Promotion | None, known_skus: set[str]) -> list[Event]:
    """Plan a promotion for registered SKUs; the same plan again is a no-op."""
    unknown = [s for s in cmd.skus if s not in known_skus]
    if unknown:
        raise NotFound(f"not registered SKUs: {', '.join(unknown)}", field="skus")
    if cmd.ends_at <= cmd.starts_at:
        raise Conflict("ends_at must be after starts_at", field="ends_at")
    wanted = Promotion(
        cmd.promotion_id, cmd.name, cmd.skus, cmd.starts_at, cmd.ends_at, cmd.expected_uplift
    )
    if existing is not None:
        if existing == wanted:
            return []
        raise Conflict(f"promotion {cmd.promotion_id!r} exists with other details", field="id")
    return [
        PromotionPlanned(
            promotion_id=cmd.promotion_id,
            name=cmd.name,
            skus=cmd.skus,
            starts_at=cmd.starts_at,
            ends_at=cmd.ends_at,
            expected_uplift=cmd.expected_uplift,
        )
    ]


@dataclass(frozen=True, slots=True)
class WarehouseOutlook:
    warehouse: str
    available: int
    velocity_per_day: Decimal
    demand_before_start: Decimal
    promotion_demand: Decimal
    projected_available_at_start: Decimal
    shortfall: int
    suggested_reorder_quantity: int


@dataclass(frozen=True, slots=True)
class SkuOutlook:
    sku: str
    warehouses: tuple[WarehouseOutlook, ...]

    @property
    def available(self) -> int:
        return sum(w.available for w in self.warehouses)

    @property
    def velocity_per_day(self) -> Decimal:
        return sum((w.velocity_per_day for w in self.warehouses), Decimal(0))

    @property
    def promotion_demand(self) -> Decimal:
        return sum((w.promotion_demand for w in self.warehouses), Decimal(0))

    @property
    def shortfall(self) -> int:
        return sum(w.shortfall for w in self.warehouses)

    @property
    def suggested_reorder_quantity(self) -> int:
        return sum(w.suggested_reorder_quantity for w in self.warehouses)


@dataclass(frozen=True, slots=True)
class Readiness:
    promotion: Promotion
    as_of: datetime
    window_days: int
    skus: tuple[SkuOutlook, ...]

    @property
    def ready(self) -> bool:
        return all(s.shortfall == 0 for s in self.skus)


def assess(
    promotion: Promotion,
    available: Mapping[str, Mapping[str, int]],
    sold: Mapping[str, Mapping[str, int]],
    *,
    window_days: int,
    now: datetime,
) -> Readiness:
    """Readiness of ``promotion`` at ``now``.

    ``available[sku][warehouse]`` is available stock now; ``sold[sku][warehouse]`` the
    units reserved from that warehouse over the trailing ``window_days``.
    """
    days_to_start = _days(promotion.starts_at - now)
    days_running = _days(promotion.ends_at - max(now, promotion.starts_at))
    outlooks = []
    for sku in promotion.skus:
        stock, units = available.get(sku, {}), sold.get(sku, {})
        rows = []
        for wh in sorted(set(stock) | set(units)):
            velocity = Decimal(units.get(wh, 0)) / window_days
            before = velocity * days_to_start
            during = velocity * promotion.expected_uplift * days_running
            at_start = max(Decimal(0), stock.get(wh, 0) - before)
            short = math.ceil(max(Decimal(0), during - at_start))
            rows.append(
                WarehouseOutlook(
                    warehouse=wh,
                    available=stock.get(wh, 0),
                    velocity_per_day=_q(velocity),
                    demand_before_start=_q(before),
                    promotion_demand=_q(during),
                    projected_available_at_start=_q(at_start),
                    shortfall=short,
                    suggested_reorder_quantity=short,
                )
            )
        outlooks.append(SkuOutlook(sku, tuple(rows)))
    return Readiness(promotion, now, window_days, tuple(outlooks))


def _days(delta: timedelta) -> Decimal:
    return max(Decimal(0), Decimal(delta.total_seconds()) / Decimal(DAY.total_seconds()))


def _q(d: Decimal) -> Decimal:
    return d.quantize(Decimal("0.01"))
