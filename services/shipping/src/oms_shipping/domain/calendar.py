"""Working days, cut-offs and delivery dates: when a parcel leaves and when it arrives.

Carriers collect and deliver Monday to Friday (public holidays are not modelled). A parcel
handed over at or before a service's cut-off (the warehouse's local time) is collected
that working day; later, or on a weekend, it is collected the next working day. It is
delivered after the service's transit days, counted in working days from collection.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

TIMEZONES: Mapping[str, str] = MappingProxyType(
    {
        "NL": "Europe/Amsterdam",
        "BE": "Europe/Brussels",
        "DE": "Europe/Berlin",
        "FR": "Europe/Paris",
        "ES": "Europe/Madrid",
        "IT": "Europe/Rome",
        "AT": "Europe/Vienna",
        "PL": "Europe/Warsaw",
        "GB": "Europe/London",
    }
)
"""The time zone of each country a warehouse may be in (cut-offs are local times)."""


def is_working_day(day: date) -> bool:
    return day.weekday() < 5


def next_working_day(day: date) -> date:
    """The first working day after ``day``."""
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, days: int) -> date:
    """``day`` plus ``days`` working days (Saturdays and Sundays are not counted)."""
    for _ in range(days):
        day = next_working_day(day)
    return day


def local_time(moment: datetime, country: str) -> datetime:
    """``moment`` on the clock of ``country`` (raises ``KeyError`` for an unknown one)."""
    if moment.tzinfo is None:
        raise ValueError("the dispatch time must be timezone-aware")
    return moment.astimezone(ZoneInfo(TIMEZONES[country]))


def collection_date(ready_at: datetime, country: str, cutoff: time) -> date:
    """The working day a parcel ready at ``ready_at`` in ``country`` is collected."""
    local = local_time(ready_at, country)
    today = local.date()
    if is_working_day(today) and local.time() <= cutoff:
        return today
    return next_working_day(today)


def delivery_date(ready_at: datetime, country: str, cutoff: time, transit_days: int) -> date:
    """When the parcel arrives: its collection day plus ``transit_days`` working days."""
    return add_working_days(collection_date(ready_at, country, cutoff), transit_days)
