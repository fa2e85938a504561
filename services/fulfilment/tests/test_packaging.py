"""Packaging: the fitting rule at its edges, the cheapest box, the split, and properties
that hold for any items (every unit packed once, every parcel fits its box, and so on)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.contracts.inventory import SkuRegistered
from oms_events.money import Money
from oms_fulfilment.domain.packaging import (
    BOXES,
    MAX_PARCELS,
    Box,
    ItemSize,
    Packing,
    PackItem,
    cheapest_box,
    choose_boxes,
    fits,
    pack_items,
    unit_fits,
)
from oms_platform.refusal import Refusal


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


CUBE = Box("CUBE", 100, 100, 100, 1_000, 50, eur("0.50"))
TEE = ItemSize(300, 250, 20, 180)
POSTER = ItemSize(900, 80, 80, 400)


def item(size: ItemSize, quantity: int = 1, sku: str = "SKU") -> PackItem:
    return PackItem(sku, quantity, size)


# -- the fitting rule ------------------------------------------------------------------------


def test_a_unit_may_be_turned_any_way_but_must_fit_each_side() -> None:
    flat = Box("FLAT", 200, 100, 50, 1_000, 10, eur("0.10"))
    assert unit_fits(ItemSize(50, 200, 40, 10), flat)
    assert not unit_fits(ItemSize(201, 10, 10, 10), flat)
    assert not unit_fits(ItemSize(150, 150, 10, 10), flat)  # 150 > 100 on the second side


def test_contents_may_fill_at_most_80_percent_of_the_inner_volume() -> None:
    assert fits([item(ItemSize(100, 100, 80, 1))], CUBE)
    assert not fits([item(ItemSize(100, 100, 81, 1))], CUBE)
    assert fits([item(ItemSize(100, 100, 40, 1), 2)], CUBE)
    assert not fits([item(ItemSize(100, 100, 40, 1), 2), item(ItemSize(10, 10, 10, 1))], CUBE)


def test_contents_may_weigh_at_most_the_boxs_load() -> None:
    assert fits([item(ItemSize(10, 10, 10, 500), 2)], CUBE)
    assert not fits([item(ItemSize(10, 10, 10, 500), 2), item(ItemSize(10, 10, 10, 1))], CUBE)


# -- the choice ------------------------------------------------------------------------------


def test_units_go_in_the_cheapest_box_they_fit() -> None:
    packing = choose_boxes([item(TEE, 2)])
    [parcel] = packing.parcels
    assert parcel.box.code == "BOX-M"  # too wide for the mailer and BOX-S
    assert parcel.weight_g == 2 * 180 + 300
    assert packing.cost == eur("0.95")
    assert choose_boxes([item(POSTER)]).parcels[0].box.code == "TUBE-L"  # too long for cartons


def test_ties_in_cost_go_to_the_smaller_box_then_the_code() -> None:
    big = Box("A-BIG", 200, 200, 200, 1_000, 50, eur("0.50"))
    twin = Box("B-CUBE", 100, 100, 100, 1_000, 50, eur("0.50"))
    small = [item(ItemSize(10, 10, 10, 1))]
    assert cheapest_box(small, (big, CUBE)) == CUBE
    assert cheapest_box(small, (twin, CUBE)) == twin  # same cost and volume: "B-" < "CUBE"
    assert cheapest_box(small, (CUBE, twin)) == twin


def test_the_split_fills_the_largest_units_first_then_boxes_the_rest_cheaply() -> None:
    heavy = ItemSize(100, 100, 100, 10_000)  # 30 kg box: with the tee, two fit, not three
    packing = choose_boxes([item(heavy, 4, "ANVIL"), item(TEE, 1, "TEE")])
    assert [(p.box.code, p.units()) for p in packing.parcels] == [
        ("BOX-XL", {"ANVIL": 2, "TEE": 1}),
        ("BOX-L", {"ANVIL": 2}),
    ]


def test_units_of_one_sku_given_twice_are_packed_as_one() -> None:
    once = choose_boxes([item(TEE, 3)])
    twice = choose_boxes([item(TEE, 1), item(TEE, 2)])
    assert once == twice


def test_a_unit_that_fits_no_box_is_refused() -> None:
    with pytest.raises(Refusal) as caught:
        choose_boxes([item(TEE), item(ItemSize(2_000, 50, 50, 100), 1, "ROD")])
    assert (caught.value.code, caught.value.status, caught.value.field) == (
        "item_fits_no_box",
        422,
        "sku",
    )
    assert "ROD" in caught.value.reason


def test_more_parcels_than_one_event_carries_are_refused() -> None:
    one_per_box = ItemSize(100, 100, 80, 1)
    assert len(choose_boxes([item(one_per_box, MAX_PARCELS)], (CUBE,)).parcels) == MAX_PARCELS
    with pytest.raises(Refusal) as caught:
        choose_boxes([item(one_per_box, MAX_PARCELS + 1)], (CUBE,))
    assert caught.value.code == "too_many_parcels"


def test_sizes_come_from_the_sku_master_and_a_missing_one_is_refused() -> None:
    registered = SkuRegistered(
        sku="MUG", name="Mug", weight_grams=350, length_mm=120, width_mm=90, height_mm=95
    )
    assert ItemSize.of(registered) == ItemSize(120, 90, 95, 350)
    assert pack_items([("MUG", 2)], {"MUG": ItemSize.of(registered)}) == [
        PackItem("MUG", 2, ItemSize(120, 90, 95, 350))
    ]
    with pytest.raises(Refusal) as caught:
        pack_items([("MUG", 2), ("CAP", 1)], {"MUG": ItemSize.of(registered)})
    assert caught.value.code == "item_size_unknown" and "CAP" in caught.value.reason


def test_a_catalogue_is_checked_when_built_and_used() -> None:
    with pytest.raises(ValueError):
        Box("BAD", 0, 10, 10, 100, 10, eur("0.10"))
    with pytest.raises(ValueError):
        Box("HEAVY", 10, 10, 10, 300_000, 10, eur("0.10"))
    with pytest.raises(ValueError):
        choose_boxes([item(TEE)], ())
    mixed = (*BOXES, Box("USD", 500, 500, 500, 1_000, 10, Money.of("1.00", "USD")))
    with pytest.raises(ValueError):
        choose_boxes([item(TEE)], mixed)


def test_the_default_catalogue_is_in_one_currency_with_distinct_codes() -> None:
    assert len({b.code for b in BOXES}) == len(BOXES)
    assert {b.cost.currency for b in BOXES} == {"EUR"}


# -- properties ------------------------------------------------------------------------------

sizes = st.builds(
    ItemSize,
    length_mm=st.integers(5, 1_100),
    width_mm=st.integers(5, 500),
    height_mm=st.integers(5, 400),
    weight_g=st.integers(1, 25_000),
)
item_lists = st.lists(st.tuples(sizes, st.integers(1, 25)), min_size=1, max_size=5).map(
    lambda xs: [PackItem(f"SKU-{i}", q, s) for i, (s, q) in enumerate(xs)]
)


def _packable(items: list[PackItem]) -> bool:
    return all(any(unit_fits(i.size, b) for b in BOXES) for i in items)


def _units(packing: Packing) -> Counter[str]:
    counts: Counter[str] = Counter()
    for parcel in packing.parcels:
        counts.update(parcel.units())
    return counts


@settings(max_examples=200, deadline=None)
@given(item_lists)
def test_any_packable_items_are_packed_once_each_in_boxes_they_fit(
    items: list[PackItem],
) -> None:
    if not _packable(items):
        with pytest.raises(Refusal) as caught:
            choose_boxes(items)
        assert caught.value.code == "item_fits_no_box"
        return
    packing = choose_boxes(items)
    assert _units(packing) == Counter({i.sku: i.quantity for i in items})
    for parcel in packing.parcels:
        assert parcel.items and fits(parcel.items, parcel.box)
        assert parcel.box == cheapest_box(parcel.items)
        assert parcel.weight_g == parcel.contents_weight_g + parcel.box.tare_g
    assert packing.weight_g == sum(i.size.weight_g * i.quantity for i in items) + sum(
        p.box.tare_g for p in packing.parcels
    )
    assert packing.cost == Money.total((p.box.cost for p in packing.parcels), "EUR")


@settings(max_examples=200, deadline=None)
@given(item_lists)
def test_one_box_whenever_one_box_holds_everything(items: list[PackItem]) -> None:
    if not _packable(items):
        return
    packing = choose_boxes(items)
    single = cheapest_box(items)
    if single is None:
        assert len(packing.parcels) > 1
    else:
        assert [p.box for p in packing.parcels] == [single]


@settings(max_examples=100, deadline=None)
@given(item_lists, st.randoms(use_true_random=False))
def test_the_packing_does_not_depend_on_the_order_of_the_items(
    items: list[PackItem], rnd: random.Random
) -> None:
    if not _packable(items):
        return
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert choose_boxes(shuffled) == choose_boxes(items)


def test_many_skus_needing_many_parcels_are_packed_quickly() -> None:
    # 400 SKUs of one 20 kg unit each: 400 parcels, one capacity check per box still open.
    items = [item(ItemSize(450, 350, 250, 20_000), 1, f"SKU-{i:03}") for i in range(400)]
    packing = choose_boxes(items)
    assert len(packing.parcels) == 400
    assert {p.box.code for p in packing.parcels} == {"BOX-L"}
