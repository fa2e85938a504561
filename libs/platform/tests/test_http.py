"""The one error body and the input limits, on a tiny app with one route of each kind."""

from __future__ import annotations

from typing import Annotated

import httpx
import psycopg
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from oms_platform.auth import Principal, Scope, allow, install_auth
from oms_platform.http import (
    PROBLEM_MEDIA_TYPE,
    RequestIdHeader,
    field_name,
    install_problem_handlers,
)
from oms_platform.refusal import FieldError, Refusal
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_AUTH_PUBLIC_PEM


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, Field(min_length=1, max_length=10)]
    quantity: Annotated[int, Field(ge=1, le=100)]


class Body(BaseModel):
    lines: list[Line]


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_auth(app, TEST_AUTH_PUBLIC_PEM, service="test")

    @app.post("/things")
    async def create(
        body: Body,
        caller: Annotated[Principal, allow(Scope.PLATFORM)],
        request_id: RequestIdHeader = None,
    ) -> dict[str, str]:
        if body.lines[0].sku == "TAKEN":
            raise Refusal("sku_taken", "that SKU is taken", "lines[0].sku", extra={"by": "x"})
        return {"actor": caller.actor}

    @app.get("/things/{thing_id}")
    async def read(thing_id: str, limit: Annotated[int, Query(ge=1, le=10)] = 5) -> None:
        raise Refusal.not_found("thing_not_found", f"there is no thing {thing_id}")

    @app.get("/down")
    async def down() -> None:
        raise psycopg.OperationalError("the database system is starting up")

    @app.get("/bug")
    async def bug() -> None:
        raise ZeroDivisionError("oops")

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=auth.headers(subject="platform:web")
    )


def assert_problem(resp: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, object] = resp.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:oms:problem:{code}" and body["title"] and body["detail"]
    return body


async def test_a_valid_request_passes_through_with_the_token_subject_as_actor(
    client: httpx.AsyncClient,
) -> None:
    # What a request says of itself is not who it is: only the verified token counts.
    resp = await client.post(
        "/things", json={"lines": [{"sku": "A", "quantity": 2}]}, headers={"X-Actor": "staff:ann"}
    )
    assert resp.status_code == 200 and resp.json() == {"actor": "platform:web"}


async def test_a_missing_or_narrow_token_is_refused_with_the_reason(
    client: httpx.AsyncClient,
) -> None:
    line = {"lines": [{"sku": "A", "quantity": 2}]}
    resp = await client.post("/things", json=line, headers={"Authorization": ""})
    body = assert_problem(resp, 401, "unauthenticated")
    assert [e["field"] for e in body["errors"]] == ["header:Authorization"]  # type: ignore[attr-defined]
    resp = await client.post("/things", json=line, headers={"Authorization": "Basic YTpi"})
    assert_problem(resp, 401, "unauthenticated")
    resp = await client.post("/things", json=line, headers={"Authorization": "Bearer not.a.jwt"})
    body = assert_problem(resp, 401, "unauthenticated")
    assert "not a valid signed JWT" in str(body["detail"])
    resp = await client.post(
        "/things", json=line, headers={"Authorization": "Bearer " + "a" * 5000}
    )
    assert_problem(resp, 401, "unauthenticated")
    resp = await client.post("/things", json=line, headers=auth.headers(Scope.WAREHOUSE))
    body = assert_problem(resp, 403, "forbidden")
    assert body["required_scopes"] == ["platform"]


async def test_validation_errors_name_each_field(client: httpx.AsyncClient) -> None:
    resp = await client.post("/things", json={"lines": [{"sku": "", "quantity": 101}]})
    body = assert_problem(resp, 422, "invalid_request")
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"lines[0].sku", "lines[0].quantity"}
    # A number no JSON reader represents exactly is refused with the body, before the route.
    resp = await client.post("/things", json={"lines": [{"sku": "A", "quantity": 10**309}]})
    body = assert_problem(resp, 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == ["lines[0].quantity"]  # type: ignore[attr-defined]
    resp = await client.get("/things/x", params={"limit": "99999999999999999999"})
    assert_problem(resp, 422, "invalid_request")
    resp = await client.post(
        "/things", json={"lines": [{"sku": "A", "quantity": 1}]}, headers={"X-Request-Id": " "}
    )
    body = assert_problem(resp, 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == ["header:X-Request-Id"]  # type: ignore[attr-defined]


async def test_refusals_keep_their_status_code_field_and_extras(client: httpx.AsyncClient) -> None:
    resp = await client.post("/things", json={"lines": [{"sku": "TAKEN", "quantity": 1}]})
    body = assert_problem(resp, 409, "sku_taken")
    assert body["errors"] == [
        {"field": "lines[0].sku", "reason": "that SKU is taken", "code": "sku_taken"}
    ]
    assert body["by"] == "x"
    assert_problem(await client.get("/things/nope"), 404, "thing_not_found")
    assert_problem(await client.get("/nowhere"), 404, "not_found")
    assert_problem(await client.delete("/things/x"), 405, "method_not_allowed")


async def test_bodies_past_the_limits_are_refused_before_any_route(
    client: httpx.AsyncClient,
) -> None:
    deep = b'{"lines": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    body = assert_problem(await client.post("/things", content=deep), 422, "invalid_request")
    assert "deep" in str(body["detail"]) + str(body["errors"])
    assert_problem(await client.post("/things", content=b"{not json"), 422, "invalid_request")
    big = b'{"lines": [], "pad": "' + b"x" * (1 << 20) + b'"}'
    assert_problem(await client.post("/things", content=big), 413, "body_too_large")
    nan = b'{"lines": [{"sku": "A", "quantity": NaN}]}'
    assert_problem(await client.post("/things", content=nan), 422, "invalid_request")


async def test_an_unreachable_database_is_503_and_a_bug_500_both_as_problems(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get("/down")
    assert_problem(resp, 503, "service_unavailable")
    assert resp.headers["retry-after"]
    assert_problem(await client.get("/bug"), 500, "internal_error")


def test_field_names_read_like_the_request() -> None:
    assert field_name(("body", "lines", 0, "sku")) == "lines[0].sku"
    assert field_name(("header", "X-Actor")) == "header:X-Actor"
    assert field_name(("query", "limit")) == "query:limit"
    assert field_name(("body",)) == "body"
    refusal = Refusal.invalid("bad", "two things", errors=[FieldError("a", "r", "c")])
    assert refusal.status == 422 and refusal.field_errors() == [FieldError("a", "r", "c")]
