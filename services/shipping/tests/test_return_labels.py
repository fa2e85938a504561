"""Return labels: the decision (pure) and the consumer's handler on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oms_events.contracts.common import SkuQuantity
from oms_events.contracts.returns import ReturnAuthorized
from oms_events.contracts.shipping import ReturnLabelBooked
from oms_events.examples import example
from oms_platform.commands import run_command
from oms_platform.refusal import Refusal
from oms_shipping.directory import MemoryDirectory
from oms_shipping.domain.carriers import all_services
from oms_shipping.domain.rates import Parcel, Promise, ShippingMethod, shop_rates
from oms_shipping.domain.return_labels import (
    RETURN_LABEL,
    BookReturnLabel,
    ReturnLabel,
    declared_weight,
)
from oms_shipping.domain.tracking import is_valid

from .test_api import Service, envelope, service

__all__ = ["service"]  # the fixture, shared with the API tests

READY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def book(units: int = 2, from_country: str = "BE", seq: int = 7) -> BookReturnLabel:
    return BookReturnLabel(
        return_id="RMA-AAAA-BBBB",
        order_id="ord-1",
        warehouse_id="AMS",
        from_country=from_country,
        warehouse_country="NL",
        units=units,
        ready_at=READY,
        tracking_sequence=seq,
    )


def test_the_label_goes_by_the_cheapest_standard_service_back_to_the_warehouse() -> None:
    (label,) = RETURN_LABEL.decide(book(), ReturnLabel())
    assert isinstance(label, ReturnLabelBooked)
    parcel = Parcel(declared_weight(2), "BE", "NL")
    expected = shop_rates(
        parcel, Promise(ShippingMethod.STANDARD), READY, tuple(all_services())
    ).chosen
    assert (label.carrier, label.service) == (expected.carrier, "standard")
    assert label.label_cost == expected.cost.total and label.label_cost.amount > 0
    assert is_valid(label.carrier, label.tracking_number), label.tracking_number
    assert (label.from_country, label.weight_grams) == ("BE", 1000)
    assert label.explanation


def test_a_label_is_booked_once() -> None:
    (label,) = RETURN_LABEL.decide(book(), ReturnLabel())
    booked = RETURN_LABEL.evolve(ReturnLabel(), label)
    assert RETURN_LABEL.decide(book(seq=8), booked) == []


def test_the_declared_weight_is_per_unit_and_bounded() -> None:
    assert [declared_weight(n) for n in (1, 3, 1000)] == [500, 1500, 30_000]


def test_no_carrier_collecting_in_the_customers_country_is_refused_with_the_reason() -> None:
    with pytest.raises(Refusal) as refused:
        RETURN_LABEL.decide(book(from_country="PL"), ReturnLabel())
    assert refused.value.code in {"no_carrier_service", "unknown_origin_country"}
    assert "PL" in refused.value.reason


async def test_an_authorised_return_gets_one_label(service: Service) -> None:
    await service.place("ord-1")
    authorized = example(ReturnAuthorized).model_copy(
        update={
            "order_id": "ord-1",
            "warehouse_id": "BER",
            "lines": (SkuQuantity(sku="TSHIRT-BLU-M", quantity=3),),
        }
    )
    env = envelope(authorized, "ord-1")
    shipping = service.ctx.shipping

    async def handle() -> list[object]:
        return list(
            await run_command(
                service.store, lambda uow: shipping.book_return_label(uow, env, authorized)
            )
        )

    missing = await service.client.get(f"/v1/returns/{authorized.return_id}/label")
    assert missing.status_code == 404 and missing.json()["code"] == "return_label_not_found"
    (label,) = await handle()
    assert isinstance(label, ReturnLabelBooked)
    shown = await service.client.get(f"/v1/returns/{authorized.return_id}/label")
    assert shown.status_code == 200, shown.text
    assert shown.json()["tracking_number"] == label.tracking_number
    assert shown.json()["label_cost"] == label.label_cost.model_dump(mode="json")
    # The example order goes to NL; the label comes back from there to Berlin.
    assert (label.from_country, label.warehouse_id, label.weight_grams) == ("NL", "BER", 1500)
    assert label.return_id == authorized.return_id
    before = await service.count()
    assert await handle() == []  # a redelivery books nothing and draws no number
    assert await service.count() == before
    directory = shipping.directory
    assert isinstance(directory, MemoryDirectory)
    assert next(directory.sequence) == 2


async def test_a_return_of_an_order_shipping_never_saw_is_refused(service: Service) -> None:
    authorized = example(ReturnAuthorized).model_copy(update={"order_id": "ord-unseen"})
    env = envelope(authorized, "ord-unseen")
    with pytest.raises(Refusal) as refused:
        await run_command(
            service.store,
            lambda uow: service.ctx.shipping.book_return_label(uow, env, authorized),
        )
    assert refused.value.code == "order_not_known"
    assert await service.count() == 0
