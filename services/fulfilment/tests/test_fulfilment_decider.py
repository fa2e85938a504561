"""A fulfilment: given events, when a command, then events (or a refusal).

One stream per fulfilment; the pick report, the packing and a cancellation each decide on
that stream alone.
"""

from __future__ import annotations

import pytest

from oms_events.contracts.common import Address, Allocation, SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    OrderPicked,
    PackedParcel,
    ParcelsPacked,
    ShortPicked,
)
from oms_events.contracts.order import OrderConfirmed
from oms_events.limits import MAX_ID_LENGTH
from oms_events.money import Money
from oms_fulfilment.domain.commands import (
    CancelFulfilment,
    PickedLine,
    RecordPack,
    RecordPick,
    RequestFulfilment,
)
from oms_fulfilment.domain.fulfilment import (
    FULFILMENT,
    FulfilmentStatus,
    fulfilment_id,
    requests_for,
    stream_id,
)
from oms_fulfilment.domain.packaging import Box, ItemSize
from oms_platform.testing.decider_spec import DeciderSpec

spec = DeciderSpec(FULFILMENT)

ADDRESS = Address(
    recipient="Noor Jansen",
    line1="Prinsengracht 263",
    postal_code="1016 GV",
    city="Amsterdam",
    country="NL",
)
FID = "ful-ord-1-AMS"
IDS = {"fulfilment_id": FID, "order_id": "ord-1", "warehouse_id": "AMS"}
TEE, MUG = "TEE", "MUG"
SIZES = {
    TEE: ItemSize(300, 250, 20, 180),
    MUG: ItemSize(120, 90, 95, 350),
}


def units(*pairs: tuple[str, int]) -> tuple[SkuQuantity, ...]:
    return tuple(SkuQuantity(sku=s, quantity=q) for s, q in pairs)


def request(*pairs: tuple[str, int]) -> RequestFulfilment:
    return RequestFulfilment(FID, "ord-1", "AMS", units(*pairs), ADDRESS)


def pick(*pairs: tuple[str, int]) -> RecordPick:
    return RecordPick(FID, tuple(PickedLine(s, q) for s, q in pairs))


REQUESTED = FulfilmentRequested(**IDS, lines=units((TEE, 2), (MUG, 1)), shipping_address=ADDRESS)
PICKED = OrderPicked(**IDS, lines=units((TEE, 2), (MUG, 1)))
PACK = RecordPack(FID, SIZES)


# -- request ---------------------------------------------------------------------------------


def test_a_request_opens_the_fulfilment_with_its_pick_list() -> None:
    after = spec.given().when(request((TEE, 2), (MUG, 1))).state_after()
    spec.given().when(request((TEE, 2), (MUG, 1))).then(REQUESTED)
    assert after.status is FulfilmentStatus.OPEN
    assert after.requested == units((TEE, 2), (MUG, 1))


def test_the_same_request_again_decides_nothing_and_another_one_conflicts() -> None:
    spec.given(REQUESTED).when(request((TEE, 2), (MUG, 1))).then_nothing()
    spec.given(REQUESTED).when(request((TEE, 3), (MUG, 1))).then_refused(
        "fulfilment_conflict", status=409
    )


def test_a_request_needs_lines_each_sku_once() -> None:
    spec.given().when(request()).then_refused("empty_pick_list", status=422)
    refusal = (
        spec.given().when(request((TEE, 1), (TEE, 1))).then_refused("duplicate_line", status=422)
    )
    assert refusal.field == "lines[1].sku"


def test_a_request_for_a_cancelled_fulfilment_does_not_reopen_it() -> None:
    cancelled = FulfilmentCancelled(**IDS, reason="cancelled", lines=REQUESTED.lines)
    spec.given(REQUESTED, cancelled).when(request((TEE, 2), (MUG, 1))).then_nothing()


# -- splitting a confirmed order -------------------------------------------------------------


def _confirmed(*allocations: tuple[str, str, str, int]) -> OrderConfirmed:
    return OrderConfirmed(
        order_id="ord-1",
        allocations=tuple(
            Allocation(line_id=ln, sku=sku, warehouse_id=wh, quantity=q)
            for ln, sku, wh, q in allocations
        ),
        shipping_address=ADDRESS,
    )


def test_a_split_order_gives_one_request_per_warehouse_with_its_lines() -> None:
    confirmed = _confirmed(
        ("1", TEE, "BER", 1), ("1", TEE, "AMS", 2), ("2", MUG, "AMS", 1), ("3", TEE, "AMS", 3)
    )
    ams, ber = requests_for(confirmed)
    assert ams == RequestFulfilment(
        "ful-ord-1-AMS", "ord-1", "AMS", units((TEE, 5), (MUG, 1)), ADDRESS
    )
    assert ber == RequestFulfilment("ful-ord-1-BER", "ord-1", "BER", units((TEE, 1)), ADDRESS)
    assert requests_for(_confirmed(("1", TEE, "AMS", 2))) == (
        RequestFulfilment(FID, "ord-1", "AMS", units((TEE, 2)), ADDRESS),
    )


def test_the_split_does_not_depend_on_the_order_of_the_allocations() -> None:
    allocations = [("1", TEE, "BER", 1), ("2", MUG, "AMS", 1), ("3", "CAP", "MAD", 4)]
    forward = requests_for(_confirmed(*allocations))
    backward = requests_for(_confirmed(*reversed(allocations)))
    assert forward == backward
    assert [r.warehouse_id for r in forward] == ["AMS", "BER", "MAD"]


def test_fulfilment_ids_are_stable_distinct_and_always_valid() -> None:
    assert fulfilment_id("ord-1", "AMS") == fulfilment_id("ord-1", "AMS") == FID
    assert fulfilment_id("ord-1", "AMS") != fulfilment_id("ord-1", "BER")
    assert stream_id(FID) == "fulfilment-ful-ord-1-AMS"
    long_a, long_b = fulfilment_id("o" * 100, "AMS"), fulfilment_id("o" * 100, "BER")
    assert long_a != long_b
    assert len(long_a) + len("-500") <= MAX_ID_LENGTH


# -- pick ------------------------------------------------------------------------------------


def test_a_full_pick_is_picked() -> None:
    spec.given(REQUESTED).when(pick((TEE, 2), (MUG, 1))).then(PICKED)
    after = spec.given(REQUESTED).when(pick((MUG, 1), (TEE, 2))).state_after()
    assert after.status is FulfilmentStatus.PICKED
    assert after.missing == ()


def test_fewer_units_found_is_a_short_pick_of_the_missing_units() -> None:
    spec.given(REQUESTED).when(pick((TEE, 1), (MUG, 0))).then(
        OrderPicked(**IDS, lines=units((TEE, 1))),
        ShortPicked(**IDS, missing=units((TEE, 1), (MUG, 1))),
    )
    after = spec.given(REQUESTED).when(pick((TEE, 1), (MUG, 0))).state_after()
    assert (after.status, after.picked, after.missing) == (
        FulfilmentStatus.PICKED,
        units((TEE, 1)),
        units((TEE, 1), (MUG, 1)),
    )
    assert after.found() == {TEE: 1, MUG: 0}


def test_nothing_found_is_only_a_short_pick_and_leaves_nothing_to_pack() -> None:
    short = ShortPicked(**IDS, missing=REQUESTED.lines)
    spec.given(REQUESTED).when(pick((TEE, 0), (MUG, 0))).then(short)
    spec.given(REQUESTED, short).when(PACK).then_refused("nothing_to_pack", status=409)
    spec.given(REQUESTED, short).when(CancelFulfilment(FID, "order cancelled")).then(
        FulfilmentCancelled(**IDS, reason="order cancelled", lines=())
    )


@pytest.mark.parametrize(
    ("report", "code", "field"),
    [
        (((TEE, 3), (MUG, 1)), "over_picked", "lines[0].quantity"),
        (((TEE, 2), (MUG, 1), ("CAP", 1)), "unknown_sku", "lines[2].sku"),
        (((TEE, 2), (MUG, -1)), "invalid_quantity", "lines[1].quantity"),
        (((TEE, 2), (TEE, 2), (MUG, 1)), "duplicate_line", "lines[1].sku"),
        (((TEE, 2),), "line_not_reported", "lines"),
    ],
)
def test_a_wrong_pick_report_is_refused_with_its_reason(
    report: tuple[tuple[str, int], ...], code: str, field: str
) -> None:
    refusal = spec.given(REQUESTED).when(pick(*report)).then_refused(code, status=422)
    assert refusal.field == field
    assert refusal.reason


def test_the_same_pick_again_decides_nothing_and_another_is_refused() -> None:
    short = [
        OrderPicked(**IDS, lines=units((TEE, 1), (MUG, 1))),
        ShortPicked(**IDS, missing=units((TEE, 1))),
    ]
    spec.given(REQUESTED, *short).when(pick((TEE, 1), (MUG, 1))).then_nothing()
    spec.given(REQUESTED, *short).when(pick((TEE, 2), (MUG, 1))).then_refused(
        "already_picked", status=409
    )
    spec.given(REQUESTED, PICKED).when(pick((TEE, 2), (MUG, 1))).then_nothing()


def test_a_pick_needs_an_open_fulfilment() -> None:
    spec.given().when(pick((TEE, 1))).then_refused("fulfilment_not_found", status=404)
    cancelled = FulfilmentCancelled(**IDS, reason="order cancelled", lines=REQUESTED.lines)
    refusal = (
        spec.given(REQUESTED, cancelled)
        .when(pick((TEE, 2), (MUG, 1)))
        .then_refused("fulfilment_cancelled", status=409)
    )
    assert "order cancelled" in refusal.reason


# -- pack ------------------------------------------------------------------------------------

# Two tees and a mug, in BOX-M (300 g): the tee is too wide for the smaller boxes.
PACKED = OrderPacked(
    **IDS, lines=PICKED.lines, weight_grams=2 * 180 + 350 + 300, shipping_address=ADDRESS
)
PARCELS = ParcelsPacked(
    **IDS,
    parcels=(
        PackedParcel(
            parcel_id=f"{FID}-1",
            box="BOX-M",
            lines=units((TEE, 2), (MUG, 1)),
            weight_grams=1010,
            packaging_cost=Money.of("0.95", "EUR"),
        ),
    ),
    packaging_cost=Money.of("0.95", "EUR"),
)


def test_packing_puts_the_picked_units_in_the_cheapest_box_they_fit() -> None:
    spec.given(REQUESTED, PICKED).when(PACK).then(PACKED, PARCELS)
    after = spec.given(REQUESTED, PICKED).when(PACK).state_after()
    assert after.status is FulfilmentStatus.PACKED
    assert after.packaging_cost == Money.of("0.95", "EUR")


def test_a_short_pick_packs_only_the_units_found() -> None:
    picked = OrderPicked(**IDS, lines=units((MUG, 1)))
    short = ShortPicked(**IDS, missing=units((TEE, 2)))
    events = spec.given(REQUESTED, picked, short).when(PACK).then_matches(lambda es: len(es) == 2)
    packed, parcels = events
    assert isinstance(packed, OrderPacked) and isinstance(parcels, ParcelsPacked)
    assert packed.lines == units((MUG, 1))
    # 95 mm high: too high for the 40 mm mailer, so the next cheapest box.
    assert [(p.box, p.lines) for p in parcels.parcels] == [("BOX-S", units((MUG, 1)))]
    assert packed.weight_grams == 350 + 150


def test_what_fits_no_single_box_is_split_over_parcels_that_add_up() -> None:
    # 100 mugs weigh 35 kg, more than the largest box carries (30 kg: 85 mugs).
    requested = FulfilmentRequested(**IDS, lines=units((MUG, 100)), shipping_address=ADDRESS)
    picked = OrderPicked(**IDS, lines=units((MUG, 100)))
    events = spec.given(requested, picked).when(PACK).then_matches(bool)
    packed, parcels = events
    assert isinstance(packed, OrderPacked) and isinstance(parcels, ParcelsPacked)
    assert [(p.box, p.lines) for p in parcels.parcels] == [
        ("BOX-XL", units((MUG, 85))),
        ("BOX-M", units((MUG, 15))),
    ]
    assert packed.weight_grams == sum(p.weight_grams for p in parcels.parcels)
    assert parcels.packaging_cost == Money.total((p.packaging_cost for p in parcels.parcels), "EUR")
    assert [p.parcel_id for p in parcels.parcels] == [
        f"{FID}-{n}" for n in range(1, len(parcels.parcels) + 1)
    ]


def test_packing_needs_a_pick_first_and_happens_once() -> None:
    spec.given(REQUESTED).when(PACK).then_refused("not_picked", status=409)
    spec.given(REQUESTED, PICKED, PACKED, PARCELS).when(PACK).then_nothing()
    spec.given().when(PACK).then_refused("fulfilment_not_found", status=404)
    cancelled = FulfilmentCancelled(**IDS, reason="cancelled", lines=PICKED.lines)
    spec.given(REQUESTED, PICKED, cancelled).when(PACK).then_refused("fulfilment_cancelled")


def test_packing_refuses_units_it_cannot_size_or_box() -> None:
    refusal = (
        spec.given(REQUESTED, PICKED)
        .when(RecordPack(FID, {TEE: SIZES[TEE]}))
        .then_refused("item_size_unknown", status=422)
    )
    assert MUG in refusal.reason
    tiny = (Box("TINY", 100, 100, 100, 1000, 10, Money.of("0.10", "EUR")),)
    spec.given(REQUESTED, PICKED).when(RecordPack(FID, SIZES, tiny)).then_refused(
        "item_fits_no_box", status=422
    )


# -- cancel ----------------------------------------------------------------------------------


def test_an_open_fulfilment_cancels_and_gives_back_its_pick_list() -> None:
    cancelled = FulfilmentCancelled(**IDS, reason="customer request", lines=REQUESTED.lines)
    spec.given(REQUESTED).when(CancelFulfilment(FID, "customer request")).then(cancelled)
    after = spec.given(REQUESTED).when(CancelFulfilment(FID, "customer request")).state_after()
    assert after.status is FulfilmentStatus.CANCELLED
    spec.given(REQUESTED, cancelled).when(CancelFulfilment(FID, "again")).then_nothing()


def test_a_picked_fulfilment_cancels_and_gives_back_the_units_found() -> None:
    picked = OrderPicked(**IDS, lines=units((TEE, 1)))
    short = ShortPicked(**IDS, missing=units((TEE, 1), (MUG, 1)))
    spec.given(REQUESTED, picked, short).when(CancelFulfilment(FID, "cancelled")).then(
        FulfilmentCancelled(**IDS, reason="cancelled", lines=units((TEE, 1)))
    )


def test_a_packed_fulfilment_cannot_be_cancelled_the_way_back_is_a_return() -> None:
    refusal = (
        spec.given(REQUESTED, PICKED, PACKED, PARCELS)
        .when(CancelFulfilment(FID, "customer request"))
        .then_refused("already_packed", status=409)
    )
    assert "return" in refusal.reason


def test_a_cancellation_needs_a_fulfilment_and_a_reason() -> None:
    spec.given().when(CancelFulfilment(FID, "x")).then_refused("fulfilment_not_found", status=404)
    spec.given(REQUESTED).when(CancelFulfilment(FID, "  ")).then_refused(
        "reason_required", status=422
    )
