"""The dashboards' routes on an in-memory store with fixed figures: filters, bounds and
problem bodies (the SQL behind them is checked against the real database in
``tests/integration/test_operations_service.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_operations.app import create_app
from oms_operations.queries import Figures, Filters
from oms_operations.settings import OperationsSettings
from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys


class FixedFigures:
    def __init__(self) -> None:
        self.asked: list[tuple[str, Filters]] = []
        self.timelines: list[str] = []

    async def _answer(self, name: str, f: Filters) -> Figures:
        self.asked.append((name, f))
        return {"dashboard": name}

    async def orders(self, f: Filters) -> Figures:
        return await self._answer("orders", f)

    async def shipping(self, f: Filters) -> Figures:
        return await self._answer("shipping", f)

    async def returns(self, f: Filters) -> Figures:
        return await self._answer("returns", f)

    async def satisfaction(self, f: Filters) -> Figures:
        return await self._answer("satisfaction", f)

    async def payments(self, f: Filters) -> Figures:
        return await self._answer("payments", f)

    async def stock(self, f: Filters) -> Figures:
        return await self._answer("stock", f)

    async def capacity(self, f: Filters) -> Figures:
        return await self._answer("capacity", f)

    async def timeline(self, order_id: str) -> list[Figures]:
        self.timelines.append(order_id)
        return [{"event_id": "e1", "type": "OrderPlaced"}] if order_id == "ord-1" else []


@pytest.fixture
async def api() -> Any:
    figures = FixedFigures()
    settings = OperationsSettings(
        **service_keys(), database_dsn=SecretStr("postgresql://unused@127.0.0.1:1/none")
    )
    host = create_app(settings, store=InMemoryEventStore(TEST_CHAIN_KEY), queries=figures)
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://operations", headers=auth.headers()
    ) as client:
        yield client, figures


DASHBOARDS = ["orders", "shipping", "returns", "satisfaction", "payments", "stock", "capacity"]


@pytest.mark.parametrize("name", DASHBOARDS)
async def test_each_dashboard_answers_with_its_filters(api: Any, name: str) -> None:
    client, figures = api
    resp = await client.get(
        f"/v1/dashboard/{name}",
        params={"from": "2026-05-01", "to": "2026-05-31", "warehouse": "BER", "carrier": "dhl"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"dashboard": name}
    assert figures.asked == [(name, Filters(date(2026, 5, 1), date(2026, 5, 31), "BER", "dhl"))]


async def test_no_filter_means_everything(api: Any) -> None:
    client, figures = api
    assert (await client.get("/v1/dashboard/orders")).status_code == 200
    assert figures.asked == [("orders", Filters())]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "to"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "to"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"warehouse": "BER; DROP TABLE"}, "warehouse"),
        ({"carrier": "x" * 65}, "carrier"),
    ],
)
@pytest.mark.parametrize("name", DASHBOARDS)
async def test_a_bad_filter_is_a_problem_naming_it(
    api: Any, params: dict[str, str], field: str, name: str
) -> None:
    client, figures = api
    resp = await client.get(f"/v1/dashboard/{name}", params=params)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == "invalid_request"
    assert [e["field"] for e in body["errors"]] == [f"query:{field}"], body
    assert figures.asked == []


async def test_an_orders_timeline_lists_its_events_and_an_unknown_order_none(api: Any) -> None:
    client, figures = api
    resp = await client.get("/v1/timeline/ord-1")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "order_id": "ord-1",
        "events": [{"event_id": "e1", "type": "OrderPlaced"}],
    }
    assert (await client.get("/v1/timeline/ord-unknown")).json()["events"] == []
    assert figures.timelines == ["ord-1", "ord-unknown"]


@pytest.mark.parametrize("order_id", ["x" * 101, "a%0Ab"])
async def test_a_bad_order_id_is_a_problem_naming_it(api: Any, order_id: str) -> None:
    client, figures = api
    resp = await client.get(f"/v1/timeline/{order_id}")
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in resp.json()["errors"]] == ["path:order_id"], resp.text
    assert figures.timelines == []
