"""``ops_dispatch_hours``: per warehouse and hour (UTC), the units that entered its pick
and pack backlog and the units that left it, from the fulfilment service's events; and
the rules that turn those hours into the capacity dashboard's series and signals.

A fulfilment's units enter when it is requested (``FulfilmentRequested``) and leave when
packed (``OrderPacked``), or when they will never be packed: not found at the pick
(``ShortPicked``'s missing units) or cancelled before packing (``FulfilmentCancelled``'s
remaining units). The backlog at the end of an hour is everything that entered up to
then minus everything that left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from oms_events.base import Event
from oms_events.capacity import Capacity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    ShortPicked,
)
from oms_events.envelope import Envelope

HANDLED: tuple[type[Event], ...] = (
    FulfilmentRequested,
    OrderPacked,
    ShortPicked,
    FulfilmentCancelled,
)
HOUR = timedelta(hours=1)

STAFF_SIGNAL_HOURS = 2
"""Signal "more staff" at a warehouse whose backlog stayed above one hour of its packing
capacity at the end of at least this many consecutive hours."""
LATE_RATE_THRESHOLD = 0.10
"""Signal "another carrier" for a carrier whose late-delivery rate is above this share."""
MIN_DELIVERED = 3
"""A carrier's late-delivery rate counts for a signal from this many delivered parcels."""


@dataclass(frozen=True)
class DispatchHourRow:
    warehouse_id: str
    hour: datetime
    units_in: int = 0
    units_packed: int = 0
    units_dropped: int = 0
    """Short-picked or cancelled: leave the backlog without being packed."""


def hour_of(when: datetime) -> datetime:
    """The UTC hour ``when`` falls in."""
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def keys(env: Envelope, event: Event) -> Sequence[tuple[Any, ...]]:
    warehouse = getattr(event, "warehouse_id", None)
    if not isinstance(event, HANDLED) or not isinstance(warehouse, str):
        return []
    return [(warehouse, hour_of(env.occurred_at))]


def _units(lines: Iterable[Any]) -> int:
    return sum(line.quantity for line in lines)


def apply(row: DispatchHourRow | None, _env: Envelope, event: Event) -> DispatchHourRow | None:
    if row is None:
        return row
    match event:
        case FulfilmentRequested():
            return replace(row, units_in=row.units_in + _units(event.lines))
        case OrderPacked():
            return replace(row, units_packed=row.units_packed + _units(event.lines))
        case ShortPicked():
            return replace(row, units_dropped=row.units_dropped + _units(event.missing))
        case FulfilmentCancelled():
            return replace(row, units_dropped=row.units_dropped + _units(event.lines))
    return row


# -- the dashboard's rules ----------------------------------------------------------------


@dataclass(frozen=True)
class HourFigures:
    hour: datetime
    units_in: int
    units_packed: int
    units_dropped: int
    backlog: int
    """Units to pick or pack at the end of the hour."""
    over_capacity: bool
    """The backlog is more than one hour of packing."""


def series(
    hours: Sequence[datetime],
    backlog_before: int,
    rows: Mapping[datetime, DispatchHourRow],
    capacity: Capacity,
) -> list[HourFigures]:
    """Each of ``hours`` (consecutive, oldest first) with its units and the backlog at its
    end, starting from ``backlog_before`` (the backlog when the first hour began)."""
    backlog = backlog_before
    found = []
    for hour in hours:
        row = rows.get(hour) or DispatchHourRow("", hour)
        backlog += row.units_in - row.units_packed - row.units_dropped
        found.append(
            HourFigures(
                hour,
                row.units_in,
                row.units_packed,
                row.units_dropped,
                backlog,
                backlog > capacity.packs_per_hour,
            )
        )
    return found


def longest_over(figures: Sequence[HourFigures]) -> tuple[int, datetime | None]:
    """The longest run of consecutive hours over capacity, and the hour it ended."""
    best, best_end, run = 0, None, 0
    for f in figures:
        run = run + 1 if f.over_capacity else 0
        if run > best:
            best, best_end = run, f.hour
    return best, best_end


def staff_signal(warehouse: str, figures: Sequence[HourFigures]) -> str | None:
    hours, _ = longest_over(figures)
    if hours < STAFF_SIGNAL_HOURS:
        return None
    return f"backlog above capacity for {hours} consecutive hours at {warehouse}: more staff"


def carrier_signal(carrier: str, delivered: int, late: int) -> str | None:
    if delivered < MIN_DELIVERED or late / delivered <= LATE_RATE_THRESHOLD:
        return None
    return (
        f"carrier {carrier} late-delivery rate {late / delivered:.0%} above "
        f"{LATE_RATE_THRESHOLD:.0%}: another carrier"
    )
