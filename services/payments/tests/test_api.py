"""The HTTP API on the in-memory event store: answers, refusals and hostile input.

The host is built by ``create_app`` with an injected store (no database); payments are put
into that store by the real handlers and worker (``Payments``) before the requests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from oms_payments.calls import Call, Operation
from oms_payments.queries import Reads
from services.payments.tests.support import (
    Payments,
    dispatched,
    payment,
    placed,
    token,
)

EVERYTHING = (("TSHIRT", 2), ("MUG", 1))
MIB = 1024 * 1024
CARD = {"code": "GC-1", "balance": {"amount": "25.00", "currency": "EUR"}}


async def captured_card(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "card", "57.35")), dispatched("shp-1", *EVERYTHING))


def problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = resp.json()
    assert doc["status"] == status and doc["code"] == code, doc
    assert doc["type"] == f"urn:oms:problem:{code}" and doc["title"] and doc["detail"]
    return doc


def fields(doc: dict[str, Any]) -> set[str]:
    return {e["field"] for e in doc["errors"]}


# -- answers ---------------------------------------------------------------------------------


async def test_a_payment_and_its_order_are_read(service: Payments, http: httpx.AsyncClient) -> None:
    await captured_card(service)
    doc = (await http.get("/v1/payments/pay-1")).json()
    assert doc["status"] == "captured" and doc["authorized"]["amount"] == "57.35"
    assert doc["reconciliation"] == [] and "authorised" not in doc
    order = (await http.get("/v1/orders/ord-000000000001/payments")).json()
    assert order["totals"]["authorized"] == {"amount": "57.35", "currency": "EUR"}
    assert [p["payment_id"] for p in order["payments"]] == ["pay-1"]


async def test_a_refund_is_requested_once_per_idempotency_key(
    service: Payments, http: httpx.AsyncClient
) -> None:
    await captured_card(service)
    body = {"amount": "20.00", "reason": "damaged mug"}
    headers = {"Idempotency-Key": "ticket-1", "X-Request-Id": "req-1"}
    first = await http.post("/v1/payments/pay-1/refunds", json=body, headers=headers)
    assert first.status_code == 202, first.text
    assert first.json()["amount"] == {"amount": "20.00", "currency": "EUR"}
    again = await http.post("/v1/payments/pay-1/refunds", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["refund_id"] == first.json()["refund_id"]
    other = await http.post(
        "/v1/payments/pay-1/refunds", json={**body, "amount": "21.00"}, headers=headers
    )
    problem(other, 409, "refused")
    [requested] = [
        r for r in await service.store.read_stream("payment-pay-1") if "Refund" in r.envelope.type
    ]
    assert requested.envelope.actor == "staff:test"
    assert requested.envelope.causation_id == "req-1"


async def test_a_gift_card_is_issued_and_read(http: httpx.AsyncClient) -> None:
    issued = await http.post("/v1/gift-cards", json=CARD)
    assert issued.status_code == 201
    assert issued.json() == {"card": token("GC-1"), "balance": CARD["balance"]}
    card = (await http.get(f"/v1/gift-cards/{token('GC-1')}")).json()
    assert card["card"] == token("GC-1") and "code" not in card
    assert card["balance"] == {"amount": "25.00", "currency": "EUR"}
    assert [h["actor"] for h in card["history"]] == ["staff:test"]


async def test_a_parked_provider_call_is_shown(service: Payments, http: httpx.AsyncClient) -> None:
    await service.deliver(placed(payment("pay-1", "card", "57.35")))
    reads = http._transport.app.state.reads  # type: ignore[attr-defined]
    assert isinstance(reads, Reads)
    at = datetime(2026, 3, 2, tzinfo=UTC)
    call = Call("authorise-pay-1", "pay-1", "ord-000000000001", Operation.AUTHORIZE, "fake")
    await reads.calls.attempt(call, at)
    await reads.calls.park("authorise-pay-1", "no answer", at)
    doc = (await http.get("/v1/payments/pay-1")).json()
    assert doc["status"] == "reconciliation_required"
    assert [r["idempotency_key"] for r in doc["reconciliation"]] == ["authorise-pay-1"]
    listed = (await http.get("/v1/reconciliations", params={"limit": 10})).json()
    assert [r["payment_id"] for r in listed["reconciliations"]] == ["pay-1"]


async def test_the_api_description_loads(http: httpx.AsyncClient) -> None:
    resp = await http.get("/openapi.json")
    assert resp.status_code == 200
    refund = resp.json()["paths"]["/v1/payments/{payment_id}/refunds"]["post"]
    assert {"404", "409", "413", "422"} <= set(refund["responses"])


# -- refusals --------------------------------------------------------------------------------


async def test_unknown_things_are_404(http: httpx.AsyncClient) -> None:
    problem(await http.get("/v1/payments/nope"), 404, "not_found")
    problem(await http.get("/v1/orders/nope/payments"), 404, "not_found")
    problem(await http.get(f"/v1/gift-cards/{token('NOPE-1')}"), 404, "not_found")
    refund = {"amount": "1.00", "reason": "x"}
    problem(await http.post("/v1/payments/nope/refunds", json=refund), 404, "not_found")
    problem(await http.get("/v1/nothing-here"), 404, "not_found")


async def test_refusals_are_409(service: Payments, http: httpx.AsyncClient) -> None:
    await captured_card(service)
    body = {"amount": {"amount": "57.36", "currency": "EUR"}, "reason": "goodwill"}
    doc = problem(await http.post("/v1/payments/pay-1/refunds", json=body), 409, "amount_exceeded")
    assert fields(doc) == {"amount"}
    usd = {"amount": {"amount": "1.00", "currency": "USD"}, "reason": "goodwill"}
    problem(await http.post("/v1/payments/pay-1/refunds", json=usd), 409, "refused")
    assert (await http.post("/v1/gift-cards", json=CARD)).status_code == 201
    problem(await http.post("/v1/gift-cards", json=CARD), 409, "refused")


# -- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 10.5, "reason": "a float"}, "amount.decimal"),
        ({"amount": "-1", "reason": "negative"}, "amount"),
        ({"amount": "0", "reason": "zero"}, "amount"),
        ({"amount": "1" * 13, "reason": "thirteen integer digits"}, "amount.decimal"),
        ({"amount": "1e3", "reason": "exponent"}, "amount.decimal"),
        ({"amount": "NaN", "reason": "not a number"}, "amount.decimal"),
        ({"amount": {"amount": "1.001", "currency": "EUR"}, "reason": "scale"}, "amount.money"),
        ({"amount": {"amount": "1" * 13, "currency": "EUR"}, "reason": "x"}, "amount.money.amount"),
        ({"amount": "1.00", "reason": "nul \x00 in it"}, "reason"),
        ({"amount": "1.00", "reason": "x" * 2001}, "reason"),
        ({"amount": "1.00", "reason": "x", "return_id": "r\x00"}, "return_id"),
        ({"amount": "1.00"}, "reason"),
        ({"amount": "1.00", "reason": "x", "extra": 1}, "extra"),
    ],
)
async def test_bad_refund_bodies_are_422_per_field(
    http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    doc = problem(await http.post("/v1/payments/pay-1/refunds", json=body), 422, "invalid_request")
    assert field in fields(doc), doc


async def test_a_plain_amount_is_held_to_the_payment_currency(
    service: Payments, http: httpx.AsyncClient
) -> None:
    await captured_card(service)
    body = {"amount": "1.005", "reason": "three decimals in EUR"}
    doc = problem(await http.post("/v1/payments/pay-1/refunds", json=body), 422, "invalid_amount")
    assert fields(doc) == {"amount"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "GC-1", "balance": {"amount": "0", "currency": "EUR"}}, "balance"),
        ({"code": "GC-1", "balance": {"amount": "1" * 13, "currency": "EUR"}}, "balance.amount"),
        ({"code": "GC-1", "balance": {"amount": "1.001", "currency": "EUR"}}, "balance"),
        ({"code": "GC-1", "balance": {"amount": "1", "currency": "eur"}}, "balance.currency"),
        ({"code": "GC\x001", "balance": {"amount": "1", "currency": "EUR"}}, "code"),
        ({"code": "G" * 65, "balance": {"amount": "1", "currency": "EUR"}}, "code"),
        ({"code": "GC-1"}, "balance"),
    ],
)
async def test_bad_gift_card_bodies_are_422_per_field(
    http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    doc = problem(await http.post("/v1/gift-cards", json=body), 422, "invalid_request")
    assert field in fields(doc), doc


WRITES = [("/v1/payments/pay-1/refunds", "refund"), ("/v1/gift-cards", "gift card")]


@pytest.mark.parametrize(("path", "_what"), WRITES)
async def test_a_body_over_a_mebibyte_is_413(
    http: httpx.AsyncClient, path: str, _what: str
) -> None:
    body = json.dumps({"reason": "x" * (MIB + 1)})
    resp = await http.post(path, content=body, headers={"content-type": "application/json"})
    problem(resp, 413, "body_too_large")


@pytest.mark.parametrize(("path", "_what"), WRITES)
async def test_json_nested_5000_deep_is_422(http: httpx.AsyncClient, path: str, _what: str) -> None:
    body = "[" * 5000 + "]" * 5000
    resp = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert fields(problem(resp, 422, "invalid_request")) == {"body"}


@pytest.mark.parametrize(("path", "_what"), WRITES)
@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b'{"amount": 1e999}', b"NaN"])
async def test_non_json_is_422(http: httpx.AsyncClient, path: str, _what: str, raw: bytes) -> None:
    resp = await http.post(path, content=raw, headers={"content-type": "application/json"})
    problem(resp, 422, "invalid_request")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/payments/" + "x" * 101,
        "/v1/payments/a%00b",
        "/v1/payments/a%1bb",
        "/v1/orders/" + "x" * 5000 + "/payments",
        "/v1/gift-cards/%7F",
        "/v1/reconciliations?limit=" + "9" * 40,
        "/v1/reconciliations?limit=0",
        "/v1/reconciliations?limit=abc",
    ],
)
async def test_hostile_paths_and_queries_are_4xx(http: httpx.AsyncClient, path: str) -> None:
    resp = await http.get(path)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_unicode_ids_are_simply_unknown(http: httpx.AsyncClient) -> None:
    problem(await http.get("/v1/payments/%C3%A9t%C3%A9-%F0%9F%92%B3"), 404, "not_found")


@pytest.mark.parametrize(
    ("header", "value"),
    [("Idempotency-Key", "with space"), ("X-Request-Id", "two words")],
)
async def test_bad_headers_are_422(http: httpx.AsyncClient, header: str, value: str) -> None:
    resp = await http.post(
        "/v1/payments/pay-1/refunds",
        json={"amount": "1.00", "reason": "x"},
        headers={header: value},
    )
    assert fields(problem(resp, 422, "invalid_request")) == {f"header:{header}"}
