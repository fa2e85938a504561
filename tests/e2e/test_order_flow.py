"""The order, inventory and payments services as processes, through their public interfaces."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from oms_cli.config import StackConfig
from oms_events.codec import encode_envelope
from oms_events.contracts import OrderSubmitted, ShipmentDispatched, SkuQuantity
from oms_events.money import Money
from oms_events.registry import envelope_for
from oms_events.topics import PLATFORM_INGRESS, SHIPPING_EVENTS, dlq
from oms_platform.consumer import header_value
from oms_platform.testing.kafka import read_topic
from tests.e2e.shop import (
    GIFT_CARD_TOKENS,
    METHODS,
    get_order,
    issue_gift_card,
    order_body,
    order_payments,
    place,
    seed_sku,
    seed_warehouses,
    settled,
    stock,
    timeline_types,
)
from tests.e2e.system import SERVICES, System, running_system, wait_until

CATALOGUE = {"E2E-TEE": "19.95", "E2E-MUG": "12.50", "E2E-LAMP": "45.00", "E2E-BAG": "59.00"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The three services and fulfilment, which answers cancellation requests."""
    logs = Path(tmp_path_factory.mktemp("service-logs"))
    with running_system(StackConfig(), logs, services=(*SERVICES, "fulfilment")) as system:
        yield system


@pytest.fixture(scope="module")
async def shop(system: System) -> AsyncIterator[System]:
    await seed_warehouses(system)
    # Enough for every order the tests mean to confirm, spread so that orders split.
    await seed_sku(system, "E2E-TEE", {"AMS": 200, "BER": 100})
    await seed_sku(system, "E2E-MUG", {"AMS": 100, "MAD": 100})
    await seed_sku(system, "E2E-LAMP", {"MAD": 200})
    await seed_sku(system, "E2E-BAG", {"BER": 100, "MAD": 100})
    for i in range(10):
        await issue_gift_card(system, f"GC-E2E-{i}", "100.00")
    yield system


def ingress_envelope(body: dict[str, object]) -> bytes:
    submitted = OrderSubmitted.model_validate(body)
    env = envelope_for(
        submitted,
        stream_id=f"platform-{submitted.sales_channel}-{submitted.platform_order_ref}",
        stream_version=1,
        correlation_id=submitted.platform_order_ref,
        causation_id=None,
        actor=f"platform:{submitted.sales_channel}",
        producer="platform",
    )
    return encode_envelope(env)


async def find_by_ref(system: System, ref: str, channel: str = "webshop-e2e") -> list[dict]:
    async with system.client("order") as order:
        resp = await order.get(
            "/v1/orders", params={"platform_order_ref": ref, "sales_channel": channel}
        )
    assert resp.status_code == 200, resp.text
    found: list[dict] = resp.json()
    return found


async def dispatch(system: System, order: dict, warehouse: str) -> None:
    """What the shipping service will publish: the warehouse's share left with a carrier."""
    lines = [
        SkuQuantity(sku=a["sku"], quantity=a["quantity"])
        for a in order["allocations"]
        if a["warehouse_id"] == warehouse
    ]
    event = ShipmentDispatched(
        shipment_id=f"shp-{uuid.uuid4().hex[:8]}",
        order_id=order["order_id"],
        fulfilment_id=f"ful-{uuid.uuid4().hex[:8]}",
        warehouse_id=warehouse,
        carrier="postnl",
        service="standard",
        tracking_number=f"3S{uuid.uuid4().hex[:12].upper()}",
        weight_grams=900,
        shipping_cost=Money(amount=Decimal("3.85"), currency="EUR"),
        lines=lines,
    )
    env = envelope_for(
        event,
        stream_id=f"shipment-{event.shipment_id}",
        stream_version=1,
        correlation_id=order["order_id"],
        causation_id=None,
        actor="service:shipping",
        producer="shipping",
    )
    await system.publish(SHIPPING_EVENTS, env, key=order["order_id"].encode())


async def test_hundred_orders_over_three_warehouses_and_seven_methods_reconcile(
    shop: System,
) -> None:
    skus = list(CATALOGUE)
    before = {sku: await stock(shop, sku) for sku in skus}
    plans = []
    for n in range(100):
        method = METHODS[n % len(METHODS)]
        country = ["NL", "DE", "ES", "BE", "FR"][n % 5]
        lines = [
            (skus[(n + k) % len(skus)], 1 + (n + k) % 2, CATALOGUE[skus[(n + k) % len(skus)]])
            for k in range(1 + n % 3)
        ]
        decline = n % 10 == 4 and method in {"card", "paypal", "invoice"}
        email = f"shopper{n}+decline@example.com" if decline else None
        gift = (f"GC-E2E-{n % 10}", "15.00") if method == "gift_card" else None
        body = order_body(
            lines, country=country, method="card" if gift else method, email=email, gift_card=gift
        )
        plans.append((body, "cancelled" if decline else "confirmed"))

    async def submit(body: dict) -> str:
        return await place(shop, body, **{"Idempotency-Key": body["platform_order_ref"]})

    order_ids = await asyncio.gather(*(submit(body) for body, _ in plans))
    orders = [await settled(shop, oid) for oid in order_ids]

    unexpected = [
        (o["order_id"], [p["method"] for p in body["payments"]], o.get("cancellation"))
        for o, (body, expect) in zip(orders, plans, strict=True)
        if o["status"] != expect
    ]
    assert unexpected == []
    for order in orders:
        if order["status"] == "cancelled":
            assert order["cancellation"]["reason"] == "payment_declined"

    # Stock: what is reserved now is exactly what confirmed orders asked for, per SKU.
    confirmed = [
        (o, body) for o, (body, _) in zip(orders, plans, strict=True) if o["status"] == "confirmed"
    ]
    wanted = Counter()
    for _, body in confirmed:
        for line in body["lines"]:
            wanted[line["sku"]] += line["quantity"]

    async def reserved_matches() -> bool:
        for sku in skus:
            now = await stock(shop, sku)
            reserved = sum(
                w["reserved"] - before[sku].get(wh, {}).get("reserved", 0) for wh, w in now.items()
            )
            if reserved != wanted[sku]:
                return False
        return True

    await wait_until(reserved_matches, what="reservations to match confirmed orders")
    for sku in skus:
        for warehouse, level in (await stock(shop, sku)).items():
            assert level["available"] == level["on_hand"] - level["reserved"] >= 0, warehouse
            assert level["on_hand"] == before[sku][warehouse]["on_hand"]
    # Every confirmed order's allocations cover its lines exactly.
    for order, body in confirmed:
        allocated = Counter()
        for a in order["allocations"]:
            allocated[a["sku"]] += a["quantity"]
        asked = Counter()
        for line in body["lines"]:
            asked[line["sku"]] += line["quantity"]
        assert allocated == asked

    # Payments: confirmed orders are authorised in full; declined orders leave nothing held.
    for order, (body, expect) in zip(orders, plans, strict=True):
        payments = {p["payment_id"]: p for p in await order_payments(shop, order["order_id"])}
        assert set(payments) == {p["payment_id"] for p in body["payments"]}
        for asked_payment in body["payments"]:
            payment = payments[asked_payment["payment_id"]]
            amount = Decimal(asked_payment["amount"]["amount"])
            if expect == "confirmed":
                assert Decimal(payment["authorized"]["amount"]) == amount, payment
                if asked_payment["method"] in {"ideal", "bank_transfer"}:
                    assert Decimal(payment["captured"]["amount"]) == amount, payment
            else:
                held = (
                    Decimal(payment["authorized"]["amount"])
                    - Decimal(payment["voided"]["amount"])
                    - Decimal(payment["refunded"]["amount"])
                )
                assert held == 0 or payment["status"] == "declined", payment


async def test_fifty_concurrent_orders_for_twenty_units(shop: System) -> None:
    await seed_sku(shop, "E2E-SCARCE", {"AMS": 12, "BER": 8})
    bodies = [order_body([("E2E-SCARCE", 1, "25.00")]) for _ in range(50)]
    order_ids = await asyncio.gather(*(place(shop, body) for body in bodies))
    orders = [await settled(shop, oid) for oid in order_ids]
    statuses = Counter(o["status"] for o in orders)
    assert statuses == {"confirmed": 20, "cancelled": 30}
    for order in orders:
        if order["status"] == "cancelled":
            assert order["cancellation"]["reason"] == "stock_unavailable"
            assert "E2E-SCARCE" in order["cancellation"]["detail"]
    levels = await stock(shop, "E2E-SCARCE")
    assert {wh: (lv["reserved"], lv["available"]) for wh, lv in levels.items()} == {
        "AMS": (12, 0),
        "BER": (8, 0),
    }


async def test_same_order_twice_on_ingress_and_once_over_http_is_one_order(shop: System) -> None:
    body = order_body([("E2E-TEE", 1, CATALOGUE["E2E-TEE"])])
    ref = body["platform_order_ref"]
    value = ingress_envelope(body)
    await shop.publish(PLATFORM_INGRESS, value, key=ref.encode())
    await shop.publish(PLATFORM_INGRESS, ingress_envelope(body), key=ref.encode())
    found = await wait_until(lambda: find_by_ref(shop, ref), what="the ingress order")
    async with shop.client("order") as order:
        resp = await order.post("/v1/orders", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["order_id"] == found[0]["order_id"]
    await asyncio.sleep(2)  # a second order, if any, would have been placed by now
    assert [o["order_id"] for o in await find_by_ref(shop, ref)] == [found[0]["order_id"]]
    await settled(shop, found[0]["order_id"])


async def test_payment_declined_after_stock_reserved_releases_the_stock(shop: System) -> None:
    before = (await stock(shop, "E2E-BAG"))["BER"]["reserved"]
    body = order_body(
        [("E2E-BAG", 2, CATALOGUE["E2E-BAG"])],
        country="DE",
        method="invoice",
        email="late+decline@example.com",
    )
    order = await settled(shop, await place(shop, body))
    assert order["status"] == "cancelled"
    assert order["cancellation"]["reason"] == "payment_declined"

    # Inventory reads OrderPlaced before OrderCancelled (one key, one partition): it always
    # reserves first, then gives the stock back.
    async def released() -> dict | None:
        reservation = await _reservation(shop, order["order_id"])
        return reservation if reservation and reservation["status"] == "released" else None

    reservation = await wait_until(released, what="the reservation to be released")
    assert reservation["allocations"] and reservation["outstanding"] == []
    assert (await stock(shop, "E2E-BAG"))["BER"]["reserved"] == before
    await wait_until(
        lambda: _with_type(shop, order["order_id"], "released"),
        what="the release in the order's timeline",
    )


async def _reservation(system: System, order_id: str) -> dict | None:
    async with system.client("inventory") as inv:
        resp = await inv.get(f"/v1/reservations/{order_id}")
    return resp.json() if resp.status_code == 200 else None


async def _with_type(system: System, order_id: str, summary: str) -> dict | None:
    order = await get_order(system, order_id)
    texts = " | ".join(f"{e['type']} {e.get('summary', '')}" for e in order["timeline"])
    return order if summary in texts else None


async def test_stock_unavailable_after_payment_authorised_voids_the_payment(
    shop: System,
) -> None:
    await seed_sku(shop, "E2E-NONE", {"AMS": 1})
    body = order_body([("E2E-NONE", 5, "30.00")], method="card")
    order = await settled(shop, await place(shop, body))
    assert order["status"] == "cancelled"
    assert order["cancellation"]["reason"] == "stock_unavailable"

    async def nothing_held() -> dict | None:
        [payment] = await order_payments(shop, order["order_id"])
        held = (
            Decimal(payment["authorized"]["amount"])
            - Decimal(payment["voided"]["amount"])
            - Decimal(payment["captured"]["amount"])
        )
        return payment if payment["status"] == "voided" and held == 0 else None

    # The card was authorised at order time (or the cancellation stopped it first): either
    # way it ends voided, and the void shows in the order's timeline.
    payment = await wait_until(nothing_held, what="the payment to be voided")
    assert payment["voided"] == payment["authorized"]
    if Decimal(payment["authorized"]["amount"]) > 0:
        await wait_until(
            lambda: _with_type(shop, order["order_id"], "voided"),
            what="the void in the order's timeline",
        )


async def test_customer_service_cancel_releases_stock_and_voids_and_refunds(
    shop: System,
) -> None:
    before = await stock(shop, "E2E-LAMP")
    balance_before = await gift_card_balance(shop, "GC-E2E-9")
    body = order_body(
        [("E2E-LAMP", 2, CATALOGUE["E2E-LAMP"])],
        country="ES",
        method="ideal",
        gift_card=("GC-E2E-9", "20.00"),
    )
    order = await settled(shop, await place(shop, body))
    assert order["status"] == "confirmed"
    async with shop.client("order", subject="staff:alice") as client:
        resp = await client.post(
            f"/v1/orders/{order['order_id']}/cancel",
            json={"reason": "customer_request", "detail": "phoned"},
        )
    # Confirmed: fulfilment may have started, so the cancellation is a request it answers.
    assert resp.status_code == 202, resp.text
    assert resp.json()["cancellation"]["status"] == "requested"
    await settled(shop, order["order_id"], statuses={"cancelled"})

    async def compensated() -> bool:
        payments = {p["method"]: p for p in await order_payments(shop, order["order_id"])}
        level = (await stock(shop, "E2E-LAMP"))["MAD"]
        return (
            payments["ideal"]["refunded"] == payments["ideal"]["captured"]
            and payments["gift_card"]["status"] in {"voided", "refunded"}
            and level["reserved"] == before["MAD"]["reserved"]
        )

    await wait_until(compensated, what="stock released, iDEAL refunded, gift card credited")
    assert await gift_card_balance(shop, "GC-E2E-9") == balance_before
    order = await get_order(shop, order["order_id"])
    assert order["cancellation"]["actor"] == "staff:alice"
    types = timeline_types(order)
    assert "OrderCancelled" in types and "OrderStockRecorded" in types


async def gift_card_balance(system: System, code: str) -> Decimal:
    card = GIFT_CARD_TOKENS[code]
    async with system.client("payments") as pay:
        resp = await pay.get(f"/v1/gift-cards/{card}")
    assert resp.status_code == 200, resp.text
    return Decimal(resp.json()["balance"]["amount"])


async def test_cancellation_after_shipping_is_refused(shop: System) -> None:
    body = order_body([("E2E-MUG", 1, CATALOGUE["E2E-MUG"])], method="card")
    order = await settled(shop, await place(shop, body))
    assert order["status"] == "confirmed"
    await dispatch(shop, order, order["allocations"][0]["warehouse_id"])
    await settled(shop, order["order_id"], statuses={"shipped"})
    async with shop.client("order", subject="staff:bob") as client:
        resp = await client.post(
            f"/v1/orders/{order['order_id']}/cancel",
            json={"reason": "customer_request"},
        )
    assert resp.status_code == 409
    assert "ship" in resp.text
    assert (await get_order(shop, order["order_id"]))["status"] == "shipped"


async def test_as_of_returns_the_earlier_state(shop: System) -> None:
    body = order_body([("E2E-TEE", 1, CATALOGUE["E2E-TEE"])])
    order_id = await place(shop, body)
    placed_doc = await get_order(shop, order_id)
    first_recorded = placed_doc["timeline"][0]["recorded_at"]
    order = await settled(shop, order_id)
    assert order["status"] == "confirmed"
    then = await get_order(shop, order_id, as_of=first_recorded)
    assert then["status"] == "placed"
    assert len(then["timeline"]) < len(order["timeline"])
    now = await get_order(shop, order_id, as_of=datetime.now(UTC).isoformat())
    assert now["status"] == "confirmed"
    async with shop.client("order") as client:
        assert (
            await client.get(f"/v1/orders/{order_id}", params={"as_of": "yesterday"})
        ).status_code == 422
        early = await client.get(f"/v1/orders/{order_id}", params={"as_of": "2000-01-01T00:00Z"})
        assert early.status_code == 404


async def test_malformed_input_gets_clear_errors_and_loses_nothing(shop: System) -> None:
    bad = order_body([("E2E-TEE", 1, CATALOGUE["E2E-TEE"])])
    bad["lines"][0]["quantity"] = 0
    bad["shipping_address"]["country"] = "Netherlands"
    async with shop.client("order") as client:
        resp = await client.post("/v1/orders", json=bad)
        assert resp.status_code == 422
        fields = " ".join(e["field"] for e in resp.json()["errors"])
        assert "quantity" in fields and "country" in fields
        unknown = order_body([("NO-SUCH-SKU", 1, "5.00")])
        resp = await client.post("/v1/orders", json=unknown)
        assert resp.status_code == 422 and "unknown_sku" in resp.text

    # Over the ingress topic: bad JSON and an invalid order go to the DLQ with reasons,
    # an unknown SKU becomes an OrderRejected, and a good order behind them still flows.
    await shop.publish(PLATFORM_INGRESS, b'{"broken": ', key=b"bad-1")
    invalid = ingress_envelope(order_body([("E2E-TEE", 1, "1.00")]))
    invalid = invalid.replace(b'"quantity":1', b'"quantity":-3')
    await shop.publish(PLATFORM_INGRESS, invalid, key=b"bad-2")
    rejected = order_body([("NO-SUCH-SKU", 1, "5.00")])
    await shop.publish(
        PLATFORM_INGRESS, ingress_envelope(rejected), key=rejected["platform_order_ref"].encode()
    )
    good = order_body([("E2E-TEE", 1, CATALOGUE["E2E-TEE"])])
    await shop.publish(
        PLATFORM_INGRESS, ingress_envelope(good), key=good["platform_order_ref"].encode()
    )

    found = await wait_until(
        lambda: find_by_ref(shop, good["platform_order_ref"]),
        what="the good order behind the bad ones",
    )
    await settled(shop, found[0]["order_id"])
    dead = await read_topic(shop.stack.kafka, shop.topic(dlq(PLATFORM_INGRESS)), expect=2)
    codes = sorted(header_value(r.headers, "dlq.error_code") or "" for r in dead)
    assert codes == ["contract_violation", "malformed_message"]
    assert all(header_value(r.headers, "dlq.reason") for r in dead)

    async def rejection() -> list[dict] | None:
        async with shop.client("order") as client:
            resp = await client.get(
                "/v1/rejections",
                params={
                    "platform_order_ref": rejected["platform_order_ref"],
                    "sales_channel": "webshop-e2e",
                },
            )
        return resp.json() if resp.status_code == 200 and resp.json() else None

    [record] = await wait_until(rejection, what="the OrderRejected record")
    assert "unknown_sku" in str(record)
