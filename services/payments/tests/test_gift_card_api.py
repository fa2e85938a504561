"""The gift card routes on the in-memory store: a code goes in, only its token comes out.

A code is accepted in a request body only (issuing, exchanging), never repeated in an
answer or an error, and never accepted in a URL; the exchange answers every well-formed
code alike, issued or not.
"""

from __future__ import annotations

import httpx
import pytest

from oms_platform.auth import Scope
from oms_platform.testing import auth
from services.payments.tests.support import token

CODE = "GC-7Q4M-2291"
BALANCE = {"amount": "25.00", "currency": "EUR"}


def no_code_in(resp: httpx.Response, code: str = CODE) -> None:
    text = resp.text.lower()
    for spelling in (code, code.replace("-", ""), code.replace("-", " ")):
        assert spelling.lower() not in text, resp.text


async def test_issuing_answers_the_token_and_not_the_code(http: httpx.AsyncClient) -> None:
    issued = await http.post("/v1/gift-cards", json={"code": CODE, "balance": BALANCE})
    assert issued.status_code == 201, issued.text
    assert issued.json() == {"card": token(CODE), "balance": BALANCE}
    no_code_in(issued)
    again = await http.post("/v1/gift-cards", json={"code": "gc 7q4m 2291", "balance": BALANCE})
    assert again.status_code == 409 and again.json()["code"] == "refused", again.text
    no_code_in(again)
    card = await http.get(f"/v1/gift-cards/{token(CODE)}")
    assert card.status_code == 200 and card.json()["card"] == token(CODE)
    assert card.json()["balance"] == BALANCE
    assert [h["type"] for h in card.json()["history"]] == ["GiftCardIssued"]
    no_code_in(card)


async def test_the_exchange_answers_alike_for_issued_and_unknown_codes(
    http: httpx.AsyncClient,
) -> None:
    await http.post("/v1/gift-cards", json={"code": CODE, "balance": BALANCE})
    known = await http.post("/v1/gift-cards/tokens", json={"code": CODE})
    unknown = await http.post("/v1/gift-cards/tokens", json={"code": "GC-0000-0000"})
    assert (known.status_code, unknown.status_code) == (200, 200)
    assert known.json() == {"card": token(CODE)}
    assert unknown.json() == {"card": token("GC-0000-0000")}
    assert set(known.headers) == set(unknown.headers)
    typed = await http.post("/v1/gift-cards/tokens", json={"code": " gc-7q4m 2291"})
    assert typed.json() == known.json()
    no_code_in(known)
    missing = await http.get(f"/v1/gift-cards/{unknown.json()['card']}")
    assert missing.status_code == 404
    no_code_in(missing, "GC-0000-0000")


@pytest.mark.parametrize("code", ["GC/1", "G", "GC-1\x00", "É" * 8, "G" * 101, "A" * 65])
async def test_a_malformed_code_is_422_without_quoting_it(
    http: httpx.AsyncClient, code: str
) -> None:
    for path, body in (
        ("/v1/gift-cards/tokens", {"code": code}),
        ("/v1/gift-cards", {"code": code, "balance": BALANCE}),
    ):
        resp = await http.post(path, json=body)
        assert resp.status_code == 422, resp.text
        assert {e["field"] for e in resp.json()["errors"]} == {"code"}, resp.text
        assert code not in resp.text


async def test_a_code_is_not_accepted_in_a_url(http: httpx.AsyncClient) -> None:
    await http.post("/v1/gift-cards", json={"code": CODE, "balance": BALANCE})
    resp = await http.get(f"/v1/gift-cards/{CODE}")
    assert resp.status_code == 422, resp.text
    no_code_in(resp)


async def test_the_exchange_is_for_the_shop_and_customer_service(
    http: httpx.AsyncClient,
) -> None:
    body = {"code": CODE}
    for scope, status in (
        (Scope.PLATFORM, 200),
        (Scope.CUSTOMER_SERVICE, 200),
        (Scope.WAREHOUSE, 403),
    ):
        resp = await http.post("/v1/gift-cards/tokens", json=body, headers=auth.headers(scope))
        assert resp.status_code == status, (scope, resp.text)
