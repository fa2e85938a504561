"""The service on the in-memory store: the returns HTTP API over the consumers' tables.

The host is built by ``create_app`` with an injected ``InMemoryEventStore`` (and so
in-memory tables) and a clock the test moves, so the routes, the problem handlers and the
input limits run as in production, without a database. The order's facts arrive through
the consumers' handlers, as ``OrderPlaced``, ``ShipmentDispatched`` and
``ShipmentDelivered`` would. The order (``conftest``): two T-shirts at 19.95 and a mug at
12.50, shipping 4.95, paid 20.00 by gift card and 37.35 by card, delivered 1 March 2026.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_events.contracts import OrderPlaced
from oms_events.contracts.common import OrderLine, Payment, PaymentMethod, SkuQuantity
from oms_events.contracts.shipping import ShipmentDelivered, ShipmentDispatched
from oms_events.examples import GIFT_CARD_TOKEN, example
from oms_events.money import Money
from oms_platform.commands import run_command
from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys
from oms_returns.api.context import ApiContext
from oms_returns.app import create_app
from oms_returns.settings import ReturnsSettings

from .conftest import DAY, DELIVERED_AT, eur

PROBLEM = "application/problem+json"
RMA = re.compile(r"^RMA-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def placed(order_id: str) -> OrderPlaced:
    return example(OrderPlaced).model_copy(
        update={
            "order_id": order_id,
            "lines": (
                OrderLine(line_id="1", sku="TEE", quantity=2, unit_price=eur("19.95")),
                OrderLine(line_id="2", sku="MUG", quantity=1, unit_price=eur("12.50")),
            ),
            "shipping_charge": eur("4.95"),
            "payments": (
                Payment(
                    payment_id=f"{order_id}-gift",
                    method=PaymentMethod.GIFT_CARD,
                    amount=eur("20.00"),
                    gift_card=GIFT_CARD_TOKEN,
                ),
                Payment(
                    payment_id=f"{order_id}-card", method=PaymentMethod.CARD, amount=eur("37.35")
                ),
            ),
        }
    )


def dispatched(order_id: str, shipment: str, lines: dict[str, int]) -> ShipmentDispatched:
    return example(ShipmentDispatched).model_copy(
        update={
            "order_id": order_id,
            "shipment_id": shipment,
            "warehouse_id": "AMS",
            "lines": tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines.items()),
        }
    )


def delivered(order_id: str, shipment: str, at: datetime) -> ShipmentDelivered:
    return example(ShipmentDelivered).model_copy(
        update={"order_id": order_id, "shipment_id": shipment, "delivered_at": at}
    )


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Service:
    client: httpx.AsyncClient
    ctx: ApiContext
    store: InMemoryEventStore
    clock: Clock

    async def order(self, order_id: str = "ord-1", *, deliver: bool = True) -> None:
        r = self.ctx.returns
        await run_command(self.store, lambda uow: r.remember_order(uow, placed(order_id)))
        sent = dispatched(order_id, f"shp-{order_id}", {"TEE": 2, "MUG": 1})
        await run_command(self.store, lambda uow: r.record_dispatch(uow, sent))
        if deliver:
            got = delivered(order_id, f"shp-{order_id}", DELIVERED_AT)
            await run_command(self.store, lambda uow: r.record_delivery(uow, got))

    async def ask(
        self,
        lines: list[dict[str, Any]],
        *,
        order_id: str = "ord-1",
        reason: str = "no_longer_needed",
        key: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        body = {"lines": lines, "reason": reason, **extra}
        return await self.client.post(f"/v1/orders/{order_id}/returns", json=body, headers=headers)

    async def receive(self, rma: str, lines: list[dict[str, Any]]) -> httpx.Response:
        return await self.client.post(f"/v1/returns/{rma}/received", json={"lines": lines})

    async def types(self) -> list[str]:
        return [r.envelope.type for r in await self.store.read_all(limit=10_000)]


@contextlib.asynccontextmanager
async def running(**changes: Any) -> AsyncIterator[Service]:
    dsn = SecretStr("postgresql://unused@127.0.0.1:1/none")
    settings = ReturnsSettings(**service_keys(), database_dsn=dsn, **changes)
    store = InMemoryEventStore(TEST_CHAIN_KEY)
    clock = Clock(DELIVERED_AT + 2 * DAY)
    host = create_app(settings, store=store, clock=clock)
    ctx = host.api.state.returns
    assert isinstance(ctx, ApiContext)
    # Unexpected exceptions become 500 answers here, so a test sees the status it got.
    transport = httpx.ASGITransport(app=host.api, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://returns", headers=auth.headers()
    ) as c:
        yield Service(c, ctx, store, clock)


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    async with running() as s:
        yield s


def money(value: dict[str, str]) -> Money:
    return Money.model_validate(value)


def refused(resp: httpx.Response, status: int, code: str, field: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["code"] == code and body["status"] == status
    assert field in [e["field"] for e in body["errors"]], body


# -- a partial return ------------------------------------------------------------------------


async def test_a_partial_return_is_authorised_then_refunds_exactly_its_unit(
    service: Service,
) -> None:
    await service.order()
    resp = await service.ask([{"sku": "TEE", "quantity": 1}], comment="too big", key="k-1")
    assert resp.status_code == 201, resp.text
    view = resp.json()
    rma = view["rma"]
    assert RMA.match(rma)
    assert view["status"] == "authorized" and view["order_id"] == "ord-1"
    assert view["warehouse"] == "AMS"
    assert view["lines"] == [
        {"sku": "TEE", "quantity": 1, "reason": "no_longer_needed", "comment": "too big"}
    ]
    assert view["authorized"] == [{"sku": "TEE", "quantity": 1}]
    expected_expiry = service.clock.now + 30 * DAY
    assert datetime.fromisoformat(view["expires_at"]) == expected_expiry
    assert await service.types() == ["ReturnRequested", "ReturnAuthorized"]

    got = await service.receive(rma, [{"sku": "TEE", "quantity": 1, "condition": "resellable"}])
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["recorded"] == ["ReturnReceived", "ReturnResolved"]
    assert body["status"] == "resolved"
    assert body["received"] == [{"sku": "TEE", "quantity": 1, "condition": "resellable"}]
    res = body["resolution"]
    assert money(res["refund_amount"]) == eur("19.95")
    assert money(res["shipping_refund"]) == eur("0")  # customer's choice, not the whole order
    # Gift cards last: the card takes it all.
    assert [(p["payment_id"], money(p["amount"])) for p in res["refunds"]] == [
        ("ord-1-card", eur("19.95"))
    ]
    assert res["order_status"] == "partially_returned"
    assert money(res["unallocated"]) == eur("0")

    listed = (await service.client.get("/v1/orders/ord-1/returns")).json()
    assert [r["rma"] for r in listed["returns"]] == [rma]
    assert (await service.client.get(f"/v1/returns/{rma}")).json()["status"] == "resolved"


async def test_receipt_by_condition_refunds_what_arrived_and_shipping_for_a_shop_fault(
    service: Service,
) -> None:
    await service.order()
    resp = await service.ask(
        [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}], reason="damaged"
    )
    assert resp.status_code == 201, resp.text
    rma = resp.json()["rma"]
    got = await service.receive(
        rma,
        [
            {"sku": "TEE", "quantity": 1, "condition": "resellable"},
            {"sku": "TEE", "quantity": 1, "condition": "damaged"},
            {"sku": "MUG", "quantity": 1, "condition": "missing"},
        ],
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert sorted(body["received"], key=lambda ln: ln["condition"]) == [
        {"sku": "TEE", "quantity": 1, "condition": "damaged"},
        {"sku": "TEE", "quantity": 1, "condition": "resellable"},
    ]
    assert body["missing"] == [{"sku": "MUG", "quantity": 1}]
    res = body["resolution"]
    # 2 x 19.95 for the T-shirts (the mug never came) + 4.95 shipping (damaged: shop fault).
    assert money(res["shipping_refund"]) == eur("4.95")
    assert money(res["refund_amount"]) == eur("44.85")
    assert [(p["method"], money(p["amount"])) for p in res["refunds"]] == [
        ("card", eur("37.35")),
        ("gift_card", eur("7.50")),
    ]
    assert res["order_status"] == "partially_returned"
    received = [
        r.envelope
        for r in await service.store.read_all(limit=100)
        if r.envelope.type == "ReturnReceived"
    ]
    assert len(received) == 1 and money(received[0].payload["refund_amount"]) == eur("44.85")
    assert received[0].correlation_id == "ord-1"


async def test_a_second_return_is_decided_against_the_first(service: Service) -> None:
    await service.order()
    first = await service.ask([{"sku": "TEE", "quantity": 1}], key="a")
    assert first.status_code == 201
    over = await service.ask([{"sku": "TEE", "quantity": 2}], key="b")
    refused(over, 409, "return_exceeds_delivered", "lines[0].quantity")
    await service.receive(
        first.json()["rma"], [{"sku": "TEE", "quantity": 1, "condition": "resellable"}]
    )
    rest = await service.ask(
        [{"sku": "TEE", "quantity": 1}, {"sku": "MUG", "quantity": 1}], key="c"
    )
    assert rest.status_code == 201, rest.text
    got = await service.receive(
        rest.json()["rma"],
        [
            {"sku": "TEE", "quantity": 1, "condition": "resellable"},
            {"sku": "MUG", "quantity": 1, "condition": "resellable"},
        ],
    )
    res = got.json()["resolution"]
    # The whole order is back: 19.95 + 12.50 + the shipping, which no return refunded yet;
    # the card has 37.35 - 19.95 = 17.40 left, the gift card takes the rest.
    assert money(res["refund_amount"]) == eur("37.40")
    assert [(p["method"], money(p["amount"])) for p in res["refunds"]] == [
        ("card", eur("17.40")),
        ("gift_card", eur("20.00")),
    ]
    assert res["order_status"] == "returned"


# -- refusals ----------------------------------------------------------------------------------


async def test_refusals_name_the_code_and_the_field(service: Service) -> None:
    await service.order()
    refused(
        await service.ask([{"sku": "TEE", "quantity": 3}]),
        409,
        "return_exceeds_delivered",
        "lines[0].quantity",
    )
    refused(
        await service.ask([{"sku": "MUG", "quantity": 1}, {"sku": "SOCK", "quantity": 1}]),
        422,
        "sku_not_delivered",
        "lines[1].sku",
    )
    refused(
        await service.ask([{"sku": "TEE", "quantity": 1}], order_id="ord-x"),
        404,
        "order_not_found",
        "order_id",
    )
    await service.order("ord-2", deliver=False)
    refused(
        await service.ask([{"sku": "TEE", "quantity": 1}], order_id="ord-2"),
        409,
        "order_not_delivered",
        "order_id",
    )
    service.clock.now = DELIVERED_AT + 30 * DAY  # the last moment of the window: still in
    assert (await service.ask([{"sku": "MUG", "quantity": 1}], key="in")).status_code == 201
    service.clock.now = DELIVERED_AT + 30 * DAY + DAY
    refused(
        await service.ask([{"sku": "TEE", "quantity": 1}]), 409, "return_window_closed", "lines[0]"
    )
    assert await service.types() == ["ReturnRequested", "ReturnAuthorized"]


async def test_bad_input_is_a_problem_per_field_never_a_5xx(service: Service) -> None:
    await service.order()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"lines": [{"sku": "TEE", "quantity": 1}], "reason": "bored"}, "reason"),
        ({"lines": [{"sku": "TEE", "quantity": 0}], "reason": "other"}, "lines[0].quantity"),
        ({"lines": [{"sku": "TEE", "quantity": "1"}], "reason": "other"}, "lines[0].quantity"),
        ({"lines": [], "reason": "other"}, "lines"),
        ({"lines": [{"sku": "TEE", "quantity": 1}]}, "reason"),
        ({"lines": [{"sku": "T\nEE", "quantity": 1}], "reason": "other"}, "lines[0].sku"),
        ({"lines": [{"sku": "TEE", "quantity": 1}], "reason": "other", "x": 1}, "x"),
        ({"lines": [{"sku": "TEE", "quantity": 1}] * 501, "reason": "other"}, "lines"),
        (
            {"lines": [{"sku": "TEE", "quantity": 1}], "reason": "other", "comment": "c" * 5000},
            "comment",
        ),
    ]
    for body, field in cases:
        resp = await service.client.post("/v1/orders/ord-1/returns", json=body)
        refused(resp, 422, "invalid_request", field)
    resp = await service.client.post(
        "/v1/orders/ord-1/returns",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 422 and resp.headers["content-type"].startswith(PROBLEM)
    resp = await service.client.post("/v1/orders/ord-1/returns", content=b"x" * (2 << 20))
    assert resp.status_code == 413 and resp.json()["code"] == "body_too_large"
    bad_key = await service.ask([{"sku": "TEE", "quantity": 1}], key="k" * 101)
    refused(bad_key, 422, "invalid_request", "header:Idempotency-Key")
    refused(await service.client.get("/v1/returns/not-an-rma"), 422, "invalid_request", "path:rma")
    refused(await service.client.get("/v1/returns/RMA-0000-0000"), 404, "return_not_found", "rma")
    refused(await service.receive("RMA-0000-0000", []), 404, "return_not_found", "rma")
    rma = (await service.ask([{"sku": "TEE", "quantity": 1}])).json()["rma"]
    for lines, status, code, field in [
        (
            [{"sku": "TEE", "quantity": 1, "condition": "lost"}],
            422,
            "invalid_request",
            "lines[0].condition",
        ),
        (
            [{"sku": "MUG", "quantity": 1, "condition": "resellable"}],
            422,
            "sku_not_in_return",
            "lines[0].sku",
        ),
        (
            [{"sku": "TEE", "quantity": 2, "condition": "damaged"}],
            409,
            "receipt_exceeds_authorized",
            "lines[0].quantity",
        ),
    ]:
        refused(await service.receive(rma, lines), status, code, field)
    assert await service.types() == ["ReturnRequested", "ReturnAuthorized"]
    assert (await service.client.get("/v1/orders/ord-none/returns")).json()["returns"] == []


# -- idempotency -------------------------------------------------------------------------------


async def test_retries_answer_the_same_and_record_nothing_new(service: Service) -> None:
    await service.order()
    line = [{"sku": "TEE", "quantity": 2}]
    first = await service.ask(line, key="retry-1")
    again = await service.ask(line, key="retry-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["rma"] == again.json()["rma"]
    assert first.json()["authorized"] == again.json()["authorized"]
    assert await service.types() == ["ReturnRequested", "ReturnAuthorized"]
    # The same key for other lines names the same return: refused, not merged.
    other = await service.ask([{"sku": "MUG", "quantity": 1}], key="retry-1")
    refused(other, 409, "return_exists", "request_id")
    # The same key on another order is another return.
    await service.order("ord-2")
    elsewhere = await service.ask(line, order_id="ord-2", key="retry-1")
    assert elsewhere.status_code == 201 and elsewhere.json()["rma"] != first.json()["rma"]

    rma = first.json()["rma"]
    receipt = [{"sku": "TEE", "quantity": 2, "condition": "resellable"}]
    got = await service.receive(rma, receipt)
    repeat = await service.receive(rma, receipt)
    assert got.json()["recorded"] == ["ReturnReceived", "ReturnResolved"]
    assert repeat.status_code == 200 and repeat.json()["recorded"] == []
    assert repeat.json()["resolution"] == got.json()["resolution"]
    different = await service.receive(rma, [{"sku": "TEE", "quantity": 2, "condition": "damaged"}])
    refused(different, 409, "return_already_received", "lines")
    assert (await service.types()).count("ReturnResolved") == 1


# -- expiry ------------------------------------------------------------------------------------


async def test_an_authorisation_never_received_expires_by_the_sweep(service: Service) -> None:
    await service.order()
    resp = await service.ask([{"sku": "TEE", "quantity": 2}])
    rma = resp.json()["rma"]
    expires_at = datetime.fromisoformat(resp.json()["expires_at"])
    service.clock.now = expires_at - DAY
    assert await service.ctx.expiry.sweep() == []
    service.clock.now = expires_at
    assert await service.ctx.expiry.sweep() == [rma]
    assert await service.ctx.expiry.sweep() == []  # closed: not swept again
    view = (await service.client.get(f"/v1/returns/{rma}")).json()
    assert view["status"] == "expired"
    assert datetime.fromisoformat(view["expired_at"]) == expires_at
    late = await service.receive(rma, [{"sku": "TEE", "quantity": 2, "condition": "resellable"}])
    refused(late, 409, "return_expired", "rma")
    assert (await service.types())[-1] == "ReturnExpired"


async def test_a_received_return_is_never_expired(service: Service) -> None:
    await service.order()
    rma = (await service.ask([{"sku": "TEE", "quantity": 1}])).json()["rma"]
    await service.receive(rma, [{"sku": "TEE", "quantity": 1, "condition": "resellable"}])
    service.clock.now += 365 * DAY
    assert await service.ctx.expiry.sweep() == []
    assert "ReturnExpired" not in await service.types()


async def test_an_expired_return_frees_its_units() -> None:
    async with running(authorisation_valid_days=5) as short:
        await short.order()
        first = (await short.ask([{"sku": "TEE", "quantity": 2}], key="1")).json()
        refused(
            await short.ask([{"sku": "TEE", "quantity": 1}], key="2"),
            409,
            "return_exceeds_delivered",
            "lines[0].quantity",
        )
        short.clock.now += 5 * DAY
        assert await short.ctx.expiry.sweep() == [first["rma"]]
        again = await short.ask([{"sku": "TEE", "quantity": 2}], key="3")
        assert again.status_code == 201, again.text
        assert again.json()["rma"] != first["rma"]


async def test_delivery_may_arrive_before_dispatch_and_redeliveries_change_nothing(
    service: Service,
) -> None:
    r = service.ctx.returns
    order = placed("ord-9")
    got = delivered("ord-9", "shp-a", DELIVERED_AT)
    sent = dispatched("ord-9", "shp-a", {"TEE": 1})
    for step in (
        lambda uow: r.remember_order(uow, order),
        lambda uow: r.record_delivery(uow, got),
        lambda uow: r.record_dispatch(uow, sent),
        lambda uow: r.record_dispatch(uow, sent),
        lambda uow: r.remember_order(uow, order),
    ):
        await run_command(service.store, step)
    ok = await service.ask([{"sku": "TEE", "quantity": 1}], order_id="ord-9")
    assert ok.status_code == 201, ok.text
    # One TEE delivered (the second shipment line never came): the mug was not delivered.
    refused(
        await service.ask([{"sku": "MUG", "quantity": 1}], order_id="ord-9"),
        422,
        "sku_not_delivered",
        "lines[0].sku",
    )
