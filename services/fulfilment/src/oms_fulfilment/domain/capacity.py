"""Capacity per warehouse, as data, and what a backlog means in hours of it.

A warehouse picks and packs so many **units** an hour (:class:`Capacity`), from
:data:`CAPACITY` by warehouse code, :data:`DEFAULT_CAPACITY` for a code it does not list
(both can be replaced by settings, ``OMS_FULFILMENT_CAPACITY`` and
``OMS_FULFILMENT_DEFAULT_CAPACITY``). Figures are illustrative, like the box catalogue.

:func:`hours_of_backlog` answers "more staff or more carriers?" for one warehouse: the
hours picking needs for the units still to pick, the hours packing needs for every unit
not packed yet (to pick and picked), the larger of the two (the time to clear the
backlog with both stations working at capacity), and which station that is (the
bottleneck, where more staff helps). Pure: the counts come from the backlog read model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


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


class Station(StrEnum):
    PICK = "pick"
    PACK = "pack"


@dataclass(frozen=True, slots=True)
class Hours:
    pick: float
    """Units to pick / picks per hour."""
    pack: float
    """Units not packed yet (to pick and picked) / packs per hour."""
    backlog: float
    """The larger: the time to clear what is open with both stations at capacity."""
    bottleneck: Station | None
    """The station that takes longer (pick on a tie); none with nothing open."""


def hours_of_backlog(to_pick_units: int, to_pack_units: int, capacity: Capacity) -> Hours:
    """Hours of work the open units are, at ``capacity`` (to two decimals)."""
    pick = to_pick_units / capacity.picks_per_hour
    pack = (to_pick_units + to_pack_units) / capacity.packs_per_hour
    bottleneck = None
    if to_pick_units or to_pack_units:
        bottleneck = Station.PICK if pick >= pack else Station.PACK
    return Hours(round(pick, 2), round(pack, 2), round(max(pick, pack), 2), bottleneck)
