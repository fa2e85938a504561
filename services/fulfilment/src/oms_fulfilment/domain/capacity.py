"""Capacity per warehouse, as data, and what a backlog means in hours of it.

A warehouse picks and packs so many **units** an hour (:class:`Capacity`), from
:data:`CAPACITY` by warehouse code, :data:`DEFAULT_CAPACITY` for a code it does not list
(both can be replaced by settings, ``OMS_FULFILMENT_CAPACITY`` and
``OMS_FULFILMENT_DEFAULT_CAPACITY``). That reference data lives in
:mod:`oms_events.capacity` (operations compares its dispatch backlog with it too) and is
re-exported here.

:func:`hours_of_backlog` answers "more staff or more carriers?" for one warehouse: the
hours picking needs for the units still to pick, the hours packing needs for every unit
not packed yet (to pick and picked), the larger of the two (the time to clear the
backlog with both stations working at capacity), and which station that is (the
bottleneck, where more staff helps). Pure: the counts come from the backlog read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from oms_events.capacity import CAPACITY, DEFAULT_CAPACITY, Capacity, CapacityTable

__all__ = [
    "CAPACITY",
    "DEFAULT_CAPACITY",
    "Capacity",
    "CapacityTable",
    "Hours",
    "Station",
    "hours_of_backlog",
]


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
