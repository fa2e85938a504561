"""The web pages' routes without a browser or a database: fixed figures and order files,
the console's calls answered by a mock transport. Bad filters and queries are 422 pages,
unknown orders and links 404 pages, a service that is down a message, never a 5xx."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_operations.app import create_app
from oms_operations.queries import Figures, Filters
from oms_operations.settings import OperationsSettings
from oms_operations.web.actions import Services
from oms_operations.web.lookup import Record
from oms_operations.web.tracking import sign
from oms_operations.web.vendor import Vendor, find_vendor
from oms_platform.auth import Scope
from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

KEY = "route-test-tracking-key"
EMAIL = "sanne.4@example.com"
AT = datetime(2026, 5, 4, 14, 2, tzinfo=UTC)


class FixedFigures:
    def __init__(self) -> None:
        self.asked: list[tuple[str, Filters]] = []

    async def orders(self, f: Filters) -> Figures:
        self.asked.append(("orders", f))
        return {
            "total": 7,
            "by_status": {"placed": 1, "confirmed": 2, "cancelled": 1, "delivered": 3},
            "lead_times": {"placed_to_delivered": {"p50_s": 3725.0, "p90_s": 7200.0, "orders": 3}},
            "backlog": [{"warehouse": "AMS", "orders": 2, "oldest_confirmed_at": AT.isoformat()}],
        }

    async def shipping(self, f: Filters) -> Figures:
        self.asked.append(("shipping", f))
        group = {
            "carrier": "dhl",
            "service": "standard",
            "warehouse": "AMS",
            "currency": "EUR",
            "parcels": 2,
            "cost": "9.80",
            "charged": "9.90",
            "order_value": "98.00",
            "cost_share_of_order_value": 0.1,
            "delivered": 2,
            "late": 1,
            "late_delivery_rate": 0.5,
        }
        return {"parcels": 3, "groups": [group, {**group, "warehouse": "BER", "parcels": 1}]}

    async def returns(self, f: Filters) -> Figures:
        self.asked.append(("returns", f))
        return {
            "returns": 1,
            "delivered_orders": 3,
            "rate": 0.3333,
            "by_reason": [{"reason": "damaged", "returns": 1, "units": 1, "rate": 0.3333}],
            "by_sku": [],
            "by_condition": {"resellable": 1},
            "refunded": [],
        }

    async def satisfaction(self, f: Filters) -> Figures:
        self.asked.append(("satisfaction", f))
        return {
            "mean_rating": 4.5,
            "ratings": 2,
            "by_carrier": [{"carrier": "dhl", "mean_rating": 4.5, "ratings": 2}],
            "by_warehouse": [],
            "split_vs_single": [],
            "returned_vs_kept": [],
        }

    async def payments(self, f: Filters) -> Figures:
        self.asked.append(("payments", f))
        return {
            "payments": 2,
            "by_method": [{"method": "card", "currency": "EUR", "payments": 2, "amount": "9.00"}],
            "declines": {"attempted": 2, "declined": 1, "by_reason": []},
            "totals": [{"currency": "EUR", "authorized": "9.00", "captured": "4.50"}],
        }

    async def stock(self, f: Filters) -> Figures:
        self.asked.append(("stock", f))
        level = {"sku": "MUG", "warehouse": "AMS", "on_hand": 5, "available": 3}
        return {"rows": 1, "levels": [level], "low_stock": {"rows": 0, "levels": []}}

    async def capacity(self, f: Filters) -> Figures:
        self.asked.append(("capacity", f))
        hours = ["2026-05-04T13:00:00+00:00", "2026-05-04T14:00:00+00:00"]
        warehouse = {
            "warehouse": "AMS",
            "capacity": {"picks_per_hour": 40},
            "backlog": 3,
            "hours": [{"hour": h, "backlog": n} for h, n in zip(hours, (5, 3), strict=True)],
        }
        return {
            "hours": hours,
            "warehouses": [warehouse],
            "signals": ["AMS: backlog above capacity for 3 hours: more staff"],
        }

    async def timeline(self, order_id: str) -> list[Figures]:
        return []


ORDER: Record = {
    "order_id": "ord-1",
    "status": "delivered",
    "platform_ref": "WEB-1",
    "sales_channel": "webshop-nl",
    "customer_email": EMAIL,
    "currency": "EUR",
    "order_value": Decimal("44.90"),
    "lines": [["MUG", 2]],
    "placed_at": AT,
    "warehouses": ["AMS"],
}
PARCEL: Record = {
    "shipment_id": "shp-1",
    "carrier": "dhl",
    "service": "standard",
    "warehouse_id": "AMS",
    "tracking_number": "JVGL0123456789",
    "status": "delivered",
    "promised_date": date(2026, 5, 6),
    "dispatched_at": AT,
    "delivered_at": AT,
    "failed_attempts": 0,
    "failure": None,
}


class FixedOrders:
    def __init__(self) -> None:
        self.searched: list[str] = []

    async def search(self, q: str) -> list[Record]:
        self.searched.append(q)
        return [ORDER] if q.lower() in (EMAIL, "ord-1", "web-1") else []

    async def order(self, order_id: str) -> Record | None:
        if order_id != "ord-1":
            return None
        payment = {
            "payment_id": "WEB-1-p1",
            "method": "card",
            "status": "captured",
            "currency": "EUR",
            "authorized": Decimal("44.90"),
            "captured": Decimal("44.90"),
            "refunded": Decimal(0),
            "voided": Decimal(0),
            "decline_reason": None,
        }
        event = {
            "event_id": "e1",
            "type": "OrderPlaced",
            "occurred_at": AT,
            "actor": "platform:webshop-nl",
            "producer": "order",
            "causation_id": "http-1",
            "summary": "placed",
        }
        return {
            "order": ORDER,
            "parcels": [PARCEL],
            "payments": [payment],
            "returns": [],
            "feedback": None,
            "timeline": [event],
        }

    async def tracking(self, order_id: str) -> Record | None:
        return (
            {"status": "delivered", "placed_at": AT, "parcels": [PARCEL]}
            if order_id == "ord-1"
            else None
        )


class Calls:
    """The services' side of the console's calls: records them, answers as told."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answer: httpx.Response | Exception = httpx.Response(200, json={"status": "cancelled"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _host(calls: Calls | None, vendor: Vendor, configured: bool = True) -> Any:
    settings = OperationsSettings(
        **service_keys(),
        database_dsn=SecretStr("postgresql://unused@127.0.0.1:1/none"),
        tracking_key=SecretStr(KEY),
    )
    transport = httpx.MockTransport(calls.handle) if calls else None
    url = "http://svc" if configured else None
    services = Services(url, url, url, transport=transport)
    return create_app(
        settings,
        store=InMemoryEventStore(TEST_CHAIN_KEY),
        queries=FixedFigures(),
        lookup=FixedOrders(),
        services=services,
        vendor=vendor,
    )


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
async def web(calls: Calls) -> Any:
    host = _host(calls, Vendor({}))
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://operations", headers=auth.headers()
    ) as client:
        yield client, host.api.state.web


# -- dashboard ------------------------------------------------------------------------


async def test_the_dashboard_shows_every_section_with_named_figures(web: Any) -> None:
    client, ctx = web
    resp = await client.get("/")
    assert resp.status_code == 200, resp.text
    html = resp.text
    assert '<span data-figure="orders.total">7</span>' in html
    assert '<span data-figure="orders.status.delivered">3</span>' in html
    assert 'data-figure="orders.lead_times.placed_to_delivered.p50_s">1 h 02 min<' in html
    assert '<span data-figure="orders.backlog.AMS.orders">2</span>' in html
    assert '<span data-figure="shipping.carriers.dhl.EUR.parcels">3</span>' in html
    assert '<span data-figure="shipping.carriers.dhl.EUR.cost">19.60 EUR</span>' in html
    assert 'data-figure="shipping.groups.dhl/standard/BER/EUR.parcels">1<' in html
    assert '<span data-figure="returns.returns">1</span>' in html
    assert '<span data-figure="satisfaction.ratings">2</span>' in html
    assert '<span data-figure="satisfaction.mean_rating">4.5</span>' in html
    assert '<span data-figure="payments.totals.EUR.captured">4.50</span>' in html
    assert '<span data-figure="payments.declines.declined">1</span>' in html
    assert '<span data-figure="stock.levels.MUG/AMS.available">3</span>' in html
    assert 'data-figure="capacity.warehouses.AMS.capacity.picks_per_hour">40<' in html
    assert "backlog above capacity for 3 hours: more staff" in html
    asked = [name for name, _ in ctx.queries.asked]
    assert asked == [
        "orders",
        "shipping",
        "returns",
        "satisfaction",
        "payments",
        "stock",
        "capacity",
    ]


async def test_the_filters_reach_the_queries_and_the_live_fragment(web: Any) -> None:
    client, ctx = web
    params = {"from": "2026-05-01", "to": "2026-05-31", "warehouse": "AMS", "carrier": ""}
    resp = await client.get("/", params=params)
    assert resp.status_code == 200
    assert {f for _, f in ctx.queries.asked} == {
        Filters(date(2026, 5, 1), date(2026, 5, 31), "AMS")
    }
    ctx.queries.asked.clear()
    fragment = await client.get("/dashboard/figures", params=params)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'data-figure="orders.total"' in fragment.text
    assert ctx.queries.asked


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "query:from"),
        ({"to": "2026-13-01"}, "query:to"),
        ({"to": "9999-12-31"}, "query:to"),
        ({"from": "0001-01-01"}, "query:from"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "query:to"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "query:to"),
        ({"warehouse": "AMS; DROP TABLE"}, "query:warehouse"),
        ({"carrier": "x" * 65}, "query:carrier"),
        ({"carrier": "x" * 60_000}, "query:carrier"),
    ],
)
@pytest.mark.parametrize("path", ["/", "/dashboard/figures"])
async def test_a_bad_filter_is_a_422_page_naming_it(
    web: Any, path: str, params: dict[str, str], field: str
) -> None:
    client, ctx = web
    resp = await client.get(path, params=params)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("text/html")
    assert field in resp.text
    assert ctx.queries.asked == []


async def test_without_the_npm_bundles_the_page_has_no_charts(web: Any) -> None:
    client, _ = web
    html = (await client.get("/")).text
    assert '<script src="/static/vendor' not in html
    assert "charts unavailable" in html
    assert "data-chart=" not in html
    assert (await client.get("/static/web/web.js")).status_code == 200


async def test_the_npm_bundles_are_served_and_used(tmp_path: Path) -> None:
    for package, bundle in (("htmx.org", "htmx.min.js"), ("chart.js", "chart.umd.min.js")):
        (tmp_path / package / "dist").mkdir(parents=True)
        (tmp_path / package / "dist" / bundle).write_text(f"/* {package} */")
    vendor = find_vendor(tmp_path)
    host = _host(None, vendor)
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://operations", headers=auth.headers()
    ) as client:
        html = (await client.get("/")).text
        assert '<script src="/static/vendor/htmx.org/htmx.min.js">' in html
        assert '<script src="/static/vendor/chart.js/chart.umd.min.js">' in html
        assert 'hx-trigger="every 5s"' in html
        chart = html.split('data-chart-name="orders_by_status" data-chart="')[1].split('"')[0]
        config = json.loads(chart.replace("&#34;", '"').replace("&quot;", '"'))
        assert config["data"]["labels"] == ["placed", "confirmed", "cancelled", "delivered"]
        assert config["data"]["datasets"][0]["data"] == [1, 2, 1, 3]
        backlog = html.split('data-chart-name="backlog_per_hour" data-chart="')[1].split('"')[0]
        series = json.loads(backlog.replace("&#34;", '"'))["data"]
        assert series["labels"] == ["13:00", "14:00"]
        assert series["datasets"] == [{"label": "AMS", "data": [5, 3]}]
        served = await client.get("/static/vendor/chart.js/chart.umd.min.js")
        assert served.status_code == 200 and served.text == "/* chart.js */"


def test_the_repositorys_bundles_are_found_when_installed() -> None:
    vendor = find_vendor()
    if not vendor.dist:
        pytest.skip("services/operations/node_modules is not installed (make deps)")
    assert vendor.script("htmx.org") == "/static/vendor/htmx.org/htmx.min.js"
    assert vendor.script("chart.js") == "/static/vendor/chart.js/chart.umd.min.js"


# -- console --------------------------------------------------------------------------


async def test_the_console_finds_an_order_by_email(web: Any) -> None:
    client, ctx = web
    resp = await client.get("/console", params={"q": f"  {EMAIL.upper()} "})
    assert resp.status_code == 200
    assert 'data-order="ord-1"' in resp.text and 'data-results="1"' in resp.text
    assert ctx.lookup.searched == [EMAIL.upper()]


async def test_an_empty_search_asks_nothing(web: Any) -> None:
    client, ctx = web
    assert (await client.get("/console")).status_code == 200
    assert (await client.get("/console", params={"q": "  "})).status_code == 200
    assert ctx.lookup.searched == []


@pytest.mark.parametrize("q", ["x" * 255, "a\x00b", "line\nbreak", "x" * 60_000])
async def test_a_search_out_of_bounds_is_a_422_page(web: Any, q: str) -> None:
    client, ctx = web
    resp = await client.get("/console", params={"q": q})
    assert resp.status_code == 422
    assert "at most 254 printable characters" in resp.text
    assert ctx.lookup.searched == []


async def test_the_order_page_shows_the_order_its_timeline_and_tracking_link(web: Any) -> None:
    client, _ = web
    resp = await client.get("/console/orders/ord-1")
    assert resp.status_code == 200
    html = resp.text
    assert "JVGL0123456789" in html and "WEB-1-p1" in html and EMAIL in html
    assert 'data-event-type="OrderPlaced" data-producer="order"' in html and "http-1" in html
    assert f'href="/track/{sign(KEY.encode(), "ord-1")}"' in html


@pytest.mark.parametrize("order_id", ["ord-404", "x" * 101])
async def test_an_unknown_order_is_a_404_page(web: Any, order_id: str) -> None:
    client, _ = web
    resp = await client.get(f"/console/orders/{order_id}")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")


async def test_without_service_urls_the_actions_show_unavailable() -> None:
    host = _host(None, Vendor({}), configured=False)
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://operations", headers=auth.headers()
    ) as client:
        html = (await client.get("/console/orders/ord-1")).text
        for action in ("cancel", "return", "refund"):
            assert f'data-unavailable="{action}"' in html
        resp = await client.post("/console/orders/ord-1/cancel", json={"key": "k1"})
        assert resp.status_code == 200
        assert 'data-outcome="unavailable"' in resp.text and "not configured" in resp.text


async def test_cancel_calls_the_order_service_as_the_console(web: Any, calls: Calls) -> None:
    client, _ = web
    resp = await client.post(
        "/console/orders/ord-1/cancel", json={"key": "cancel-k1", "reason": "customer_request"}
    )
    assert resp.status_code == 200 and 'data-outcome="accepted"' in resp.text
    [sent] = calls.requests
    assert sent.url == "http://svc/v1/orders/ord-1/cancel"
    # The agent's own token goes on, so the order service records the agent as the actor.
    assert sent.headers["Authorization"] == client.headers["Authorization"]
    assert "X-Actor" not in sent.headers
    assert sent.headers["Idempotency-Key"] == "cancel-k1"
    assert json.loads(sent.content) == {"reason": "customer_request"}


async def test_a_refusal_shows_the_services_reason(web: Any, calls: Calls) -> None:
    client, _ = web
    calls.answer = httpx.Response(
        409,
        json={"code": "cancellation_refused", "detail": "the order has shipped", "errors": []},
    )
    resp = await client.post("/console/orders/ord-1/cancel", json={"key": "k2"})
    assert resp.status_code == 200
    assert 'data-outcome="refused"' in resp.text and "the order has shipped" in resp.text


async def test_a_return_goes_to_the_returns_service(web: Any, calls: Calls) -> None:
    client, _ = web
    calls.answer = httpx.Response(201, json={"rma": "RMA-7KQ2-M9XD"})
    resp = await client.post(
        "/console/orders/ord-1/returns",
        json={"key": "r1", "sku": "MUG", "quantity": "1", "reason": "damaged"},
    )
    assert 'data-outcome="accepted"' in resp.text and "RMA-7KQ2-M9XD" in resp.text
    [sent] = calls.requests
    assert sent.url == "http://svc/v1/orders/ord-1/returns"
    assert json.loads(sent.content) == {
        "lines": [{"sku": "MUG", "quantity": 1}],
        "reason": "damaged",
    }


async def test_a_goodwill_refund_goes_to_the_payments_service(web: Any, calls: Calls) -> None:
    client, _ = web
    calls.answer = httpx.Response(
        202, json={"refund_id": "rfd-1", "amount": {"amount": "5.00", "currency": "EUR"}}
    )
    resp = await client.post(
        "/console/payments/WEB-1-p1/refunds", json={"key": "f1", "amount": "5.00"}
    )
    assert 'data-outcome="accepted"' in resp.text and "rfd-1 of 5.00 EUR" in resp.text
    [sent] = calls.requests
    assert sent.url == "http://svc/v1/payments/WEB-1-p1/refunds"
    assert sent.headers["Idempotency-Key"] == "f1"
    assert json.loads(sent.content) == {"amount": "5.00", "reason": "goodwill"}


@pytest.mark.parametrize(
    "answer",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(503, text="x")],
)
async def test_a_service_that_is_down_is_a_message(web: Any, calls: Calls, answer: Any) -> None:
    client, _ = web
    calls.answer = answer
    resp = await client.post("/console/payments/p1/refunds", json={"key": "f2", "amount": "1"})
    assert resp.status_code == 200
    assert "the payments service" in resp.text
    assert 'data-outcome="accepted"' not in resp.text


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "5.00"},  # no idempotency key
        {"key": "k", "amount": "five"},
        {"key": "k", "amount": "5.00", "extra": 1},
        {"key": "k k", "amount": "5.00"},
    ],
)
async def test_a_bad_action_form_is_a_problem_and_calls_nothing(
    web: Any, calls: Calls, body: dict[str, Any]
) -> None:
    client, _ = web
    resp = await client.post("/console/payments/p1/refunds", json=body)
    assert resp.status_code == 422
    assert calls.requests == []


# -- tracking page --------------------------------------------------------------------


async def test_the_tracking_page_shows_parcels_and_nothing_personal(web: Any) -> None:
    client, _ = web
    resp = await client.get(f"/track/{sign(KEY.encode(), 'ord-1')}")
    assert resp.status_code == 200
    assert '<span data-figure="track.status">delivered</span>' in resp.text
    assert "JVGL0123456789" in resp.text and "06 May 2026" in resp.text
    for personal in (EMAIL, "44.90", "WEB-1-p1", "card", "Customer service"):
        assert personal not in resp.text


@pytest.mark.parametrize(
    "token",
    [
        sign(KEY.encode(), "ord-1")[:-1] + "x",
        sign(b"another key", "ord-1"),
        sign(KEY.encode(), "ord-404"),  # well signed, but no such order
        "ord-1",
        "x" * 5000,
    ],
)
async def test_a_link_that_is_not_valid_is_a_404_page(web: Any, token: str) -> None:
    client, _ = web
    resp = await client.get(f"/track/{token}")
    assert resp.status_code == 404
    assert "This tracking link is not valid." in resp.text
    assert "JVGL0123456789" not in resp.text


# -- signing in ------------------------------------------------------------------------


@pytest.fixture
async def browser(calls: Calls) -> Any:
    """A client without a bearer header: what a browser sends (cookies, Origin)."""
    host = _host(calls, Vendor({}))
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://operations") as client:
        yield client


async def test_a_page_without_a_session_is_the_sign_in_page_with_401(browser: Any) -> None:
    resp = await browser.get("/console?q=ord-1")
    assert resp.status_code == 401
    assert 'id="login"' in resp.text and 'data-next="/console?q=ord-1"' in resp.text
    assert 'data-problem="unauthenticated"' in resp.text
    assert (await browser.get("/")).status_code == 401
    assert (await browser.get("/login")).status_code == 200


async def test_signing_in_sets_a_strict_httponly_cookie_that_opens_the_pages(
    browser: Any, calls: Calls
) -> None:
    agent = auth.token(Scope.CUSTOMER_SERVICE, subject="staff:ann")
    resp = await browser.post(
        "/login", json={"token": agent}, headers={"Origin": "http://operations"}
    )
    assert resp.status_code == 204
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("oms_session=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert (await browser.get("/console/orders/ord-1")).status_code == 200
    # The dashboard is operations' page: a customer-service session is refused there.
    dashboard = await browser.get("/")
    assert dashboard.status_code == 403 and 'data-problem="forbidden"' in dashboard.text
    # An action from this site goes through, on the agent's own token ...
    ok = await browser.post(
        "/console/orders/ord-1/cancel",
        json={"key": "k-ann", "reason": "customer_request"},
        headers={"Origin": "http://operations"},
    )
    assert ok.status_code == 200 and 'data-outcome="accepted"' in ok.text
    assert calls.requests[-1].headers["Authorization"] == f"Bearer {agent}"
    # ... one sent by another site (or without an Origin) is refused and calls nothing.
    before = len(calls.requests)
    for origin in ({"Origin": "http://evil.example"}, {}):
        forged = await browser.post(
            "/console/orders/ord-1/cancel", json={"key": "k-evil"}, headers=origin
        )
        assert forged.status_code == 403
    assert len(calls.requests) == before
    out = await browser.post("/logout")
    assert out.status_code == 204 and 'oms_session=""' in out.headers["set-cookie"]


async def test_a_bad_token_does_not_sign_in(browser: Any) -> None:
    good = auth.token(Scope.OPERATIONS, subject="staff:ann")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    resp = await browser.post("/login", json={"token": tampered})
    assert resp.status_code == 401 and "signature" in resp.json()["detail"]
    assert "set-cookie" not in resp.headers
    other_site = await browser.post(
        "/login", json={"token": good}, headers={"Origin": "http://evil.example"}
    )
    assert other_site.status_code == 403
    assert (await browser.post("/login", json={"token": ""})).status_code == 422
