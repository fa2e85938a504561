"""Source selection: which warehouses serve which order lines, and why.

``allocate`` is a pure function of a stock snapshot (available units per SKU and
warehouse), the order's lines, the delivery country, the warehouses and a strategy. It
returns an :class:`AllocationPlan` that covers every line in full, or an
:class:`AllocationFailure` with the shortages; never a partial plan.

The rules, for every strategy:

1. Only active warehouses ship, and never more than they have available.
2. If one warehouse can ship the whole order, the order ships from one warehouse (one
   parcel); the strategy decides which: ``by_priority`` the best priority (1 first),
   ``nearest`` the smallest distance to the delivery country (see ``geography``),
   ``fewest_parcels`` the nearest as well (every single warehouse is one parcel).
3. Otherwise the order is split. ``by_priority`` and ``nearest`` fill each line from the
   warehouses in their order (a warehouse is used for a SKU only once every warehouse
   before it has no units of that SKU left); ``fewest_parcels`` first finds the smallest
   set of warehouses that can serve everything (ties: the set whose members rank
   nearest), then fills the lines from that set, nearest first.

Ties in any order fall back to priority, then to the warehouse code, so the result is
deterministic. The reasoning strings are written for a person asking later why.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from oms_events.contracts import AllocationStrategy
from oms_inventory.domain.geography import distance_km

STRATEGIES = (
    AllocationStrategy.BY_PRIORITY,
    AllocationStrategy.NEAREST,
    AllocationStrategy.FEWEST_PARCELS,
)
"""The strategies ``allocate`` implements (the others in the enum describe outcomes)."""

# Beyond this many warehouses, trying every combination for fewest_parcels costs too much;
# a greedy set cover (take the warehouse that serves most of what is left) is used instead.
EXACT_SEARCH_LIMIT = 12
TEXT_LIMIT = 2000

StockSnapshot = Mapping[str, Mapping[str, int]]
"""Available units: ``snapshot[sku][warehouse_id]`` (missing means 0)."""


@dataclass(frozen=True, slots=True)
class Warehouse:
    """What allocation needs to know about a warehouse."""

    code: str
    country: str
    priority: int
    active: bool = True
    name: str = ""


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One order line to serve."""

    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class LineAllocation:
    """Units of one line taken from one warehouse."""

    line_id: str
    sku: str
    warehouse_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class LineReason:
    line_id: str
    sku: str
    reason: str


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    """Every line covered in full, with the reasoning behind each choice."""

    strategy: AllocationStrategy
    allocations: tuple[LineAllocation, ...]
    reasons: tuple[LineReason, ...]
    summary: str

    @property
    def warehouses(self) -> tuple[str, ...]:
        """The warehouses used, in first-use order (one parcel each)."""
        return tuple(dict.fromkeys(a.warehouse_id for a in self.allocations))

    @property
    def split(self) -> bool:
        return len(self.warehouses) > 1


@dataclass(frozen=True, slots=True)
class Shortfall:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True, slots=True)
class AllocationFailure:
    """The order cannot be covered; nothing is allocated."""

    shortages: tuple[Shortfall, ...]
    summary: str


def allocate(
    stock: StockSnapshot,
    lines: Sequence[LineRequest],
    delivery_country: str,
    warehouses: Sequence[Warehouse],
    strategy: AllocationStrategy,
) -> AllocationPlan | AllocationFailure:
    """Choose warehouses for ``lines`` (see the module docstring for the rules)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"allocation strategy {strategy.value!r} is not implemented")
    ranked = _rank(warehouses, delivery_country, strategy)
    demand: dict[str, int] = {}
    for line in lines:
        demand[line.sku] = demand.get(line.sku, 0) + line.quantity
    left = {
        sku: {w.code: max(0, stock.get(sku, {}).get(w.code, 0)) for w in ranked} for sku in demand
    }
    shortages = tuple(
        Shortfall(sku, qty, sum(left[sku].values()))
        for sku, qty in demand.items()
        if sum(left[sku].values()) < qty
    )
    if shortages:
        return AllocationFailure(shortages, _shortage_text(shortages, len(ranked)))
    describe = _describer(delivery_country)
    whole = [w for w in ranked if all(left[sku][w.code] >= q for sku, q in demand.items())]
    if whole:
        return _single(lines, whole[0], ranked, demand, left, strategy, describe)
    if strategy is AllocationStrategy.FEWEST_PARCELS:
        chosen = _fewest(ranked, demand, left)
        return _fill(lines, chosen, left, strategy, describe, why=_fewest_why(chosen, ranked))
    return _fill(lines, ranked, left, strategy, describe, why="no single warehouse holds it all")


def rank_key(
    strategy: AllocationStrategy, delivery_country: str
) -> Callable[[Warehouse], tuple[int, int, int, str]]:
    """The sort key of warehouses under ``strategy`` (smaller is preferred)."""

    def by_distance(w: Warehouse) -> tuple[int, int, int, str]:
        km = distance_km(w.country, delivery_country)
        return (km is None, km or 0, w.priority, w.code)

    def by_priority(w: Warehouse) -> tuple[int, int, int, str]:
        return (w.priority, 0, 0, w.code)

    return by_priority if strategy is AllocationStrategy.BY_PRIORITY else by_distance


def _rank(
    warehouses: Sequence[Warehouse], country: str, strategy: AllocationStrategy
) -> list[Warehouse]:
    return sorted((w for w in warehouses if w.active), key=rank_key(strategy, country))


def _describer(country: str) -> Callable[[Warehouse], str]:
    def describe(w: Warehouse) -> str:
        km = distance_km(w.country, country)
        where = (
            f"in {country}"
            if km == 0
            else (f"{w.country}, ~{km} km" if km is not None else f"{w.country}, distance unknown")
        )
        return f"{w.code} ({where}, priority {w.priority})"

    return describe


def _single(
    lines: Sequence[LineRequest],
    chosen: Warehouse,
    ranked: list[Warehouse],
    demand: dict[str, int],
    left: dict[str, dict[str, int]],
    strategy: AllocationStrategy,
    describe: Callable[[Warehouse], str],
) -> AllocationPlan:
    passed = []
    for w in ranked:
        if w is chosen:
            break
        lacking = next(sku for sku, q in demand.items() if left[sku][w.code] < q)
        passed.append(f"{w.code} has {left[lacking][w.code]} of {demand[lacking]} {lacking}")
    skipped = f"; passed over: {', '.join(passed)}" if passed else ""
    why = {
        AllocationStrategy.BY_PRIORITY: "best priority of the warehouses holding everything",
        AllocationStrategy.NEAREST: "nearest warehouse holding everything",
        AllocationStrategy.FEWEST_PARCELS: "one parcel; nearest warehouse holding everything",
    }[strategy]
    summary = f"{strategy.value}: whole order from {describe(chosen)}, {why}{skipped}"
    allocations = tuple(LineAllocation(x.line_id, x.sku, chosen.code, x.quantity) for x in lines)
    reasons = tuple(
        LineReason(x.line_id, x.sku, f"{x.quantity} from {chosen.code}: {why}") for x in lines
    )
    return AllocationPlan(strategy, allocations, reasons, clip(summary))


def _fill(
    lines: Sequence[LineRequest],
    order: Sequence[Warehouse],
    available: dict[str, dict[str, int]],
    strategy: AllocationStrategy,
    describe: Callable[[Warehouse], str],
    *,
    why: str,
) -> AllocationPlan:
    left = {sku: dict(by_wh) for sku, by_wh in available.items()}
    allocations: list[LineAllocation] = []
    reasons: list[LineReason] = []
    for line in lines:
        remaining = line.quantity
        parts: list[str] = []
        empty: list[str] = []
        for w in order:
            if remaining == 0:
                break
            take = min(remaining, left[line.sku][w.code])
            if take == 0:
                empty.append(w.code)
                continue
            left[line.sku][w.code] -= take
            remaining -= take
            allocations.append(LineAllocation(line.line_id, line.sku, w.code, take))
            parts.append(f"{take} from {describe(w)}")
        assert remaining == 0, "feasibility was checked before filling"
        note = f" (none available in {', '.join(empty)})" if empty else ""
        reasons.append(LineReason(line.line_id, line.sku, clip(" + ".join(parts) + note)))
    plan_wh = list(dict.fromkeys(a.warehouse_id for a in allocations))
    order_text = {
        AllocationStrategy.BY_PRIORITY: "filled in priority order",
        AllocationStrategy.NEAREST: "filled nearest first",
        AllocationStrategy.FEWEST_PARCELS: "filled nearest first",
    }[strategy]
    summary = (
        f"{strategy.value}: split over {len(plan_wh)} warehouses ({', '.join(plan_wh)}) "
        f"because {why}; {order_text}"
    )
    return AllocationPlan(strategy, tuple(allocations), tuple(reasons), clip(summary))


def _covers(
    group: Sequence[Warehouse], demand: dict[str, int], left: dict[str, dict[str, int]]
) -> bool:
    return all(sum(left[sku][w.code] for w in group) >= q for sku, q in demand.items())


def _fewest(
    ranked: list[Warehouse], demand: dict[str, int], left: dict[str, dict[str, int]]
) -> list[Warehouse]:
    """The smallest group of warehouses that covers the demand, in rank order."""
    if len(ranked) <= EXACT_SEARCH_LIMIT:
        for size in range(2, len(ranked) + 1):
            # combinations() keeps rank order and yields the best-ranked groups first.
            for group in itertools.combinations(ranked, size):
                if _covers(group, demand, left):
                    return list(group)
    # Greedy set cover: repeatedly add the warehouse that serves most of what is missing.
    chosen: list[Warehouse] = []
    need = dict(demand)
    while any(need.values()):
        best = max(
            (w for w in ranked if w not in chosen),
            key=lambda w: sum(min(q, left[s][w.code]) for s, q in need.items()),
        )
        chosen.append(best)
        need = {s: max(0, q - left[s][best.code]) for s, q in need.items()}
    return [w for w in ranked if w in chosen]


def _fewest_why(chosen: list[Warehouse], ranked: list[Warehouse]) -> str:
    return (
        f"no single warehouse holds it all and {len(chosen)} is the fewest of the "
        f"{len(ranked)} active warehouses that can"
    )


def _shortage_text(shortages: Sequence[Shortfall], active: int) -> str:
    parts = [f"{s.sku}: {s.requested} requested, {s.available} available" for s in shortages]
    return clip(f"not enough stock in the {active} active warehouses: " + "; ".join(parts))


def clip(text: str) -> str:
    """``text`` cut to what a contract's free-text field holds."""
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
