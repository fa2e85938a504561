"""``ops_timeline``: every contract that names an order gives one row with a summary line."""

from __future__ import annotations

import pytest

from oms_events.base import Event
from oms_events.contracts.payments import RefundIssued
from oms_events.contracts.shipping import ShipmentDispatched
from oms_events.examples import eur, example
from oms_events.registry import registry
from oms_operations.projections import timeline

from .events import T0, at, make


def test_every_registered_contract_with_an_order_id_is_on_the_timeline() -> None:
    names = {cls.event_type for cls in timeline.HANDLED}
    with_order = {
        name for name in registry.types() if "order_id" in registry.latest(name).model_fields
    }
    assert names == with_order
    assert {"OrderPlaced", "PaymentCaptured", "StockReserved", "ShipmentDispatched"} <= names
    assert "OrderSubmitted" not in names and "StockReceived" not in names


@pytest.mark.parametrize("cls", timeline.HANDLED, ids=lambda c: c.event_type)
def test_each_event_gives_its_envelope_and_a_one_line_summary(cls: type[Event]) -> None:
    event = example(cls)
    env, _ = at(event, T0)
    row = timeline.apply(None, env, event)
    assert row.event_id == env.event_id and row.type == cls.event_type
    assert row.order_id == getattr(event, "order_id")  # noqa: B009
    assert (row.occurred_at, row.actor, row.producer) == (T0, "service:test", "test")
    assert row.correlation_id == env.correlation_id and row.causation_id is None
    assert row.summary and "\n" not in row.summary
    assert len(row.summary) <= timeline.MAX_SUMMARY
    assert timeline.keys(env, event) == [(env.event_id,)]
    assert timeline.apply(row, env, event) == row  # a redelivery gives the same row


def test_summaries_name_the_key_facts() -> None:
    dispatched = make(
        ShipmentDispatched, carrier="dhl", tracking_number="3SDHL0001", warehouse_id="AMS"
    )
    assert timeline.summary(dispatched) == "dhl parcel 3SDHL0001 dispatched from AMS"
    refund = make(RefundIssued, payment_id="pay-9", amount=eur("12.50").model_dump())
    assert timeline.summary(refund) == "refund 12.50 EUR on pay-9"


class LabelReprinted(Event, type_name="LabelReprinted", version=1):
    """A contract the timeline has no line for (not registered)."""

    order_id: str
    shipment_id: str
    code: str


def test_a_contract_without_its_own_line_falls_back_to_its_type_and_ids() -> None:
    event = LabelReprinted(order_id="o1", shipment_id="shp-1", code="secret")
    assert timeline.summary(event) == "LabelReprinted shipment shp-1"


def test_every_registered_contract_has_its_own_line() -> None:
    generic = [
        c.event_type
        for c in timeline.HANDLED
        if timeline.summary(example(c)).startswith(c.event_type)
    ]
    assert generic == []
