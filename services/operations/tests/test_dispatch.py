"""``ops_dispatch_hours`` and the capacity dashboard's rules: units into and out of a
warehouse's backlog per hour, the backlog at each hour's end, and the signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from oms_events.capacity import Capacity
from oms_events.contracts.common import SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    OrderPicked,
    ShortPicked,
)
from oms_operations.projections import dispatch
from oms_operations.projections.dispatch import DispatchHourRow

from .events import HOUR, T0, at, make

CAP = Capacity(picks_per_hour=20, packs_per_hour=10)


def units(n: int, sku: str = "TEE") -> list[dict[str, Any]]:
    return [SkuQuantity(sku=sku, quantity=n).model_dump()]


def project(history: list[Any]) -> dict[tuple[Any, ...], DispatchHourRow]:
    rows: dict[tuple[Any, ...], DispatchHourRow] = {}
    for env, event in history:
        for key in dispatch.keys(env, event):
            row = dispatch.apply(rows.get(key) or DispatchHourRow(*key), env, event)
            assert row is not None
            rows[key] = row
    return rows


def test_units_enter_when_requested_and_leave_packed_short_picked_or_cancelled() -> None:
    wh = {"warehouse_id": "AMS"}
    rows = project(
        [
            at(make(FulfilmentRequested, **wh, fulfilment_id="f1", lines=units(5)), T0),
            at(make(FulfilmentRequested, **wh, fulfilment_id="f2", lines=units(3)), T0 + HOUR / 2),
            at(make(OrderPicked, **wh, fulfilment_id="f1", lines=units(4)), T0 + HOUR),
            at(make(ShortPicked, **wh, fulfilment_id="f1", missing=units(1)), T0 + HOUR),
            at(make(OrderPacked, **wh, fulfilment_id="f1", lines=units(4)), T0 + HOUR),
            at(make(FulfilmentCancelled, **wh, fulfilment_id="f2", lines=units(3)), T0 + 2 * HOUR),
        ]
    )
    assert rows == {
        ("AMS", T0): DispatchHourRow("AMS", T0, units_in=8),
        ("AMS", T0 + HOUR): DispatchHourRow("AMS", T0 + HOUR, units_packed=4, units_dropped=1),
        ("AMS", T0 + 2 * HOUR): DispatchHourRow("AMS", T0 + 2 * HOUR, units_dropped=3),
    }


def test_an_event_counts_in_its_utc_hour() -> None:
    local = datetime(2026, 5, 3, 14, 45, tzinfo=timezone(timedelta(hours=2)))
    assert dispatch.hour_of(local) == datetime(2026, 5, 3, 12, tzinfo=UTC)
    event = make(FulfilmentRequested, warehouse_id="BER")
    env, _ = at(event, local)
    assert dispatch.keys(env, event) == [("BER", datetime(2026, 5, 3, 12, tzinfo=UTC))]


def hours(n: int) -> list[datetime]:
    return [T0 + i * HOUR for i in range(n)]


def test_the_backlog_carries_over_hours_without_events() -> None:
    rows = {
        T0: DispatchHourRow("AMS", T0, units_in=12),
        T0 + 2 * HOUR: DispatchHourRow("AMS", T0 + 2 * HOUR, units_packed=9, units_dropped=1),
    }
    figures = dispatch.series(hours(4), 3, rows, CAP)
    assert [f.backlog for f in figures] == [15, 15, 5, 5]
    assert [f.over_capacity for f in figures] == [True, True, False, False]
    assert (figures[1].units_in, figures[1].units_packed) == (0, 0)


def test_more_staff_after_enough_consecutive_hours_over_a_packing_hour() -> None:
    rows = {T0: DispatchHourRow("AMS", T0, units_in=11)}  # 11 > 10 packs an hour
    one = dispatch.series(hours(1), 0, rows, CAP)
    assert dispatch.longest_over(one) == (1, T0)
    assert dispatch.staff_signal("AMS", one) is None
    rows[T0 + 2 * HOUR] = DispatchHourRow("AMS", T0 + 2 * HOUR, units_packed=11)
    rows[T0 + 3 * HOUR] = DispatchHourRow("AMS", T0 + 3 * HOUR, units_in=30)
    figures = dispatch.series(hours(6), 0, rows, CAP)
    assert dispatch.longest_over(figures) == (3, T0 + 5 * HOUR)
    assert dispatch.staff_signal("AMS", figures) == (
        "backlog above capacity for 3 consecutive hours at AMS: more staff"
    )
    exactly = dispatch.series(hours(3), 10, {}, CAP)  # at capacity is not above it
    assert dispatch.longest_over(exactly) == (0, None)


def test_another_carrier_above_the_late_rate_with_enough_parcels() -> None:
    assert dispatch.LATE_RATE_THRESHOLD == 0.10 and dispatch.MIN_DELIVERED == 3
    assert dispatch.carrier_signal("dhl", 4, 1) == (
        "carrier dhl late-delivery rate 25% above 10%: another carrier"
    )
    assert dispatch.carrier_signal("dhl", 10, 1) is None  # 10% is not above 10%
    assert dispatch.carrier_signal("dhl", 2, 2) is None  # too few parcels to tell
    assert dispatch.carrier_signal("dhl", 0, 0) is None
