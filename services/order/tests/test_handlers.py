"""Handlers on the in-memory event store: dedupe, rejection records, facts, as_of view."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from oms_events.contracts import OrderRejected
from oms_events.registry import registry
from oms_order.domain.decide import OrderNotFound
from oms_order.domain.state import OrderState
from oms_order.handlers import (
    IdempotencyKeyReused,
    Intake,
    OrderHandlers,
    Outcome,
    Source,
)
from oms_order.projections.order_view import order_document
from oms_order.streams import order_stream, platform_order_stream
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.eventstore.memory import InMemoryEventStore

from .conftest import authorized, reserved, submission


class FakeReadModels:
    def __init__(self, skus: Iterable[str] = ("TSHIRT-BLU-M", "MUG-ENAMEL-WHT")) -> None:
        self.skus = set(skus)
        self.orders: dict[str, OrderState] = {}

    async def save_order(self, uow: UnitOfWork, state: OrderState) -> None:
        self.orders[state.order_id] = state

    async def unknown_skus(self, uow: UnitOfWork, skus: Iterable[str]) -> set[str]:
        return set(skus) - self.skus

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None:
        self.skus.add(sku)


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"ord-{self.n:012d}"


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def handlers() -> OrderHandlers:
    return OrderHandlers(FakeReadModels(), Ids())


PLATFORM = Intake("platform:webshop-nl", "evt-1")


async def test_the_same_order_submitted_twice_becomes_one(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    async with store.unit_of_work() as uow:
        first = await handlers.submit(uow, submission(), PLATFORM)
    async with store.unit_of_work() as uow:
        again = await handlers.submit(uow, submission(), Intake("platform:x", "evt-2", "key-1"))
    assert first.outcome is Outcome.CREATED and again.outcome is Outcome.EXISTING
    assert again.order_id == first.order_id
    placed = [r for r in await store.read_all() if r.envelope.type == "OrderPlaced"]
    assert len(placed) == 1
    # the idempotency key now points at the same order
    async with store.unit_of_work() as uow:
        by_key = await handlers.submit(uow, submission(), Intake("platform:x", "evt-3", "key-1"))
    assert by_key.order_id == first.order_id


async def test_an_idempotency_key_reused_for_another_body_is_refused(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    async with store.unit_of_work() as uow:
        await handlers.submit(uow, submission(), Intake("platform:x", "r1", "key-1"))
    with pytest.raises(IdempotencyKeyReused):
        async with store.unit_of_work() as uow:
            other = submission(platform_order_ref="WEB-other")
            await handlers.submit(uow, other, Intake("platform:x", "r2", "key-1"))


async def test_unknown_skus_are_rejected_and_recorded_on_the_platform_order_stream(
    store: InMemoryEventStore,
) -> None:
    handlers = OrderHandlers(FakeReadModels(skus=["TSHIRT-BLU-M"]), Ids())
    async with store.unit_of_work() as uow:
        result = await handlers.submit(uow, submission(), PLATFORM)
    assert result.outcome is Outcome.REJECTED and result.order_id is None
    sub = submission()
    [rec] = await store.read_stream(
        platform_order_stream(sub.sales_channel, sub.platform_order_ref)
    )
    rejected = registry.parse_as(rec.envelope, OrderRejected)
    assert rejected.reasons[0].code.value == "unknown_sku"
    assert rec.envelope.causation_id == "evt-1"


async def test_facts_confirm_the_order_and_the_view_shows_its_timeline_and_past(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    async with store.unit_of_work() as uow:
        order_id = (await handlers.submit(uow, submission(), PLATFORM)).order_id
    assert order_id is not None
    when = datetime(2026, 3, 2, 10, tzinfo=UTC)
    for i, fact in enumerate([reserved(), authorized("pay-1"), authorized("pay-2")]):
        async with store.unit_of_work() as uow:
            await handlers.record(uow, order_id, fact, Source(f"src-{i}", "service:x", when))
    async with store.unit_of_work() as uow:
        _, records = await handlers.load(uow, order_id)
    doc = order_document(records)
    assert doc["status"] == "confirmed"
    assert [e["type"] for e in doc["timeline"]] == [
        "OrderPlaced",
        "OrderStockRecorded",
        "OrderPaymentRecorded",
        "OrderPaymentRecorded",
        "OrderConfirmed",
    ]
    assert doc["timeline"][1]["actor"] == "service:x"
    assert doc["timeline"][1]["cause"] == "src-0"
    assert doc["timeline"][-1]["actor"] == "service:order"
    assert [p["status"] for p in doc["payments"]] == ["authorized", "authorized"]
    assert len(doc["allocations"]) == 2
    assert order_document(records[:2])["status"] == "placed"  # the order as it was then


async def test_a_fact_for_an_unknown_order_is_refused(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    with pytest.raises(OrderNotFound):
        async with store.unit_of_work() as uow:
            await handlers.record(
                uow, "ord-nope", reserved(), Source("e", "service:x", datetime.now(UTC))
            )
    assert await store.read_stream(order_stream("ord-nope")) == []
