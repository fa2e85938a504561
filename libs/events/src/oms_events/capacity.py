"""Capacity per warehouse, as reference data shared by the services that plan with it.

A warehouse picks and packs so many **units** an hour (:class:`Capacity`), from
:data:`CAPACITY` by warehouse code, :data:`DEFAULT_CAPACITY` for a code it does not list.
Fulfilment sizes its backlog in hours of it; operations compares each hour's dispatch
backlog with it. Figures are illustrative, like the box catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Capacity:
    """Units a warehouse picks and packs per hour."""

    picks_per_hour: int
    packs_per_hour: int

    def __post_init__(self) -> None:
        if self.picks_per_hour <= 0 or self.packs_per_hour <= 0:
            raise ValueError("a capacity is at least one unit an hour")


CAPACITY: Mapping[str, Capacity] = {
    "AMS": Capacity(picks_per_hour=240, packs_per_hour=180),
    "BER": Capacity(picks_per_hour=160, packs_per_hour=120),
    "MAD": Capacity(picks_per_hour=120, packs_per_hour=100),
}
"""The default table: the demo's three warehouses (illustrative figures)."""

DEFAULT_CAPACITY = Capacity(picks_per_hour=100, packs_per_hour=80)
"""For a warehouse the table does not list."""


@dataclass(frozen=True, slots=True)
class CapacityTable:
    """Capacity by warehouse code, and the one for any other code."""

    by_warehouse: Mapping[str, Capacity]
    default: Capacity = DEFAULT_CAPACITY

    def of(self, warehouse: str) -> tuple[Capacity, bool]:
        """The warehouse's capacity, and whether it is the default (the code is unlisted)."""
        known = self.by_warehouse.get(warehouse)
        return (known, False) if known is not None else (self.default, True)
