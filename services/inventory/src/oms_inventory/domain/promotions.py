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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from oms_events.base import Event
from oms_events.contracts import PromotionPlanned, SkuRegistered
from oms_inventory.domain.commands import PlanPromotion
from oms_platform.decider import Decider, Decision
from oms_platform.refusal import Refusal

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


def evolve(state: Promotion | None, event: Event) -> Promotion | None:
    """A promotion's stream: ``PromotionPlanned`` once."""
    return Promotion.from_event(event) if isinstance(event, PromotionPlanned) else state


@dataclass(frozen=True, slots=True)
class PromotionView:
    """What planning decides on: the promotion so far and the SKUs known to be registered.

    The handler loads the promotion's stream and the stock stream of each SKU named.
    """

    promotion: Promotion | None = None
    registered: frozenset[str] = field(default_factory=frozenset)


class PromotionDecider:
    """Plan a promotion for registered SKUs; the same plan again is a no-op.

    Refusals: ``invalid_promotion_window`` (422), ``sku_not_found`` (404),
    ``promotion_exists`` (409, other details for an existing id).
    """

    def initial_state(self) -> PromotionView:
        return PromotionView()

    def evolve(self, state: PromotionView, event: Event) -> PromotionView:
        if isinstance(event, SkuRegistered):
            return replace(state, registered=state.registered | {event.sku})
        return replace(state, promotion=evolve(state.promotion, event))

    def decide(self, command: PlanPromotion, state: PromotionView) -> Decision:
        if command.ends_at <= command.starts_at:
            raise Refusal.invalid(
                "invalid_promotion_window", "ends_at must be after starts_at", "ends_at"
            )
        unknown = [s for s in command.skus if s not in state.registered]
        if unknown:
            raise Refusal.not_found(
                "sku_not_found", f"not registered SKUs: {', '.join(unknown)}", "skus"
            )
        wanted = Promotion(
            command.promotion_id,
            command.name,
            command.skus,
            command.starts_at,
            command.ends_at,
            command.expected_uplift,
        )
        if state.promotion is not None:
            if state.promotion == wanted:
                return []
            raise Refusal(
                "promotion_exists",
                f"promotion {command.promotion_id!r} exists with other details",
                "promotion_id",
            )
        return [
            PromotionPlanned(
                promotion_id=command.promotion_id,
                name=command.name,
                skus=command.skus,
                starts_at=command.starts_at,
                ends_at=command.ends_at,
                expected_uplift=command.expected_uplift,
            )
        ]


PROMOTION: Decider[PlanPromotion, PromotionView] = PromotionDecider()


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
