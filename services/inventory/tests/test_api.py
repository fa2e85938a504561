"""The HTTP API on the in-memory store: answers, refusals as problems, hostile input.

The service host is built by ``create_app`` with an injected ``InMemoryEventStore``, so
the routes, the problem handlers and the input limits run exactly as in production,
without a database (the read-model routes, ``GET /v1/stock`` and readiness, need one and
are covered by the integration tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_events.limits import (
    MAX_BODY_BYTES,
    MAX_LINES,
    MAX_PROMOTION_SKUS,
    MAX_QUANTITY,
    MAX_STOCK_LEVEL,
)
from oms_inventory.app import create_app
from oms_inventory.settings import InventorySettings
from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

PROBLEM = "application/problem+json"
AMS = {"code": "AMS", "name": "Amsterdam DC", "country": "NL", "priority": 1}
BER = {"code": "BER", "name": "Berlin DC", "country": "DE", "priority": 2}
TEE = {"sku": "TEE", "name": "Tee", "weight_grams": 180}
TEE |= {"length_mm": 300, "width_mm": 250, "height_mm": 20}
PROMOTION = {
    "name": "Spring sale",
    "skus": ["TEE"],
    "starts_at": "2026-04-01T00:00:00Z",
    "ends_at": "2026-04-08T00:00:00Z",
    "expected_uplift": "2.5",
}

# Every write endpoint with a valid body (on the seeded state below).
WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/warehouses", AMS),
    ("PUT", "/v1/warehouses/AMS", {k: v for k, v in AMS.items() if k != "code"}),
    ("POST", "/v1/skus", TEE),
    ("PUT", "/v1/skus/TEE", {k: v for k, v in TEE.items() if k != "sku"}),
    ("POST", "/v1/stock/receipts", {"sku": "TEE", "warehouse": "AMS", "quantity": 5}),
    (
        "POST",
        "/v1/stock/adjustments",
        {"sku": "TEE", "warehouse": "AMS", "counted_quantity": 5, "reason": "count"},
    ),
    (
        "POST",
        "/v1/stock/transfers",
        {"sku": "TEE", "from_warehouse": "AMS", "to_warehouse": "BER", "quantity": 1},
    ),
    ("PUT", "/v1/stock/TEE/AMS/threshold", {"low_stock_threshold": 2}),
    ("POST", "/v1/promotions", PROMOTION),
    (
        "POST",
        "/v1/allocations/preview",
        {"lines": [{"line_id": "1", "sku": "TEE", "quantity": 1}], "country": "NL"},
    ),
]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITES]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = InventorySettings(
        **service_keys(), database_dsn=SecretStr("postgresql://unused@127.0.0.1:1/none")
    )
    host = create_app(settings, store=InMemoryEventStore(TEST_CHAIN_KEY))
    # Unexpected exceptions become 500 answers here, so a test sees the status it got.
    transport = httpx.ASGITransport(app=host.api, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://inventory", headers=auth.headers()
    ) as c:
        for body in (AMS, BER):
            assert (await c.post("/v1/warehouses", json=body)).status_code == 201
        assert (await c.post("/v1/skus", json=TEE)).status_code == 201
        receipt = {"sku": "TEE", "warehouse": "AMS", "quantity": 10}
        assert (await c.post("/v1/stock/receipts", json=receipt)).status_code == 201
        yield c


def problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == f"urn:oms:problem:{code}" and body["detail"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


# -- answers ---------------------------------------------------------------------------------


async def test_stock_moves_and_is_read_back(client: httpx.AsyncClient) -> None:
    receipt = {"sku": "TEE", "warehouse": "AMS", "quantity": 5, "reference": "PO-1"}
    booked = await client.post("/v1/stock/receipts", json=receipt)
    assert booked.status_code == 201 and booked.json()["on_hand"] == 15
    assert booked.json()["recorded"] == ["StockReceived"]
    again = await client.post("/v1/stock/receipts", json=receipt)
    assert again.status_code == 200 and again.json()["recorded"] == []
    moved = await client.post("/v1/stock/transfers", json=WRITES[6][2])
    assert moved.status_code == 201
    assert [w["on_hand"] for w in moved.json()["warehouses"]] == [14, 1]
    stock = (await client.get("/v1/stock/TEE")).json()
    assert stock["totals"] == {"on_hand": 15, "reserved": 0, "available": 15}
    assert (await client.get("/v1/skus/TEE")).json()["height_mm"] == 20
    assert [w["code"] for w in (await client.get("/v1/warehouses")).json()] == ["AMS", "BER"]


async def test_a_warehouse_is_changed_with_put(client: httpx.AsyncClient) -> None:
    change = {k: v for k, v in BER.items() if k != "code"} | {"active": False}
    closed = await client.put("/v1/warehouses/BER", json=change)
    assert closed.status_code == 200 and closed.json()["recorded"] == ["WarehouseRegistered"]
    assert (await client.get("/v1/warehouses/BER")).json()["active"] is False


async def test_a_threshold_above_the_stock_alerts_at_once(client: httpx.AsyncClient) -> None:
    resp = await client.put("/v1/stock/TEE/AMS/threshold", json={"low_stock_threshold": 20})
    assert resp.status_code == 200 and resp.json()["low"] is True
    assert resp.json()["recorded"] == ["LowStockThresholdSet", "LowStockDetected"]


async def test_preview_and_promotion(client: httpx.AsyncClient) -> None:
    preview = (await client.post("/v1/allocations/preview", json=WRITES[-1][2])).json()
    assert preview["feasible"] and preview["allocations"][0]["warehouse"] == "AMS"
    created = await client.post("/v1/promotions", json=PROMOTION | {"promotion_id": "spring"})
    assert created.status_code == 201 and created.json()["promotion_id"] == "spring"
    assert (await client.get("/v1/promotions/spring")).json()["expected_uplift"] == "2.5"


# -- refusals --------------------------------------------------------------------------------


async def test_unknown_things_are_404_problems(client: httpx.AsyncClient) -> None:
    problem(await client.get("/v1/stock/NOPE"), 404, "sku_not_found")
    problem(await client.get("/v1/skus/NOPE"), 404, "sku_not_found")
    problem(await client.get("/v1/warehouses/OSL"), 404, "warehouse_not_found")
    problem(await client.get("/v1/reservations/ord-1"), 404, "reservation_not_found")
    problem(await client.get("/v1/promotions/nope"), 404, "promotion_not_found")
    change = {k: v for k, v in AMS.items() if k != "code"}
    assert fields(
        problem(await client.put("/v1/warehouses/OSL", json=change), 404, "warehouse_not_found")
    ) == {"code"}
    body = problem(
        await client.post(
            "/v1/stock/receipts", json={"sku": "TEE", "warehouse": "OSL", "quantity": 1}
        ),
        404,
        "warehouse_not_found",
    )
    assert fields(body) == {"warehouse"}
    unknown_sku = await client.post("/v1/promotions", json=PROMOTION | {"skus": ["NOPE"]})
    assert fields(problem(unknown_sku, 404, "sku_not_found")) == {"skus"}
    problem(await client.get("/v1/nothing-here"), 404, "not_found")


async def test_conflicts_are_409_problems(client: httpx.AsyncClient) -> None:
    other = await client.post("/v1/warehouses", json=AMS | {"priority": 9})
    assert "already registered" in problem(other, 409, "warehouse_exists")["detail"]
    problem(await client.post("/v1/skus", json=TEE | {"weight_grams": 1}), 409, "sku_exists")
    too_many = await client.post("/v1/stock/transfers", json=WRITES[6][2] | {"quantity": 11})
    assert "only 10 units" in problem(too_many, 409, "insufficient_stock")["detail"]
    full = {"sku": "TEE", "warehouse": "AMS", "quantity": MAX_STOCK_LEVEL}
    problem(await client.post("/v1/stock/receipts", json=full), 409, "stock_level_exceeded")


async def test_invalid_fields_are_listed_one_by_one(client: httpx.AsyncClient) -> None:
    bad = await client.post(
        "/v1/stock/receipts", json={"sku": "TEE", "warehouse": "AMS", "quantity": 0, "x": 1}
    )
    body = problem(bad, 422, "invalid_request")
    assert fields(body) == {"quantity", "x"}
    assert all(e["reason"] and e["code"] for e in body["errors"])
    same = await client.post("/v1/stock/transfers", json=WRITES[6][2] | {"to_warehouse": "AMS"})
    assert fields(problem(same, 422, "same_warehouse")) == {"to_warehouse"}
    window = await client.post(
        "/v1/promotions", json=PROMOTION | {"ends_at": PROMOTION["starts_at"]}
    )
    assert fields(problem(window, 422, "invalid_promotion_window")) == {"ends_at"}
    split = await client.post("/v1/allocations/preview", json=WRITES[-1][2] | {"strategy": "split"})
    assert fields(problem(split, 422, "invalid_request")) == {"strategy"}
    anonymous = await client.post("/v1/warehouses", json=AMS, headers={"Authorization": ""})
    assert fields(problem(anonymous, 401, "unauthenticated")) == {"header:Authorization"}


# -- bounds ---------------------------------------------------------------------------------------

OUT_OF_BOUNDS: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/warehouses", AMS | {"priority": 10**12}, "priority"),
    ("/v1/warehouses", AMS | {"priority": -1}, "priority"),
    ("/v1/warehouses", AMS | {"code": "A" * 65}, "code"),
    ("/v1/skus", TEE | {"weight_grams": 10**12}, "weight_grams"),
    ("/v1/skus", TEE | {"height_mm": 10**6}, "height_mm"),
    ("/v1/skus", TEE | {"sku": "S" * 65}, "sku"),
    ("/v1/stock/receipts", {**WRITES[4][2], "quantity": MAX_STOCK_LEVEL + 1}, "quantity"),
    ("/v1/stock/receipts", {**WRITES[4][2], "quantity": 10**309}, "quantity"),
    ("/v1/stock/receipts", {**WRITES[4][2], "quantity": 1.5}, "quantity"),
    ("/v1/stock/receipts", {**WRITES[4][2], "reference": "R" * 101}, "reference"),
    ("/v1/stock/adjustments", {**WRITES[5][2], "counted_quantity": -1}, "counted_quantity"),
    (
        "/v1/stock/adjustments",
        {**WRITES[5][2], "counted_quantity": MAX_STOCK_LEVEL + 1},
        "counted_quantity",
    ),
    ("/v1/stock/adjustments", {**WRITES[5][2], "reason": "r" * 2001}, "reason"),
    ("/v1/stock/transfers", {**WRITES[6][2], "quantity": -5}, "quantity"),
    ("/v1/stock/transfers", {**WRITES[6][2], "quantity": 2**63}, "quantity"),
    ("/v1/promotions", PROMOTION | {"expected_uplift": "1e999999"}, "expected_uplift"),
    ("/v1/promotions", PROMOTION | {"expected_uplift": "0.000000001"}, "expected_uplift"),
    ("/v1/promotions", PROMOTION | {"skus": ["TEE"] * (MAX_PROMOTION_SKUS + 1)}, "skus"),
    (
        "/v1/allocations/preview",
        {"lines": [{"line_id": "1", "sku": "TEE", "quantity": MAX_QUANTITY + 1}], "country": "NL"},
        "lines[0].quantity",
    ),
    (
        "/v1/allocations/preview",
        {
            "lines": [{"line_id": "1", "sku": "TEE", "quantity": 1}] * (MAX_LINES + 1),
            "country": "NL",
        },
        "lines",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), OUT_OF_BOUNDS)
async def test_values_beyond_their_bounds_are_refused(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    resp = await client.post(path, json=body)
    assert field in fields(problem(resp, 422, "invalid_request"))


async def test_a_threshold_beyond_its_bound_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.put(
        "/v1/stock/TEE/AMS/threshold", json={"low_stock_threshold": MAX_STOCK_LEVEL + 1}
    )
    assert fields(problem(resp, 422, "invalid_request")) == {"low_stock_threshold"}


# -- hostile input on every write endpoint ------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_every_write_endpoint_answers_its_valid_body(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]
) -> None:
    resp = await client.request(method, path, json=body)
    assert resp.status_code in (200, 201), resp.text


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_every_write_endpoint_refuses_a_nul_character(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]
) -> None:
    texts = [k for k, v in body.items() if isinstance(v, str) and not k.endswith("_at")]
    if not texts:  # the threshold's only text is in its path
        resp = await client.request(method, path.replace("AMS", "A%00"), json=body)
        assert fields(problem(resp, 422, "invalid_request")) == {"path:warehouse"}
        return
    resp = await client.request(method, path, json=body | {texts[0]: "A\x00B"})
    assert texts[0] in fields(problem(resp, 422, "invalid_request"))


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_every_write_endpoint_refuses_deep_json(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]
) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    headers = {"content-type": "application/json"}
    resp = await client.request(method, path, content=deep, headers=headers)
    assert fields(problem(resp, 422, "invalid_request")) == {"body"}
    nested = b'{"a":' * 5000 + b"1" + b"}" * 5000
    resp = await client.request(method, path, content=nested, headers=headers)
    problem(resp, 422, "invalid_request")


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_every_write_endpoint_refuses_what_is_not_json(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]
) -> None:
    for content, kind in (
        (b"not json", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"sku=TEE&quantity=1", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b"[1, 2]", "application/json"),
    ):
        resp = await client.request(method, path, content=content, headers={"content-type": kind})
        assert resp.status_code == 422, (content, resp.text)
        assert resp.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_every_write_endpoint_refuses_a_body_over_one_mebibyte(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]
) -> None:
    big = {**body, "padding": "x" * MAX_BODY_BYTES}
    resp = await client.request(method, path, json=big)
    assert fields(problem(resp, 413, "body_too_large")) == {"body"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/stock/" + "S" * 5000,
        "/v1/stock/%00",
        "/v1/stock/%C2%85",
        "/v1/skus/" + "S" * 65,
        "/v1/warehouses/%00",
        "/v1/warehouses/" + "W" * 5000,
        "/v1/reservations/" + "o" * 101,
        "/v1/reservations/%1b%5b2J",
        "/v1/promotions/%00",
        "/v1/promotions/p/readiness?as_of=yesterday",
        "/v1/promotions/p/readiness?as_of=0001-01-02T00:00:00Z",
        "/v1/stock?low=maybe",
    ],
)
async def test_no_path_or_query_a_client_can_send_is_a_server_error(
    client: httpx.AsyncClient, path: str
) -> None:
    resp = await client.get(path)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)


# -- the API description ----------------------------------------------------------------------


async def test_the_api_description_loads_and_lists_every_route(client: httpx.AsyncClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200, resp.text
    paths = resp.json()["paths"]
    assert {(m.upper(), p) for p, ops in paths.items() for m in ops} == {
        ("POST", "/v1/warehouses"),
        ("GET", "/v1/warehouses"),
        ("PUT", "/v1/warehouses/{code}"),
        ("GET", "/v1/warehouses/{code}"),
        ("POST", "/v1/skus"),
        ("PUT", "/v1/skus/{sku}"),
        ("GET", "/v1/skus/{sku}"),
        ("POST", "/v1/stock/receipts"),
        ("POST", "/v1/stock/adjustments"),
        ("POST", "/v1/stock/transfers"),
        ("PUT", "/v1/stock/{sku}/{warehouse}/threshold"),
        ("GET", "/v1/stock/{sku}"),
        ("GET", "/v1/stock"),
        ("GET", "/v1/reservations/{order_id}"),
        ("POST", "/v1/allocations/preview"),
        ("POST", "/v1/promotions"),
        ("GET", "/v1/promotions/{promotion_id}"),
        ("GET", "/v1/promotions/{promotion_id}/readiness"),
    }
    receipts = paths["/v1/stock/receipts"]["post"]
    assert {"404", "409", "413", "422"} <= set(receipts["responses"])
    assert {p["name"] for p in receipts["parameters"]} == {"X-Request-Id"}
    assert receipts["security"] == [{"HTTPBearer": ["warehouse", "operations"]}]
    assert (await client.get("/docs")).status_code == 200
