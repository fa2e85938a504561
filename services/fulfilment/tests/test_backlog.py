"""The backlog read model (pure: rows from events, totals from rows) and capacity as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from oms_events.base import Event
from oms_events.contracts.common import Address, SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    OrderPicked,
    PackedParcel,
    ParcelsPacked,
    ShortPicked,
)
from oms_events.contracts.inventory import SkuRegistered
from oms_events.envelope import Envelope
from oms_events.money import Money
from oms_events.registry import envelope_for
from oms_fulfilment.domain.capacity import (
    DEFAULT_CAPACITY,
    Capacity,
    CapacityTable,
    Station,
    hours_of_backlog,
)
from oms_fulfilment.projections.backlog import Row, WarehouseTotals, key, project, totals
from oms_fulfilment.settings import FulfilmentSettings

ADDRESS = Address(recipient="N", line1="L", postal_code="1000", city="C", country="NL")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def ids(fid: str) -> dict[str, str]:
    return {"fulfilment_id": fid, "order_id": "ord-" + fid, "warehouse_id": fid[:3]}


def units(*pairs: tuple[str, int]) -> tuple[SkuQuantity, ...]:
    return tuple(SkuQuantity(sku=s, quantity=q) for s, q in pairs)


def env(event: Event, at: datetime = T0) -> Envelope:
    return envelope_for(
        event,
        stream_id="fulfilment-x",
        stream_version=1,
        correlation_id="ord-1",
        causation_id=None,
        actor="service:fulfilment",
        producer="fulfilment",
        occurred_at=at,
    )


def requested(fid: str, *pairs: tuple[str, int]) -> FulfilmentRequested:
    return FulfilmentRequested(**ids(fid), lines=units(*pairs), shipping_address=ADDRESS)


def fold(*events: tuple[Event, datetime]) -> Row | None:
    row: Row | None = None
    for event, at in events:
        row = project(row, env(event, at))
    return row


# -- one row per fulfilment ------------------------------------------------------------------


def test_a_row_follows_its_fulfilment_to_the_pack() -> None:
    fid = "AMS-1"
    row = fold((requested(fid, ("TEE", 3), ("MUG", 1)), T0))
    assert row == {
        "fulfilment_id": fid,
        "warehouse": "AMS",
        "stage": "open",
        "units": 4,
        "picked_units": 0,
        "packed_units": 0,
        "requested_at": T0.isoformat(),
        "packed_at": None,
    }
    later = T0 + timedelta(minutes=30)
    row = project(row, env(OrderPicked(**ids(fid), lines=units(("TEE", 2), ("MUG", 1))), later))
    row = project(row, env(ShortPicked(**ids(fid), missing=units(("TEE", 1))), later))
    assert row is not None and (row["stage"], row["picked_units"]) == ("picked", 3)
    packed = OrderPacked(
        **ids(fid), lines=units(("TEE", 2), ("MUG", 1)), weight_grams=1, shipping_address=ADDRESS
    )
    row = project(row, env(packed, later + timedelta(minutes=5)))
    box = PackedParcel(
        parcel_id=f"{fid}-1",
        box="BOX-S",
        lines=units(("TEE", 2)),
        weight_grams=1,
        packaging_cost=Money.of("0.55", "EUR"),
    )
    parcels = ParcelsPacked(**ids(fid), parcels=(box,), packaging_cost=Money.of("0.55", "EUR"))
    assert project(row, env(parcels, later)) == row  # boxes are not the backlog's business
    assert row is not None and row["stage"] == "packed" and row["packed_units"] == 3
    assert row["packed_at"] == (later + timedelta(minutes=5)).isoformat()
    assert row["requested_at"] == T0.isoformat()


def test_a_short_pick_that_found_nothing_is_picked_with_no_units() -> None:
    fid = "BER-1"
    row = fold(
        (requested(fid, ("TEE", 2)), T0), (ShortPicked(**ids(fid), missing=units(("TEE", 2))), T0)
    )
    assert row is not None and row["stage"] == "picked" and row["picked_units"] == 0


def test_events_it_does_not_read_are_ignored() -> None:
    sku = SkuRegistered(sku="TEE", name="Tee", weight_grams=1, length_mm=1, width_mm=1, height_mm=1)
    assert key(env(sku)) is None and project(None, env(sku)) is None
    # A later event of a fulfilment never requested (its stream rules that out).
    assert project(None, env(FulfilmentCancelled(**ids("AMS-9"), reason="r"))) is None
    assert key(env(requested("AMS-9", ("TEE", 1)))) == "AMS-9"


# -- totals per warehouse -----------------------------------------------------------------


def test_totals_count_open_work_and_todays_packs_per_warehouse() -> None:
    def picked(fid: str, n: int) -> OrderPicked:
        return OrderPicked(**ids(fid), lines=units(("TEE", n)))

    def packed(fid: str, n: int) -> OrderPacked:
        lines = units(("TEE", n))
        return OrderPacked(**ids(fid), lines=lines, weight_grams=1, shipping_address=ADDRESS)

    yesterday = DAY - timedelta(hours=1)
    rows = [
        fold((requested("AMS-1", ("TEE", 2)), T0 + timedelta(hours=1))),
        fold((requested("AMS-2", ("TEE", 5), ("MUG", 1)), T0)),  # the oldest open one
        fold((requested("AMS-3", ("TEE", 4)), yesterday), (picked("AMS-3", 3), T0)),
        fold(
            (requested("AMS-4", ("TEE", 1)), yesterday),
            (picked("AMS-4", 1), yesterday),
            (packed("AMS-4", 1), yesterday),  # packed yesterday: not today's
        ),
        fold(
            (requested("AMS-5", ("TEE", 7)), T0),
            (picked("AMS-5", 7), T0),
            (packed("AMS-5", 7), T0),
        ),
        fold(
            (requested("AMS-6", ("TEE", 9)), yesterday),
            (FulfilmentCancelled(**ids("AMS-6"), reason="r"), T0),
        ),
        fold((requested("BER-1", ("TEE", 1)), T0)),
        fold(
            (requested("MAD-1", ("TEE", 1)), T0),
            (FulfilmentCancelled(**ids("MAD-1"), reason="r"), T0),
        ),
    ]
    found = totals([r for r in rows if r is not None], since=DAY)
    assert list(found) == ["AMS", "BER"]  # Madrid has nothing open nor packed today
    assert found["AMS"] == WarehouseTotals(
        warehouse="AMS",
        to_pick_fulfilments=2,
        to_pick_units=8,
        oldest_to_pick=T0,
        to_pack_fulfilments=1,
        to_pack_units=3,
        packed_fulfilments=1,
        packed_units=7,
    )
    assert found["BER"].to_pick_units == 1 and found["BER"].packed_fulfilments == 0


# -- capacity ---------------------------------------------------------------------------------


def test_hours_of_backlog_name_the_slower_station() -> None:
    capacity = Capacity(picks_per_hour=100, packs_per_hour=50)
    picking = hours_of_backlog(to_pick_units=300, to_pack_units=0, capacity=capacity)
    assert (picking.pick, picking.pack, picking.backlog) == (3.0, 6.0, 6.0)
    assert picking.bottleneck is Station.PACK
    fast_packers = Capacity(picks_per_hour=100, packs_per_hour=400)
    slow_pick = hours_of_backlog(300, 100, fast_packers)
    assert (slow_pick.pick, slow_pick.pack, slow_pick.bottleneck) == (3.0, 1.0, Station.PICK)
    assert hours_of_backlog(1, 0, Capacity(3, 3)).pick == 0.33  # two decimals
    idle = hours_of_backlog(0, 0, capacity)
    assert idle.backlog == 0 and idle.bottleneck is None


def test_capacity_is_data_with_a_default_and_settings_replace_it() -> None:
    table = CapacityTable({"AMS": Capacity(240, 180)})
    assert table.of("AMS") == (Capacity(240, 180), False)
    assert table.of("OSL") == (DEFAULT_CAPACITY, True)
    with pytest.raises(ValueError):
        Capacity(picks_per_hour=0, packs_per_hour=1)

    dsn = SecretStr("postgresql://unused@127.0.0.1:1/none")
    settings = FulfilmentSettings(
        database_dsn=dsn,
        capacity={"AMS": {"picks_per_hour": 30, "packs_per_hour": 20}},
        default_capacity={"picks_per_hour": 5, "packs_per_hour": 4},
    )
    from_settings = settings.capacity_table()
    assert from_settings.of("AMS") == (Capacity(30, 20), False)
    assert from_settings.of("BER") == (Capacity(160, 120), False)  # the table's, kept
    assert from_settings.of("OSL") == (Capacity(5, 4), True)
    with pytest.raises(ValidationError):
        FulfilmentSettings(
            database_dsn=dsn,
            capacity={"AMS": {"picks_per_hour": 0, "packs_per_hour": 1}},
        )


def test_capacity_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_FULFILMENT_DATABASE_DSN", "postgresql://unused@127.0.0.1:1/none")
    monkeypatch.setenv(
        "OMS_FULFILMENT_CAPACITY", '{"MAD": {"picks_per_hour": 60, "packs_per_hour": 45}}'
    )
    assert FulfilmentSettings().capacity_table().of("MAD") == (Capacity(60, 45), False)
