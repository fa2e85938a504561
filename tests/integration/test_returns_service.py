"""The returns service against the real stack: an order delivered, returned, refunded.

The service runs in-process (a ``ServiceHost`` on the module's scratch database, under its
own topic prefix). The test publishes ``OrderPlaced`` on the prefixed order events and
``ShipmentDispatched`` + ``ShipmentDelivered`` on the prefixed shipping events, built with
the contract classes; once the consumers have the order's facts the return is accepted
over HTTP, received with one resellable and one damaged unit, and what the relay
published on the prefixed returns events is checked to the cent. A return of more units
than are left is refused with the field at fault.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from oms_events.base import Event
from oms_events.contracts import OrderPlaced
from oms_events.contracts.common import OrderLine, Payment, PaymentMethod, SkuQuantity
from oms_events.contracts.shipping import ShipmentDelivered, ShipmentDispatched
from oms_events.envelope import Envelope
from oms_events.examples import eur, example
from oms_events.money import Money
from oms_events.topics import RETURNS_EVENTS
from oms_platform.settings import RetrySettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import TestTopics, eventually
from oms_platform.testing.keys import service_keys
from oms_returns.app import create_app
from oms_returns.settings import ReturnsSettings

pytestmark = pytest.mark.integration


@dataclass
class Running:
    client: httpx.AsyncClient
    topics: TestTopics

    async def publish(self, event: Event, *, key: str) -> Envelope:
        return await self.topics.publish(event, key=key)

    async def published(self, expect: int) -> list[Envelope]:
        events, _ = await self.topics.published(RETURNS_EVENTS, expect=expect)
        return events


@pytest.fixture
async def returns(clean_db: str, topics: TestTopics) -> AsyncIterator[Running]:
    settings = ReturnsSettings(
        **service_keys(),
        database_dsn=SecretStr(clean_db),
        **topics.kafka.settings(),
        topic_prefix=topics.prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
    )
    host = create_app(settings)
    await host.start()
    transport = httpx.ASGITransport(app=host.api)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://returns", headers=auth.headers()
        ) as client:
            yield Running(client, topics)
    finally:
        await host.stop()


def money(value: dict[str, str]) -> Money:
    return Money.model_validate(value)


async def test_a_delivered_order_is_returned_received_and_refunded_exactly(
    returns: Running,
) -> None:
    order_id = f"ord-{uuid.uuid4().hex[:10]}"
    placed = example(OrderPlaced).model_copy(
        update={
            "order_id": order_id,
            "lines": (
                OrderLine(line_id="1", sku="TSHIRT-BLU-M", quantity=2, unit_price=eur("19.95")),
                OrderLine(line_id="2", sku="MUG-WHT", quantity=1, unit_price=eur("12.50")),
            ),
            "shipping_charge": eur("4.95"),
            "payments": (
                Payment(
                    payment_id=f"{order_id}-gift",
                    method=PaymentMethod.GIFT_CARD,
                    amount=eur("20.00"),
                    gift_card_code="GC-IT-1",
                ),
                Payment(
                    payment_id=f"{order_id}-card", method=PaymentMethod.CARD, amount=eur("37.35")
                ),
            ),
        }
    )
    shipment = f"shp-{order_id}"
    dispatched = example(ShipmentDispatched).model_copy(
        update={
            "order_id": order_id,
            "shipment_id": shipment,
            "warehouse_id": "BER",
            "lines": (
                SkuQuantity(sku="TSHIRT-BLU-M", quantity=2),
                SkuQuantity(sku="MUG-WHT", quantity=1),
            ),
        }
    )
    delivered = example(ShipmentDelivered).model_copy(
        update={
            "order_id": order_id,
            "shipment_id": shipment,
            "delivered_at": datetime.now(UTC) - timedelta(days=2),
        }
    )
    await returns.publish(placed, key=order_id)
    await returns.publish(dispatched, key=order_id)
    await returns.publish(delivered, key=order_id)

    url = f"/v1/orders/{order_id}/returns"
    body = {"lines": [{"sku": "TSHIRT-BLU-M", "quantity": 2}], "reason": "wrong_size"}
    headers = {"Idempotency-Key": f"it-{order_id}"}
    answers: list[httpx.Response] = []

    async def accepted() -> bool:  # until the consumers have the order and its delivery
        resp = await returns.client.post(url, json=body, headers=headers)
        answers.append(resp)
        assert resp.status_code in (201, 404, 409), resp.text
        return resp.status_code == 201

    await eventually(accepted, timeout_s=60, what="the return to be accepted")
    view = answers[-1].json()
    rma = view["rma"]
    assert view["status"] == "authorized" and view["warehouse"] == "BER"
    assert view["authorized"] == [{"sku": "TSHIRT-BLU-M", "quantity": 2}]

    got = await returns.client.post(
        f"/v1/returns/{rma}/received",
        json={
            "lines": [
                {"sku": "TSHIRT-BLU-M", "quantity": 1, "condition": "resellable"},
                {"sku": "TSHIRT-BLU-M", "quantity": 1, "condition": "damaged"},
            ]
        },
    )
    assert got.status_code == 200, got.text
    assert got.json()["recorded"] == ["ReturnReceived", "ReturnResolved"]

    events = await returns.published(expect=4)
    assert [e.type for e in events] == [
        "ReturnRequested",
        "ReturnAuthorized",
        "ReturnReceived",
        "ReturnResolved",
    ]
    assert all(e.correlation_id == order_id for e in events)
    assert all(e.payload["return_id"] == rma for e in events)
    received, resolved = events[2].payload, events[3].payload
    assert received["warehouse_id"] == "BER"
    assert sorted(received["lines"], key=lambda ln: ln["condition"]) == [
        {"sku": "TSHIRT-BLU-M", "quantity": 1, "condition": "damaged"},
        {"sku": "TSHIRT-BLU-M", "quantity": 1, "condition": "resellable"},
    ]
    # 2 x 19.95, no shipping (wrong size is the customer's choice, the mug stays):
    # the card first (37.35), the gift card last (2.55).
    assert money(received["refund_amount"]) == eur("39.90")
    assert money(resolved["refund_amount"]) == eur("39.90")
    assert money(resolved["shipping_refund"]) == eur("0")
    assert [
        (ln["sku"], ln["quantity"], money(ln["amount"])) for ln in resolved["refund_lines"]
    ] == [("TSHIRT-BLU-M", 2, eur("39.90"))]
    assert [(p["payment_id"], money(p["amount"])) for p in resolved["refunds"]] == [
        (f"{order_id}-card", eur("37.35")),
        (f"{order_id}-gift", eur("2.55")),
    ]
    assert money(resolved["unallocated"]) == eur("0")
    assert resolved["order_status"] == "partially_returned"

    # Both T-shirts are back: one more is more than delivered minus returned.
    over = await returns.client.post(
        url,
        json={"lines": [{"sku": "TSHIRT-BLU-M", "quantity": 1}], "reason": "damaged"},
        headers={"Idempotency-Key": f"it2-{order_id}"},
    )
    assert over.status_code == 409, over.text
    problem = over.json()
    assert problem["code"] == "return_exceeds_delivered"
    assert [e["field"] for e in problem["errors"]] == ["lines[0].quantity"]
    listed = (await returns.client.get(f"/v1/orders/{order_id}/returns")).json()
    assert [(r["rma"], r["status"]) for r in listed["returns"]] == [(rma, "resolved")]
