"""Handlers on the in-memory event store, driven through the routing table where they consume."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from oms_events.base import Event
from oms_events.contracts import (
    CancellationReason,
    CancelledBy,
    OrderCancelled,
    OrderRejected,
    OrderSubmitted,
    StockReserved,
)
from oms_events.contracts.inventory import SkuRegistered
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for, registry
from oms_events.topics import (
    FULFILMENT_EVENTS,
    INVENTORY_EVENTS,
    PAYMENTS_EVENTS,
    PLATFORM_INGRESS,
    RETURNS_EVENTS,
    SHIPPING_EVENTS,
)
from oms_order.consumers import ROUTES, fact_of, subscribe
from oms_order.domain.commands import CancelOrder
from oms_order.handlers import Intake, OrderHandlers, Outcome, Source
from oms_order.projections.derived import DerivedReadModels
from oms_order.projections.read_models import OrderQuery
from oms_order.queries import order, order_records
from oms_order.streams import order_stream, platform_order_stream
from oms_platform.eventstore.memory import InMemoryEventStore
from oms_platform.refusal import Refusal
from oms_platform.testing.keys import TEST_CHAIN_KEY

from .conftest import authorized, submission

PLATFORM = Intake("platform:webshop-nl", "evt-1")
WHEN = datetime(2026, 3, 2, 10, tzinfo=UTC)


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"ord-{self.n:012d}"


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore(TEST_CHAIN_KEY)


@pytest.fixture
def models(store: InMemoryEventStore) -> DerivedReadModels:
    return DerivedReadModels(store, known_skus=("TSHIRT-BLU-M", "MUG-ENAMEL-WHT"))


@pytest.fixture
def handlers(models: DerivedReadModels) -> OrderHandlers:
    return OrderHandlers(models, Ids())


async def deliver(
    store: InMemoryEventStore, handlers: OrderHandlers, event: Event, actor: str = "service:x"
) -> Envelope:
    """Hand ``event`` to its handler in the routing table, in one unit of work."""
    env = envelope_for(
        event,
        stream_id="source-1",
        stream_version=1,
        correlation_id="corr-1",
        causation_id=None,
        actor=actor,
        producer="test",
        occurred_at=WHEN,
    )
    async with store.unit_of_work() as uow:
        await ROUTES[type(event)].handle(handlers, uow, env, event)
    return env


async def submit(store: InMemoryEventStore, handlers: OrderHandlers, **changes: Any) -> str:
    async with store.unit_of_work() as uow:
        result = await handlers.submit(uow, submission(**changes), PLATFORM)
    assert result.order_id is not None
    return result.order_id


async def test_the_same_order_submitted_twice_becomes_one(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    await deliver(store, handlers, submission(), actor="platform:webshop-nl")
    async with store.unit_of_work() as uow:
        again = await handlers.submit(uow, submission(), Intake("platform:x", "evt-2", "key-1"))
    assert again.outcome is Outcome.EXISTING
    placed = [r for r in await store.read_all() if r.envelope.type == "OrderPlaced"]
    assert [r.envelope.correlation_id for r in placed] == [again.order_id]
    assert placed[0].envelope.actor == "platform:webshop-nl"
    # the idempotency key now points at the same order
    async with store.unit_of_work() as uow:
        by_key = await handlers.submit(uow, submission(), Intake("platform:x", "evt-3", "key-1"))
    assert by_key.order_id == again.order_id


async def test_an_idempotency_key_reused_for_another_body_is_refused(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    async with store.unit_of_work() as uow:
        first = await handlers.submit(uow, submission(), Intake("platform:x", "r1", "key-1"))
    with pytest.raises(Refusal) as refused:
        async with store.unit_of_work() as uow:
            other = submission(platform_order_ref="WEB-other")
            await handlers.submit(uow, other, Intake("platform:x", "r2", "key-1"))
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.extra == {"existing_order_id": first.order_id}


async def test_unknown_skus_are_rejected_and_recorded_on_the_platform_order_stream(
    store: InMemoryEventStore,
) -> None:
    handlers = OrderHandlers(DerivedReadModels(store, known_skus=["TSHIRT-BLU-M"]), Ids())
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
    assert rec.envelope.correlation_id == sub.platform_order_ref


async def test_facts_keep_their_source_and_what_the_order_decides_is_its_own(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    order_id = await submit(store, handlers)
    reserved = example(StockReserved).model_copy(update={"order_id": order_id})
    source = await deliver(store, handlers, reserved, actor="service:inventory")
    for payment_id in ("pay-1", "pay-2"):
        source_of_payment = Source(f"src-{payment_id}", "service:payments", WHEN)
        async with store.unit_of_work() as uow:
            await handlers.record(uow, authorized(payment_id, order_id), source_of_payment)
    doc = await order(store, order_id)
    assert doc["status"] == "confirmed"
    timeline = [(e["type"], e["actor"], e["cause"]) for e in doc["timeline"]]
    assert timeline == [
        ("OrderPlaced", "platform:webshop-nl", "evt-1"),
        ("OrderStockRecorded", "service:inventory", str(source.event_id)),
        ("OrderPaymentRecorded", "service:payments", "src-pay-1"),
        ("OrderPaymentRecorded", "service:payments", "src-pay-2"),
        ("OrderConfirmed", "service:order", "src-pay-2"),
    ]
    assert doc["timeline"][1]["occurred_at"] == WHEN.isoformat()
    assert doc["timeline"][-1]["occurred_at"] != WHEN.isoformat()  # decided now
    records = await order_records(store, order_id)
    assert len({r.recorded_at for r in records[-2:]}) == 1  # the fact and its effect: one append


async def test_a_fact_for_an_unknown_order_is_refused_and_nothing_is_written(
    store: InMemoryEventStore, handlers: OrderHandlers
) -> None:
    reserved = example(StockReserved).model_copy(update={"order_id": "ord-nope"})
    with pytest.raises(Refusal) as refused:
        await deliver(store, handlers, reserved)
    assert refused.value.code == "order_not_found"
    assert "ord-nope" in refused.value.reason
    assert await store.read_stream(order_stream("ord-nope")) == []


def test_an_event_that_is_not_about_an_order_is_refused() -> None:
    with pytest.raises(Refusal):
        fact_of(example(SkuRegistered))


async def test_a_cancellation_is_recorded_with_the_requesting_actor(
    store: InMemoryEventStore, handlers: OrderHandlers, models: DerivedReadModels
) -> None:
    order_id = await submit(store, handlers)
    command = CancelOrder(
        order_id, CancellationReason.CUSTOMER_REQUEST, CancelledBy.STAFF, "asked by phone"
    )
    async with store.unit_of_work() as uow:
        state = await handlers.cancel(uow, command, "staff:alice", "req-1")
    assert state.cancellation is not None
    [rec] = [r for r in await order_records(store, order_id) if isinstance(r.event, OrderCancelled)]
    assert (rec.envelope.actor, rec.envelope.causation_id) == ("staff:alice", "req-1")
    [row] = await models.find_orders(OrderQuery(status="cancelled"))
    assert row["order_id"] == order_id


async def test_known_skus_come_from_the_catalogue_route(store: InMemoryEventStore) -> None:
    models = DerivedReadModels(store)
    handlers = OrderHandlers(models, Ids())
    for sku in ("TSHIRT-BLU-M", "MUG-ENAMEL-WHT"):
        await deliver(store, handlers, example(SkuRegistered).model_copy(update={"sku": sku}))
    assert await submit(store, handlers)


def test_the_routing_table_gives_each_consumer_its_topics_and_types() -> None:
    class Host:
        def __init__(self) -> None:
            self.subscriptions: dict[str, tuple[list[str], set[str]]] = {}

        def subscribe(self, consumer: str, topics: list[str], handlers: dict[str, Any]) -> None:
            self.subscriptions[consumer] = (topics, set(handlers))

    host = Host()
    subscribe(host, OrderHandlers(DerivedReadModels(InMemoryEventStore(TEST_CHAIN_KEY)), Ids()))  # type: ignore[arg-type]
    subs = host.subscriptions
    assert subs["intake"] == ([PLATFORM_INGRESS], {OrderSubmitted.event_type})
    assert subs["catalogue"] == ([INVENTORY_EVENTS], {"SkuRegistered"})
    topics, types = subs["order-facts"]
    assert topics == sorted(
        [INVENTORY_EVENTS, PAYMENTS_EVENTS, FULFILMENT_EVENTS, SHIPPING_EVENTS, RETURNS_EVENTS]
    )
    assert {"StockReserved", "PaymentDeclined", "ShipmentDelivered"} <= types
    assert {
        "ShortPicked",
        "FulfilmentCancellationAccepted",
        "FulfilmentCancellationRefused",
        "ShipmentLost",
        "ShipmentReturnedToSender",
        "ReturnResolved",
    } <= types
    assert len(types) == 17
