"""`oms demo`'s customers: ratings follow what happened to their order."""

from __future__ import annotations

from oms_cli.lifecycle import Life, Parcel, rating_for


def parcel(warehouse: str = "AMS", *, missing: int = 0, failed: int = 0) -> Parcel:
    shorts = [{"sku": "MUG", "quantity": missing}] if missing else []
    return Parcel("s", warehouse, "dhl", "standard", "1", "€4.00", missing=shorts,
                  failed_attempts=failed)  # fmt: skip


def life(*parcels: Parcel, damaged: bool = False) -> Life:
    return Life("WEB-1", "ord-1", "delivered", parcels=list(parcels), returned_damaged=damaged)


def test_a_quick_complete_order_gets_five_stars() -> None:
    assert rating_for(life(parcel())) == (5, "Quick and complete, thank you")


def test_each_thing_that_went_wrong_costs_stars_but_never_below_one() -> None:
    assert rating_for(life(parcel("AMS"), parcel("BER")))[0] == 4  # split
    assert rating_for(life(parcel(failed=1)))[0] == 4  # late: a missed attempt
    assert rating_for(life(parcel(missing=1)))[0] == 3  # short-picked
    assert rating_for(life(parcel(), damaged=True))[0] == 3
    worst = life(parcel("AMS", missing=1, failed=1), parcel("BER"), damaged=True)
    rating, comment = rating_for(worst)
    assert rating == 1 and "missing" in comment and "two parcels" in comment
