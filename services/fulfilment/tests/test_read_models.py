"""The pick-list document (a pure function of the events) and the SKU sizes kept in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oms_events.base import Event
from oms_events.contracts.common import Address, SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPicked,
    ShortPicked,
)
from oms_events.contracts.inventory import SkuRegistered
from oms_events.envelope import Envelope
from oms_events.registry import envelope_for
from oms_fulfilment.domain.packaging import ItemSize
from oms_fulfilment.projections.picklists import key, project
from oms_fulfilment.sizes import InMemoryItemSizes
from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing.keys import TEST_CHAIN_KEY

IDS = {"fulfilment_id": "ful-ord-1-AMS", "order_id": "ord-1", "warehouse_id": "AMS"}
ADDRESS = Address(recipient="N", line1="L", postal_code="1000", city="C", country="NL")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def env(event: Event, version: int, at: datetime = T0) -> Envelope:
    return envelope_for(
        event,
        stream_id="fulfilment-ful-ord-1-AMS",
        stream_version=version,
        correlation_id="ord-1",
        causation_id=None,
        actor="service:fulfilment",
        producer="fulfilment",
        occurred_at=at,
    )


def units(*pairs: tuple[str, int]) -> tuple[SkuQuantity, ...]:
    return tuple(SkuQuantity(sku=s, quantity=q) for s, q in pairs)


REQUESTED = FulfilmentRequested(**IDS, lines=units(("TEE", 2)), shipping_address=ADDRESS)


def test_the_document_follows_the_fulfilment() -> None:
    doc = project(None, env(REQUESTED, 1))
    assert doc is not None and doc["status"] == "open" and doc["warehouse"] == "AMS"
    assert doc["lines"] == [{"sku": "TEE", "quantity": 2}]
    later = T0 + timedelta(minutes=5)
    doc = project(doc, env(OrderPicked(**IDS, lines=units(("TEE", 1))), 2, later))
    doc = project(doc, env(ShortPicked(**IDS, missing=units(("TEE", 1))), 3, later))
    assert doc is not None and doc["status"] == "picked"
    assert doc["picked"] == doc["missing"] == [{"sku": "TEE", "quantity": 1}]
    assert doc["requested_at"] == T0.isoformat() and doc["updated_at"] == later.isoformat()
    doc = project(doc, env(FulfilmentCancelled(**IDS, reason="r"), 4))
    assert doc is not None and doc["status"] == "cancelled"


def test_other_events_are_not_the_read_models_business() -> None:
    sku = SkuRegistered(sku="TEE", name="Tee", weight_grams=1, length_mm=1, width_mm=1, height_mm=1)
    assert key(env(sku, 1)) is None and project(None, env(sku, 1)) is None
    assert key(env(REQUESTED, 1)) == "ful-ord-1-AMS"
    # A later event of a fulfilment never requested (ruled out by its stream) is ignored.
    assert project(None, env(OrderPicked(**IDS, lines=units(("TEE", 1))), 2)) is None


async def test_a_late_older_registration_does_not_replace_a_newer_size() -> None:
    sizes = InMemoryItemSizes()
    async with InMemoryEventStore(TEST_CHAIN_KEY).unit_of_work() as uow:
        new, old = ItemSize(10, 10, 10, 10), ItemSize(20, 20, 20, 20)
        await sizes.remember(uow, "TEE", new, T0)
        await sizes.remember(uow, "TEE", old, T0 - timedelta(days=1))
        assert await sizes.sizes(uow, ["TEE", "MUG"]) == {"TEE": new}
        await sizes.remember(uow, "TEE", old, T0 + timedelta(days=1))
        assert await sizes.sizes(uow, ["TEE"]) == {"TEE": old}
