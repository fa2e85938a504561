"""Rate shopping: the cheapest service that keeps the promise, and why the others lost."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from oms_events.contracts.shipping import PassedOverReason, ShippingMethod
from oms_events.money import Money
from oms_platform.refusal import Refusal
from oms_shipping.domain import calendar
from oms_shipping.domain.carriers import (
    DHL,
    DPD,
    POSTNL,
    UPS,
    Zone,
    all_services,
    is_remote,
    zone_of,
)
from oms_shipping.domain.rates import Parcel, PassedOver, Promise, cost_of, shop_rates

STANDARD, EXPRESS = ShippingMethod.STANDARD, ShippingMethod.EXPRESS
ALL = tuple(all_services())
# Monday 2 March 2026, 10:00 in Amsterdam (09:00 UTC): before every cut-off.
MONDAY_MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def reasons(passed_over: Iterable[PassedOver]) -> dict[str, PassedOverReason]:
    """``carrier/service`` -> why it was passed over."""
    return {f"{p.carrier}/{p.service.value}": p.reason for p in passed_over}


def test_the_cheapest_service_that_keeps_a_standard_promise_wins() -> None:
    choice = shop_rates(Parcel(1500, "NL", "NL"), Promise(STANDARD), MONDAY_MORNING, ALL)
    assert choice.chosen.key == "postnl/standard"
    # 4.10 base + 6.5 % fuel (0.2665 -> 0.27, half-up) = 4.37
    assert choice.chosen.cost.total == eur("4.37")
    assert choice.chosen.cost.fuel == eur("0.27")
    assert choice.chosen.delivery_date == date(2026, 3, 3)
    passed = reasons(choice.passed_over)
    assert len(passed) == len(ALL) - 1
    assert set(passed.values()) == {PassedOverReason.MORE_EXPENSIVE}
    dpd = next(p for p in choice.passed_over if p.carrier == "dpd" and p.service is STANDARD)
    assert dpd.quote is not None and dpd.quote.cost.total == eur("4.72")
    assert "4.72 EUR against 4.37 EUR" in dpd.explanation
    assert choice.explanation.startswith("postnl/standard: cheapest of 8 services")


def test_an_express_promise_passes_over_every_standard_service() -> None:
    choice = shop_rates(Parcel(1500, "NL", "NL"), Promise(EXPRESS), MONDAY_MORNING, ALL)
    assert choice.chosen.key == "postnl/express"  # 8.95 + 6.5 % = 9.53
    assert choice.chosen.cost.total == eur("9.53")
    passed = reasons(choice.passed_over)
    for code in ("postnl", "dhl", "dpd", "ups"):
        assert passed[f"{code}/standard"] is PassedOverReason.BELOW_PROMISED_METHOD
    assert passed["dpd/express"] is PassedOverReason.MORE_EXPENSIVE


def test_express_keeps_a_standard_promise_when_it_is_the_cheapest() -> None:
    only = ((UPS, UPS.services[1]), (DHL, DHL.services[0]))  # UPS express vs DHL standard
    # 500 g NL -> NL: UPS express 13.90 + 14.25 % = 15.88; DHL standard 4.50 + 12 % = 5.04.
    choice = shop_rates(Parcel(500, "NL", "NL"), Promise(STANDARD), MONDAY_MORNING, only)
    assert choice.chosen.key == "dhl/standard"
    cheap_express = ((UPS, UPS.services[1]),)
    choice = shop_rates(Parcel(500, "NL", "NL"), Promise(STANDARD), MONDAY_MORNING, cheap_express)
    assert choice.chosen.key == "ups/express"
    assert choice.explanation.startswith("ups/express: cheapest, the only service")


def test_a_cheaper_but_too_slow_service_is_passed_over_with_the_reason() -> None:
    # NL -> US (world), promised by Tuesday 10 March; collected Monday 2 March.
    # PostNL standard (8 working days -> Thu 12th, 19.00 + 6.5 % = 20.24) is the cheapest
    # but late; DHL standard (6 days -> Tue 10th, 24.00 + 12 % = 26.88) keeps the promise.
    parcel = Parcel(1500, "NL", "US")
    choice = shop_rates(parcel, Promise(STANDARD, date(2026, 3, 10)), MONDAY_MORNING, ALL)
    assert choice.chosen.key == "dhl/standard"
    assert choice.chosen.cost.total == eur("26.88")
    assert choice.chosen.delivery_date == date(2026, 3, 10)
    slow = next(p for p in choice.passed_over if p.carrier == "postnl" and p.service is STANDARD)
    assert slow.reason is PassedOverReason.TOO_SLOW
    assert slow.quote is not None and slow.quote.delivery_date == date(2026, 3, 12)
    assert slow.quote.cost.total == eur("20.24")  # cheaper than the chosen one
    assert "after the promised 2026-03-10" in slow.explanation
    assert "postnl/standard too_slow" in choice.explanation
    # Without a date the cheaper PostNL service wins.
    assert shop_rates(parcel, Promise(STANDARD), MONDAY_MORNING, ALL).chosen.key == (
        "postnl/standard"
    )


def test_after_the_cut_off_the_parcel_leaves_the_next_working_day() -> None:
    # Monday 16:45 in Amsterdam: after DHL standard's 16:00 and DPD's 16:30 cut-off,
    # before PostNL's 17:00.
    late = datetime(2026, 3, 2, 15, 45, tzinfo=UTC)
    only_dpd = ((DPD, DPD.services[0]),)
    choice = shop_rates(Parcel(1500, "NL", "NL"), Promise(STANDARD), late, only_dpd)
    assert choice.chosen.collection_date == date(2026, 3, 3)
    assert choice.chosen.delivery_date == date(2026, 3, 4)
    choice = shop_rates(Parcel(1500, "NL", "NL"), Promise(STANDARD, date(2026, 3, 3)), late, ALL)
    assert choice.chosen.key == "postnl/standard"
    passed = reasons(choice.passed_over)
    assert passed["dpd/standard"] is PassedOverReason.TOO_SLOW
    assert passed["dhl/standard"] is PassedOverReason.TOO_SLOW


def test_the_cut_off_is_inclusive_and_in_the_warehouses_local_time() -> None:
    # 17:00 sharp in Amsterdam in summer time (15:00 UTC) still leaves with PostNL.
    at_cutoff = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    assert calendar.collection_date(at_cutoff, "NL", POSTNL.services[0].cutoff) == date(2026, 7, 1)
    one_second_late = datetime(2026, 7, 1, 15, 0, 1, tzinfo=UTC)
    assert calendar.collection_date(one_second_late, "NL", POSTNL.services[0].cutoff) == date(
        2026, 7, 2
    )


def test_weekends_are_skipped_for_collection_and_transit() -> None:
    friday_evening = datetime(2026, 3, 6, 19, 0, tzinfo=UTC)
    saturday = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)
    for ready in (friday_evening, saturday):
        choice = shop_rates(
            Parcel(1500, "NL", "NL"), Promise(STANDARD), ready, ((POSTNL, POSTNL.services[0]),)
        )
        assert choice.chosen.collection_date == date(2026, 3, 9)  # Monday
        assert choice.chosen.delivery_date == date(2026, 3, 10)
    # Collected Thursday, two working days to Belgium: Monday, not Saturday.
    thursday = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    choice = shop_rates(
        Parcel(1500, "NL", "BE"), Promise(STANDARD), thursday, ((POSTNL, POSTNL.services[0]),)
    )
    assert choice.chosen.delivery_date == date(2026, 3, 9)


def test_no_collection_no_zone_and_over_weight_are_reasons_too() -> None:
    # 25 kg from Berlin to Norway (world).
    choice = shop_rates(Parcel(25000, "DE", "NO"), Promise(STANDARD), MONDAY_MORNING, ALL)
    passed = reasons(choice.passed_over)
    assert passed["postnl/standard"] is PassedOverReason.NO_COLLECTION_AT_ORIGIN
    assert passed["dpd/standard"] is PassedOverReason.NO_SERVICE_TO_ZONE
    assert choice.chosen.key == "dhl/standard"  # 79.00 + 12 % = 88.48; UPS 169.00 + 14.25 %
    assert choice.chosen.cost.total == eur("88.48")
    heavy = shop_rates(Parcel(40000, "DE", "NO"), Promise(STANDARD), MONDAY_MORNING, ALL)
    assert heavy.chosen.key == "ups/standard"
    over = next(p for p in heavy.passed_over if p.carrier == "dhl" and p.service is STANDARD)
    assert over.reason is PassedOverReason.OVER_WEIGHT_LIMIT
    assert "over its 31500 g limit" in over.explanation


def test_no_candidate_is_a_refusal_that_names_each_reason() -> None:
    with pytest.raises(Refusal) as refused:
        shop_rates(Parcel(80000, "NL", "NL"), Promise(STANDARD), MONDAY_MORNING, ALL)
    assert refused.value.code == "no_carrier_service"
    assert refused.value.status == 422
    assert "ups/standard: 80000 g is over its 70000 g limit" in refused.value.reason
    with pytest.raises(Refusal) as refused:
        shop_rates(Parcel(500, "NL", "NL"), Promise(STANDARD), MONDAY_MORNING, ())
    assert refused.value.code == "no_carrier_service"
    with pytest.raises(Refusal) as refused:
        shop_rates(Parcel(500, "XX", "NL"), Promise(STANDARD), MONDAY_MORNING, ALL)
    assert refused.value.code == "unknown_origin_country"


def test_a_weight_on_a_band_edge_takes_that_band() -> None:
    service = POSTNL.services[0]
    assert service.base_price(Zone.DOMESTIC, 2000) == Decimal("4.10")
    assert service.base_price(Zone.DOMESTIC, 2001) == Decimal("5.25")
    assert service.base_price(Zone.WORLD, 10001) is None  # no world band above 10 kg
    assert service.weight_limit(Zone.WORLD) == 10000


def test_remote_areas_and_oversize_add_their_fees_without_fuel() -> None:
    assert is_remote("NL", "1791 AB")  # Texel
    assert not is_remote("NL", "1016 GV")  # Amsterdam
    assert not is_remote("NL", None)
    texel = Parcel(1500, "NL", "NL", postal_code="1791 AB", longest_side_cm=130)
    cost = cost_of(DHL, DHL.services[0], Zone.DOMESTIC, texel)
    assert cost is not None
    assert (cost.base, cost.fuel) == (eur("4.50"), eur("0.54"))
    assert (cost.remote_area, cost.oversize) == (eur("3.50"), eur("15.00"))
    assert cost.total == eur("23.54")
    # 120 cm is DHL's limit itself: no oversize fee.
    at_limit = cost_of(DHL, DHL.services[0], Zone.DOMESTIC, Parcel(1500, "NL", "NL", None, 120))
    assert at_limit is not None and at_limit.oversize.is_zero()


def test_zones_by_destination() -> None:
    assert zone_of("NL", "NL") is Zone.DOMESTIC
    assert zone_of("DE", "NL") is Zone.EU1
    assert zone_of("NL", "ES") is Zone.EU2
    assert zone_of("ES", "ES") is Zone.DOMESTIC
    assert zone_of("NL", "US") is Zone.WORLD


def test_a_tie_in_price_goes_to_the_earlier_delivery() -> None:
    same_price = (
        (POSTNL, POSTNL.services[0]),
        (POSTNL, POSTNL.services[0]),
    )
    choice = shop_rates(Parcel(500, "NL", "NL"), Promise(STANDARD), MONDAY_MORNING, same_price)
    assert [p.reason for p in choice.passed_over] == [PassedOverReason.MORE_EXPENSIVE]
    assert "same price and day" in choice.passed_over[0].explanation


def test_a_naive_dispatch_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        shop_rates(Parcel(500, "NL", "NL"), Promise(STANDARD), datetime(2026, 3, 2, 9), ALL)


def test_a_remote_area_fee_can_change_the_winner() -> None:
    # Berlin -> Sylt (domestic DE). Without the fee DPD is cheapest (4.35 + 8.5 % = 4.72,
    # DHL 4.50 + 12 % = 5.04); with it DHL wins (5.04 + 3.50 = 8.54 < 4.72 + 4.00 = 8.72).
    mainland = shop_rates(
        Parcel(1500, "DE", "DE", postal_code="10115"), Promise(STANDARD), MONDAY_MORNING, ALL
    )
    assert mainland.chosen.key == "dpd/standard"
    sylt = shop_rates(
        Parcel(1500, "DE", "DE", postal_code="25980"), Promise(STANDARD), MONDAY_MORNING, ALL
    )
    assert sylt.chosen.key == "dhl/standard"
    assert sylt.chosen.cost.total == eur("8.54")
    assert sylt.chosen.cost.remote_area == eur("3.50")
    dpd = next(p for p in sylt.passed_over if p.carrier == "dpd" and p.service is STANDARD)
    assert dpd.quote is not None and dpd.quote.cost.total == eur("8.72")


def test_an_oversize_fee_can_change_the_winner() -> None:
    # 110 cm is over PostNL's 100 cm (fee 12.00) but within DHL's 120 cm.
    long_parcel = Parcel(1500, "NL", "NL", longest_side_cm=110)
    choice = shop_rates(long_parcel, Promise(STANDARD), MONDAY_MORNING, ALL)
    assert choice.chosen.key == "dhl/standard"
    postnl = next(p for p in choice.passed_over if p.carrier == "postnl" and p.service is STANDARD)
    assert postnl.quote is not None and postnl.quote.cost.total == eur("16.37")


def test_express_to_a_zone_a_carrier_does_not_serve_is_passed_over_as_such() -> None:
    choice = shop_rates(Parcel(1500, "NL", "IT"), Promise(EXPRESS), MONDAY_MORNING, ALL)
    passed = reasons(choice.passed_over)
    assert passed["postnl/express"] is PassedOverReason.NO_SERVICE_TO_ZONE
    # DPD express eu2: 27.90 + 8.5 % = 30.27; DHL 32.00 + 12 % = 35.84; UPS 29.90 + 14.25 %
    # = 34.16.
    assert choice.chosen.key == "dpd/express"
    assert choice.chosen.cost.total == eur("30.27")
