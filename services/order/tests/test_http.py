"""The HTTP API on the in-memory event store (a host with an injected store, no database)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_events.contracts import OrderSubmitted, ShipmentDispatched
from oms_events.examples import eur, example
from oms_events.limits import MAX_BODY_BYTES
from oms_order.app import create_app
from oms_order.bodies import OrderSubmission
from oms_order.projections.derived import DerivedReadModels
from oms_order.settings import OrderSettings
from oms_platform.auth import Scope
from oms_platform.eventstore.memory import InMemoryEventStore
from oms_platform.service import ServiceHost
from oms_platform.testing import auth
from oms_platform.testing.keys import service_keys

from .conftest import submission
from .test_handlers import deliver

PROBLEM = "application/problem+json"


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = submission(**changes).model_dump(mode="json")
    return data


def fresh(ref: str) -> dict[str, Any]:
    return body(platform_order_ref=ref)


def assert_problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = resp.json()
    assert problem["status"] == status and problem["code"] == code
    assert problem["type"] == f"urn:oms:problem:{code}"
    return problem


async def place(client: httpx.AsyncClient, ref: str = "WEB-1") -> str:
    resp = await client.post("/v1/orders", json=fresh(ref))
    assert resp.status_code == 201, resp.text
    order_id: str = resp.json()["order_id"]
    return order_id


async def test_an_order_is_placed_found_and_cancelled(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/orders", json=body(), headers={"X-Request-Id": "req-1"})
    assert resp.status_code == 201, resp.text
    order_id = resp.json()["order_id"]
    assert resp.headers["location"] == f"/v1/orders/{order_id}"
    assert resp.json()["created"] is True and resp.json()["status"] == "placed"
    assert resp.json()["timeline"][0]["cause"] == "req-1"

    again = await client.post("/v1/orders", json=body())
    assert again.status_code == 200 and again.json()["order_id"] == order_id
    assert again.json()["created"] is False

    found = await client.get("/v1/orders", params={"sales_channel": "webshop-nl"})
    assert [o["order_id"] for o in found.json()] == [order_id]
    cancelled = await client.post(
        f"/v1/orders/{order_id}/cancel",
        json={"reason": "customer_request", "detail": "asked"},
        headers=auth.headers(subject="staff:alice"),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancellation"]["actor"] == "staff:alice"
    assert cancelled.json()["cancellation"]["cancelled_by"] == "staff"


async def test_a_platform_finds_its_own_submission_but_cannot_list_customers(
    client: httpx.AsyncClient,
) -> None:
    shop = auth.headers(Scope.PLATFORM, subject="platform:webshop-nl")
    placed = await client.post("/v1/orders", json=fresh("WEB-OWN"), headers=shop)
    assert placed.status_code == 201, placed.text
    own = await client.get("/v1/orders", params={"platform_order_ref": "WEB-OWN"}, headers=shop)
    assert own.status_code == 200
    assert [o["order_id"] for o in own.json()] == [placed.json()["order_id"]]
    everyone = await client.get("/v1/orders", params={"sales_channel": "webshop-nl"}, headers=shop)
    problem = assert_problem(everyone, 403, "forbidden")
    assert "platform_order_ref" in problem["detail"]
    assert set(problem["required_scopes"]) == {"customer-service", "operations", "auditor"}
    staff = auth.headers(Scope.CUSTOMER_SERVICE, subject="staff:cs")
    listed = await client.get("/v1/orders", params={"sales_channel": "webshop-nl"}, headers=staff)
    assert listed.status_code == 200 and len(listed.json()) == 1


async def test_a_cancel_without_a_body_takes_the_defaults(client: httpx.AsyncClient) -> None:
    order_id = await place(client)
    resp = await client.post(f"/v1/orders/{order_id}/cancel")
    assert resp.status_code == 200, resp.text
    assert resp.json()["cancellation"]["reason"] == "customer_request"
    assert resp.json()["cancellation"]["actor"] == "staff:test"  # the token's subject


async def test_unknown_orders_are_404(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/v1/orders/ord-nope"), 404, "order_not_found")
    assert "ord-nope" in problem["detail"]
    assert_problem(await client.post("/v1/orders/ord-nope/cancel"), 404, "order_not_found")
    order_id = await place(client)
    early = await client.get(f"/v1/orders/{order_id}", params={"as_of": "2000-01-01"})
    assert "did not exist yet" in assert_problem(early, 404, "order_not_found")["detail"]


async def test_cancelling_twice_or_after_shipping_is_409(
    client: httpx.AsyncClient, store: InMemoryEventStore, host: ServiceHost
) -> None:
    order_id = await place(client)
    assert (await client.post(f"/v1/orders/{order_id}/cancel")).status_code == 200
    twice = assert_problem(
        await client.post(f"/v1/orders/{order_id}/cancel"), 409, "cancellation_refused"
    )
    assert "already cancelled" in twice["detail"]

    shipped_id = await place(client, "WEB-2")
    dispatched = example(ShipmentDispatched).model_copy(update={"order_id": shipped_id})
    await deliver(store, host.api.state.order.handlers, dispatched)
    refused = await client.post(
        f"/v1/orders/{shipped_id}/cancel", headers=auth.headers(subject="staff:b")
    )
    assert "shipped" in assert_problem(refused, 409, "cancellation_refused")["detail"]


async def test_bad_fields_are_422_one_error_per_field(client: httpx.AsyncClient) -> None:
    bad = body()
    bad["lines"][0]["quantity"] = 0
    bad["shipping_address"]["country"] = "Netherlands"
    del bad["customer"]
    problem = assert_problem(await client.post("/v1/orders", json=bad), 422, "invalid_request")
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"lines[0].quantity", "shipping_address.country", "customer"}

    cancel = await client.post("/v1/orders/ord-x/cancel", json={"reason": "bored"})
    assert assert_problem(cancel, 422, "invalid_request")["errors"][0]["field"] == "reason"
    anonymous = await client.post("/v1/orders", json=body(), headers={"Authorization": ""})
    field = assert_problem(anonymous, 401, "unauthenticated")["errors"][0]["field"]
    assert field == "header:Authorization"
    key = await client.post("/v1/orders", json=body(), headers={"Idempotency-Key": "a b"})
    field = assert_problem(key, 422, "invalid_request")["errors"][0]["field"]
    assert field == "header:Idempotency-Key"


async def test_queries_are_checked_per_field(client: httpx.AsyncClient) -> None:
    order_id = await place(client)
    as_of = await client.get(f"/v1/orders/{order_id}", params={"as_of": "yesterday"})
    assert assert_problem(as_of, 422, "invalid_request")["errors"][0]["field"] == "query:as_of"
    unknown = await client.get("/v1/orders", params={"colour": "red"})
    assert assert_problem(unknown, 422, "invalid_request")["errors"][0]["field"] == "query:colour"
    huge = await client.get("/v1/orders", params={"limit": str(10**40)})
    assert assert_problem(huge, 422, "invalid_request")["errors"][0]["field"] == "query:limit"
    status = await client.get("/v1/orders", params={"status": "lost"})
    assert assert_problem(status, 422, "invalid_request")["errors"][0]["field"] == "query:status"
    missing = await client.get("/v1/rejections", params={"sales_channel": "webshop-nl"})
    fields = [e["field"] for e in assert_problem(missing, 422, "invalid_request")["errors"]]
    assert fields == ["query:platform_order_ref"]


@pytest.mark.parametrize("order_id", ["x" * 5000, "a%00b", "%E2%80%AE%0A", "ord-%7F"])
async def test_odd_ids_in_paths_are_4xx(client: httpx.AsyncClient, order_id: str) -> None:
    for resp in (
        await client.get(f"/v1/orders/{order_id}"),
        await client.post(f"/v1/orders/{order_id}/cancel"),
    ):
        assert 400 <= resp.status_code < 500, resp.text


async def test_an_empty_order_is_recorded_as_a_rejection(client: httpx.AsyncClient) -> None:
    empty = fresh("WEB-EMPTY")
    empty["lines"] = []
    shop = auth.headers(subject="platform:webshop-nl")
    answer = await client.post("/v1/orders", json=empty, headers=shop)
    problem = assert_problem(answer, 422, "order_rejected")
    assert problem["reasons"] == [{"code": "invalid_order", "detail": "the order has no lines"}]
    assert problem["errors"][0]["field"] == "lines"
    params = {"platform_order_ref": "WEB-EMPTY", "sales_channel": "webshop-nl"}
    [recorded] = (await client.get("/v1/rejections", params=params)).json()
    assert recorded["reasons"][0]["code"] == "invalid_order"
    assert recorded["actor"] == "platform:webshop-nl"


async def test_unknown_skus_are_rejected_per_line(client: httpx.AsyncClient) -> None:
    unknown = fresh("WEB-SKU")
    unknown["lines"][0]["sku"] = "POSTER-A2"
    problem = assert_problem(await client.post("/v1/orders", json=unknown), 422, "order_rejected")
    assert problem["errors"][0] == {
        "field": "lines[0].sku",
        "reason": "line 1: SKU 'POSTER-A2' is not sold (unknown SKU)",
        "code": "unknown_sku",
    }


async def test_a_reused_idempotency_key_names_the_existing_order(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "key-1"}
    first = await client.post("/v1/orders", json=fresh("WEB-K1"), headers=headers)
    reused = await client.post("/v1/orders", json=fresh("WEB-K2"), headers=headers)
    problem = assert_problem(reused, 422, "idempotency_key_reused")
    assert problem["existing_order_id"] == first.json()["order_id"]
    assert problem["errors"][0]["field"] == "header:Idempotency-Key"


def deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def hostile_orders() -> dict[str, tuple[bytes, int]]:
    """What a hostile or broken client may send to ``POST /v1/orders``, with the answer."""
    huge = body()
    huge["lines"][0]["quantity"] = 10**309
    line = body()["lines"][0]
    many = body()
    many["lines"] = [dict(line, line_id=str(i)) for i in range(12_000)]
    compact = body(shipping_charge=eur("0.00"))
    compact["lines"] = [
        {
            "line_id": str(i),
            "sku": "A",
            "quantity": 1,
            "unit_price": {"amount": "0", "currency": "EUR"},
        }
        for i in range(12_000)
    ]
    over_bound = body()
    over_bound["lines"] = [dict(line, line_id=str(i)) for i in range(501)]
    nul = body()
    nul["shipping_address"]["line1"] = "Prinsengracht\x00263"
    return {
        "quantity 10**309": (json.dumps(huge).encode(), 422),
        "12,000 lines": (json.dumps(many).encode(), 413),
        "12,000 lines under 1 MiB": (json.dumps(compact, separators=(",", ":")).encode(), 422),
        "501 lines": (json.dumps(over_bound).encode(), 422),
        "NUL in an address": (json.dumps(nul).encode(), 422),
        "5,000-deep JSON": (deep(5000), 422),
        "not JSON": (b"{nope", 422),
        "a JSON array": (b"[1, 2]", 422),
        "over 1 MiB": (b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}', 413),
    }


def hostile_cancellations() -> dict[str, tuple[bytes, int]]:
    return {
        "a number 10**309": (b'{"reason": ' + str(10**309).encode() + b"}", 422),
        "12,000 lines": (json.dumps({"lines": [{"line_id": "1"}] * 12_000}).encode(), 422),
        "NUL in the detail": (json.dumps({"detail": "a\x00b"}).encode(), 422),
        "5,000-deep JSON": (deep(5000), 422),
        "not JSON": (b"{nope", 422),
        "over 1 MiB": (b'{"detail": "' + b"x" * MAX_BODY_BYTES + b'"}', 413),
    }


@pytest.mark.parametrize("case", sorted(hostile_orders()))
async def test_hostile_orders_are_4xx_and_ordinary_orders_still_go_through(
    client: httpx.AsyncClient, case: str
) -> None:
    content, status = hostile_orders()[case]
    resp = await client.post(
        "/v1/orders", content=content, headers={"content-type": "application/json"}
    )
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith(PROBLEM)
    if status == 413:
        assert resp.json()["code"] == "body_too_large"
    else:
        assert resp.json()["errors"], resp.text[:500]
    if case in ("12,000 lines under 1 MiB", "501 lines"):
        assert resp.json()["errors"][0]["field"] == "lines"
    if case.startswith("NUL"):
        assert resp.json()["errors"][0]["field"] == "shipping_address.line1"
    assert await place(client, "WEB-AFTER")


@pytest.mark.parametrize("case", sorted(hostile_cancellations()))
async def test_hostile_cancellations_are_4xx_and_the_order_can_still_be_cancelled(
    client: httpx.AsyncClient, case: str
) -> None:
    order_id = await place(client)
    content, status = hostile_cancellations()[case]
    resp = await client.post(
        f"/v1/orders/{order_id}/cancel",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(f"/v1/orders/{order_id}")).json()["status"] == "placed"
    assert (await client.post(f"/v1/orders/{order_id}/cancel")).status_code == 200
    assert await place(client, "WEB-AFTER")


async def test_the_api_description_loads(client: httpx.AsyncClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    assert {
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/orders/{order_id}/cancel",
        "/v1/orders/{order_id}/feedback",
    } <= set(paths)
    assert {"404", "409", "413", "422"} <= set(paths["/v1/orders"]["post"]["responses"])


async def test_stalled_orders_are_listed(store: InMemoryEventStore) -> None:
    settings = OrderSettings(
        **service_keys(), database_dsn=SecretStr("postgresql+psycopg://u:p@127.0.0.1:1/none")
    )
    models = DerivedReadModels(store, known_skus=("TSHIRT-BLU-M", "MUG-ENAMEL-WHT"))
    models.stall_after_s = 0.0  # every order still placed is stalled at once
    host = create_app(settings, store=store, read_models=models)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host.api), base_url="http://order", headers=auth.headers()
    ) as client:
        waiting = await place(client, "WEB-W")
        cancelled = await place(client, "WEB-C")
        await client.post(f"/v1/orders/{cancelled}/cancel")
        stalled = await client.get("/v1/orders", params={"stalled": "true"})
        assert [o["order_id"] for o in stalled.json()] == [waiting]
        rest = await client.get("/v1/orders", params={"stalled": "false"})
        assert [o["order_id"] for o in rest.json()] == [cancelled]
        ready = (await client.get("/ready")).json()
    assert ready["stalled_orders"]["stalled"] == 1
    assert ready["stalled_orders"]["oldest"] == [waiting]
    assert not any("stalled" in reason for reason in ready["reasons"])


def test_submission_bodies_may_have_no_lines_but_the_contract_may_not() -> None:
    data = body()
    assert OrderSubmission.model_validate(data).contract() == OrderSubmitted.model_validate(data)
    assert OrderSubmission.model_validate({**data, "lines": []}).lines == ()
