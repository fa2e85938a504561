"""The rest of the order's life over HTTP, on the in-memory event store: cancellation as a
request once confirmed, short picks, failed parcels, returns and feedback (facts delivered
through the routing table, as the consumers would)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from oms_events.base import Event
from oms_events.contracts import (
    PaymentAuthorized,
    ShipmentDelivered,
    ShipmentDispatched,
    SkuQuantity,
    StockReserved,
)
from oms_events.contracts.fulfilment import (
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
    ShortPicked,
)
from oms_events.contracts.returns import ReturnResolved
from oms_events.contracts.shipping import ShipmentLost, ShipmentReturnedToSender
from oms_events.examples import example
from oms_order.handlers import OrderHandlers
from oms_platform.eventstore.memory import InMemoryEventStore
from oms_platform.service import ServiceHost
from oms_platform.testing import auth

from .conftest import placed
from .test_handlers import deliver
from .test_http import assert_problem, place

TSHIRTS = SkuQuantity(sku="TSHIRT-BLU-M", quantity=2)
MUG = SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1)


class World:
    """The host's store and handlers, to deliver other services' events to the order."""

    def __init__(self, store: InMemoryEventStore, host: ServiceHost) -> None:
        self.store = store
        self.handlers: OrderHandlers = host.api.state.order.handlers

    async def tell(self, event: Event, **changes: Any) -> None:
        await deliver(self.store, self.handlers, event.model_copy(update=changes))


@pytest.fixture
def world(store: InMemoryEventStore, host: ServiceHost) -> World:
    return World(store, host)


async def confirmed(client: httpx.AsyncClient, world: World, ref: str = "WEB-1") -> str:
    order_id = await place(client, ref)
    await world.tell(example(StockReserved), order_id=order_id)
    for payment in placed().payments:
        await world.tell(
            example(PaymentAuthorized),
            order_id=order_id,
            payment_id=payment.payment_id,
            method=payment.method,
            amount=payment.amount,
        )
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["status"] == "confirmed"
    return order_id


async def dispatched(world: World, order_id: str, shipment_id: str, *lines: SkuQuantity) -> None:
    await world.tell(
        example(ShipmentDispatched),
        order_id=order_id,
        shipment_id=shipment_id,
        lines=lines or (TSHIRTS, MUG),
    )


async def delivered(
    client: httpx.AsyncClient, world: World, ref: str = "WEB-D"
) -> tuple[str, dict[str, Any]]:
    order_id = await confirmed(client, world, ref)
    await dispatched(world, order_id, "shp-1")
    await world.tell(example(ShipmentDelivered), order_id=order_id, shipment_id="shp-1")
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["status"] == "delivered"
    return order_id, doc


def types(doc: dict[str, Any]) -> list[str]:
    return [e["type"] for e in doc["timeline"]]


# -- cancellation -------------------------------------------------------------------------------


async def test_a_confirmed_order_is_asked_of_fulfilment_202_and_asking_again_is_idempotent(
    client: httpx.AsyncClient, world: World
) -> None:
    order_id = await confirmed(client, world)
    resp = await client.post(
        f"/v1/orders/{order_id}/cancel",
        json={"reason": "customer_request", "detail": "changed their mind"},
        headers=auth.headers(subject="staff:alice"),
    )
    assert resp.status_code == 202, resp.text
    doc = resp.json()
    assert doc["status"] == "confirmed"
    assert doc["cancellation"]["status"] == "requested"
    assert doc["cancellation"]["actor"] == "staff:alice"
    assert doc["cancellation"]["detail"] == "changed their mind"
    assert types(doc)[-1] == "OrderCancellationRequested"

    again = await client.post(f"/v1/orders/{order_id}/cancel")
    assert again.status_code == 202
    assert types(again.json()).count("OrderCancellationRequested") == 1

    await world.tell(example(FulfilmentCancellationAccepted), order_id=order_id)
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["status"] == "cancelled"
    cancellation = doc["cancellation"]
    assert cancellation["status"] == "cancelled"
    assert (cancellation["reason"], cancellation["cancelled_by"]) == ("customer_request", "staff")
    assert cancellation["detail"] == "changed their mind"
    assert cancellation["actor"] == "staff:alice" and cancellation["requested_at"]
    assert doc["timeline"][-1]["actor"] == "service:order"
    twice = await client.post(f"/v1/orders/{order_id}/cancel")
    assert "already cancelled" in assert_problem(twice, 409, "cancellation_refused")["detail"]


async def test_a_refused_request_leaves_the_order_as_it_was(
    client: httpx.AsyncClient, world: World
) -> None:
    order_id = await confirmed(client, world)
    assert (await client.post(f"/v1/orders/{order_id}/cancel")).status_code == 202
    refusal = example(FulfilmentCancellationRefused)
    await world.tell(refusal, order_id=order_id)
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["status"] == "confirmed"
    assert doc["cancellation"]["status"] == "refused"
    assert doc["cancellation"]["refusal_reason"] == refusal.reason
    assert doc["timeline"][-1]["type"] == "OrderCancellationRefused"
    assert doc["timeline"][-1]["actor"] == "service:x"  # fulfilment's answer, as recorded
    again = await client.post(f"/v1/orders/{order_id}/cancel")
    assert "already packed" in assert_problem(again, 409, "cancellation_refused")["detail"]


async def test_a_placed_order_is_still_cancelled_at_once(client: httpx.AsyncClient) -> None:
    order_id = await place(client)
    resp = await client.post(f"/v1/orders/{order_id}/cancel")
    assert resp.status_code == 200
    assert resp.json()["cancellation"]["status"] == "cancelled"
    assert "OrderCancellationRequested" not in types(resp.json())


# -- short picks, failed parcels, returns ----------------------------------------------------------


async def test_a_short_pick_shows_per_line_and_the_rest_delivered_is_delivered(
    client: httpx.AsyncClient, world: World
) -> None:
    order_id = await confirmed(client, world)
    short = example(ShortPicked).model_copy(update={"order_id": order_id, "missing": (MUG,)})
    await world.tell(short)
    await world.tell(short)  # a second delivery records nothing new
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert types(doc).count("OrderShortShipped") == 1
    tshirt_line, mug_line = doc["lines"]
    assert tshirt_line["short_shipped"] is None
    assert mug_line["short_shipped"] == {"quantity": 1, "remedy": "refund"}
    assert doc["short_shipments"][0]["missing"] == [{"sku": "MUG-ENAMEL-WHT", "quantity": 1}]

    await dispatched(world, order_id, "shp-1", TSHIRTS)
    await world.tell(example(ShipmentDelivered), order_id=order_id, shipment_id="shp-1")
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["status"] == "delivered"
    [parcel] = doc["shipments"]
    assert parcel["delivered"] is True and parcel["delivered_at"] == "2026-03-03T14:02:00+00:00"
    assert parcel["carrier"] == "postnl" and parcel["tracking_number"].startswith("3S")


async def test_every_unit_short_cancels_the_order(client: httpx.AsyncClient, world: World) -> None:
    order_id = await confirmed(client, world)
    await world.tell(example(ShortPicked), order_id=order_id, missing=(TSHIRTS, MUG))
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["status"] == "cancelled"
    assert doc["cancellation"]["reason"] == "stock_unavailable"
    assert doc["cancellation"]["actor"] == "service:order"
    assert "short pick of ful-1" in doc["cancellation"]["detail"]


@pytest.mark.parametrize(
    ("event", "failure"),
    [(ShipmentLost, "lost"), (ShipmentReturnedToSender, "returned_to_sender")],
)
async def test_a_parcel_that_fails_shows_on_the_parcel(
    client: httpx.AsyncClient, world: World, event: type[Event], failure: str
) -> None:
    order_id = await confirmed(client, world)
    await dispatched(world, order_id, "shp-1")
    await world.tell(example(event), order_id=order_id, shipment_id="shp-1")
    await world.tell(example(event), order_id=order_id, shipment_id="shp-1")
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    [parcel] = doc["shipments"]
    assert parcel["failed"] is True and parcel["failure"]["failure"] == failure
    assert types(doc).count("OrderShipmentFailed") == 1
    assert doc["status"] == "shipped"


async def test_a_resolved_return_is_listed_and_filters_by_the_new_status(
    client: httpx.AsyncClient, world: World
) -> None:
    order_id, _ = await delivered(client, world)
    resolved = example(ReturnResolved)
    await world.tell(resolved, order_id=order_id)
    await world.tell(resolved, order_id=order_id)
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["status"] == "partially_returned"
    [ret] = doc["returns"]
    assert ret["return_id"] == "ret-1" and ret["status"] == "partially_returned"
    assert ret["lines"] == [
        {"sku": "TSHIRT-BLU-M", "quantity": 1},
        {"sku": "MUG-ENAMEL-WHT", "quantity": 1},
    ]
    assert ret["refund_amount"] == {"amount": "32.45", "currency": "EUR"}
    listed = await client.get("/v1/orders", params={"status": "partially_returned"})
    assert [o["order_id"] for o in listed.json()] == [order_id]
    assert (await client.get("/v1/orders", params={"status": "returned"})).json() == []


# -- feedback -------------------------------------------------------------------------------------


async def test_feedback_after_delivery_once(client: httpx.AsyncClient, world: World) -> None:
    early_id = await confirmed(client, world, "WEB-EARLY")
    early = await client.post(f"/v1/orders/{early_id}/feedback", json={"rating": 5})
    assert "confirmed" in assert_problem(early, 409, "feedback_not_allowed")["detail"]

    order_id, _ = await delivered(client, world)
    resp = await client.post(
        f"/v1/orders/{order_id}/feedback",
        json={"rating": 4, "comment": "quick, but the mug box was dented"},
        headers=auth.headers(subject="customer:cus-778"),
    )
    assert resp.status_code == 201, resp.text
    feedback = resp.json()["feedback"]
    assert (feedback["rating"], feedback["actor"]) == (4, "customer:cus-778")
    assert feedback["comment"] == "quick, but the mug box was dented"
    assert types(resp.json())[-1] == "FeedbackReceived"
    twice = await client.post(f"/v1/orders/{order_id}/feedback", json={"rating": 1})
    assert_problem(twice, 409, "feedback_exists")
    doc = (await client.get(f"/v1/orders/{order_id}")).json()
    assert doc["feedback"]["rating"] == 4 and types(doc).count("FeedbackReceived") == 1

    unknown = await client.post("/v1/orders/ord-nope/feedback", json={"rating": 3})
    assert_problem(unknown, 404, "order_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"rating": 4.0}, "rating"),
        ({"rating": True}, "rating"),
        ({}, "rating"),
        ({"rating": 3, "comment": "x" * 2001}, "comment"),
        ({"rating": 3, "comment": "a\x00b"}, "comment"),
        ({"rating": 3, "colour": "red"}, "colour"),
    ],
)
async def test_bad_feedback_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], field: str
) -> None:
    order_id, _ = await delivered(client, world)
    resp = await client.post(f"/v1/orders/{order_id}/feedback", json=body)
    problem = assert_problem(resp, 422, "invalid_request")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert problem["errors"][0]["reason"]
    assert (await client.get(f"/v1/orders/{order_id}")).json()["feedback"] is None
