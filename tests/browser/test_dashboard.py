"""The operations web pages in a real browser (headless Debian Chromium) after a demo run.

(a) the dashboard's figures equal counts taken directly from the services' event stores;
(b) the console finds an order by its customer's e-mail and shows its cross-service
timeline; (c) the signed tracking link from the console shows the parcels and nothing
personal, and a tampered link is refused; (d) a full-page screenshot of the dashboard;
(e) the console's actions reach the services and show their answers.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from oms_cli.config import find_repo_root
from tests.browser.conftest import STAFF
from tests.browser.demo import Demo
from tests.e2e.system import System

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

CATCH_UP_S = 90


async def _rows(system: System, service: str, sql: str) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(system.databases[service]) as conn:
        cur = await conn.execute(sql)
        return list(await cur.fetchall())


async def store_figures(system: System) -> dict[str, str]:
    """The dashboard's figures as counted from the services' own ``events`` tables."""
    found: dict[str, str] = {}
    ((placed, cancelled, delivered, ratings, mean),) = await _rows(
        system,
        "order",
        "SELECT count(*) FILTER (WHERE type = 'OrderPlaced'), "
        "count(DISTINCT stream_id) FILTER (WHERE type = 'OrderCancelled'), "
        "count(DISTINCT stream_id) FILTER (WHERE type = 'OrderDelivered'), "
        "count(*) FILTER (WHERE type = 'FeedbackReceived'), "
        "avg((payload->>'rating')::int) FILTER (WHERE type = 'FeedbackReceived') FROM events",
    )
    found["orders.total"] = str(placed)
    found["orders.status.cancelled"] = str(cancelled)
    found["orders.delivered (delivered + partially returned + returned)"] = str(delivered)
    found["satisfaction.ratings"] = str(ratings)
    found["satisfaction.mean_rating"] = f"{round(float(mean), 3):g}"
    parcels = await _rows(
        system,
        "shipping",
        "SELECT payload->>'carrier', payload->'shipping_cost'->>'currency', count(*) "
        "FROM events WHERE type = 'ShipmentDispatched' GROUP BY 1, 2",
    )
    found["shipping.parcels"] = str(sum(n for _, _, n in parcels))
    for carrier, currency, n in parcels:
        found[f"shipping.carriers.{carrier}.{currency}.parcels"] = str(n)
    ((returns,),) = await _rows(
        system,
        "returns",
        "SELECT count(DISTINCT payload->>'return_id') FROM events WHERE type IN "
        "('ReturnRequested', 'ReturnAuthorized', 'ReturnReceived', 'ReturnResolved')",
    )
    found["returns.returns"] = str(returns)
    for currency, kind, amount in await _rows(
        system,
        "payments",
        "SELECT payload->'amount'->>'currency', type, sum((payload->'amount'->>'amount')::numeric)"
        " FROM events WHERE type IN ('PaymentCaptured', 'RefundIssued') GROUP BY 1, 2",
    ):
        name = "captured" if kind == "PaymentCaptured" else "refunded"
        found[f"payments.totals.{currency}.{name}"] = str(Decimal(amount).normalize())
    return found


async def page_figures(page: Any) -> dict[str, str]:
    """Every ``data-figure`` of the page, as the browser shows it."""
    shown: dict[str, str] = await page.eval_on_selector_all(
        "[data-figure]",
        "els => Object.fromEntries(els.map(e => [e.dataset.figure, e.textContent.trim()]))",
    )
    statuses = ("delivered", "partially_returned", "returned")
    shown["orders.delivered (delivered + partially returned + returned)"] = str(
        sum(int(shown.get(f"orders.status.{s}", "0")) for s in statuses)
    )
    for name, value in list(shown.items()):
        if name.startswith("payments.totals.") and name.endswith((".captured", ".refunded")):
            shown[name] = str(Decimal(value).normalize())
    return shown


async def test_the_dashboard_shows_what_the_event_stores_hold(demo: Demo, page: Any) -> None:
    system = demo.system
    base = system.url("operations")
    expected: dict[str, str] = {}
    shown: dict[str, str] = {}
    deadline = asyncio.get_running_loop().time() + CATCH_UP_S
    while asyncio.get_running_loop().time() < deadline:
        expected = await store_figures(system)
        resp = await page.goto(f"{base}/")
        assert resp.status == 200
        shown = {k: v for k, v in (await page_figures(page)).items() if k in expected}
        if shown == expected:
            break
        await asyncio.sleep(2)  # the read models are still catching up
    assert shown == expected
    assert int(expected["orders.total"]) == len(demo.orders)
    assert int(expected["returns.returns"]) == len(demo.returns)
    assert int(expected["satisfaction.ratings"]) == len(demo.ratings)
    assert await page.locator("canvas[data-chart]").count() >= 3  # Chart.js is served


async def test_the_dashboard_refreshes_itself_from_its_own_server(demo: Demo, page: Any) -> None:
    """htmx polls the figures (no reload), and every request goes to the service itself."""
    base = demo.system.url("operations")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    await page.goto(f"{base}/")
    first = await page.locator("[data-updated]").inner_text()
    await page.wait_for_function(
        f"() => document.querySelector('[data-updated]').textContent !== {first!r}",
        timeout=15_000,
    )
    assert any(url.startswith(f"{base}/dashboard/figures") for url in asked), asked
    assert any(url.endswith("/static/vendor/htmx.org/htmx.min.js") for url in asked), asked
    assert all(url.startswith(base) for url in asked), asked  # no CDN


async def test_a_bad_filter_is_a_page_naming_it(demo: Demo, page: Any) -> None:
    resp = await page.goto(f"{demo.system.url('operations')}/?from=2026-05-02&to=2026-05-01")
    assert resp.status == 422
    assert "'to' is before 'from'" in await page.locator("[data-problem=filters]").inner_text()


async def open_order(demo: Demo, page: Any) -> tuple[str, Any]:
    """Search the first returned order by its customer's e-mail (in capitals) and open it
    once its timeline shows the services' events."""
    order = demo.delivered()[0]
    await page.goto(f"{demo.system.url('operations')}/console")
    await page.fill("input[name=q]", order.email.upper())
    await page.press("input[name=q]", "Enter")
    await page.wait_for_selector(f"[data-order='{order.order_id}']")
    await page.click(f"[data-order='{order.order_id}']")
    wanted = {"order", "payments", "fulfilment", "shipping", "returns"}
    producers: set[str] = set()
    for _ in range(60):
        producers = set(
            await page.eval_on_selector_all(
                "tr[data-producer]", "rows => rows.map(r => r.dataset.producer)"
            )
        )
        if wanted <= producers:
            break
        await asyncio.sleep(0.5)
        await page.reload()
    assert wanted <= producers, producers
    return order.order_id, order


async def test_the_console_finds_an_order_by_email_and_shows_its_timeline(
    demo: Demo, page: Any
) -> None:
    order_id, order = await open_order(demo, page)
    assert await page.locator("[data-figure='order.id']").inner_text() == order_id
    assert await page.locator("[data-figure='order.email']").inner_text() == order.email
    types = await page.eval_on_selector_all(
        "tr[data-event-type]", "rows => rows.map(r => r.dataset.eventType)"
    )
    for event in ("OrderPlaced", "PaymentAuthorized", "ShipmentDispatched", "OrderDelivered"):
        assert event in types, types
    assert "ReturnRequested" in types or "ReturnAuthorized" in types, types
    assert await page.locator("table[data-table=payments] tbody tr").count() >= 1
    assert await page.locator("table[data-table=returns] tbody tr").count() == 1


async def test_the_signed_tracking_link_shows_the_parcels_and_nothing_personal(
    demo: Demo, page: Any, browser: Any
) -> None:
    order_id, order = await open_order(demo, page)
    numbers = [n.strip() for n in await page.locator("[data-tracking-number]").all_inner_texts()]
    link = await page.get_attribute("[data-tracking-link]", "href")
    assert link and order_id not in link
    # The customer is not signed in: the link alone opens the page.
    customer = await browser.new_context()
    page = await customer.new_page()
    resp = await page.goto(f"{demo.system.url('operations')}{link}")
    assert resp.status == 200
    status = await page.locator("[data-figure='track.status']").inner_text()
    assert status in ("delivered", "partially returned", "returned")
    shown = [
        n.strip() for n in await page.locator("[data-figure$='.tracking_number']").all_inner_texts()
    ]
    assert shown and sorted(shown) == sorted(numbers)
    html = await page.content()
    assert order.email not in html and order.email.split("@")[0] not in html
    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
    resp = await page.goto(f"{demo.system.url('operations')}{tampered}")
    assert resp.status == 404
    assert "This tracking link is not valid." in await page.inner_text("main")
    refused = await page.content()
    assert not any(n in refused for n in numbers)
    # ... and it opens nothing else: the console asks the customer to sign in.
    resp = await page.goto(f"{demo.system.url('operations')}/console/orders/{order_id}")
    assert resp.status == 401 and await page.locator("form#login").count() == 1
    assert order.email not in await page.content()
    await customer.close()


async def test_an_anonymous_visitor_gets_the_sign_in_page(demo: Demo, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    try:
        resp = await page.goto(f"{demo.system.url('operations')}/")
        assert resp.status == 401
        assert "needs a bearer token" in await page.inner_text("main")
        await page.fill("textarea[name=token]", "not-a-token")
        await page.click("form#login button")
        error = page.locator("#login-error")
        await error.wait_for(state="visible")
        assert "not a valid signed JWT" in await error.inner_text()
    finally:
        await context.close()


async def test_a_screenshot_of_the_dashboard(demo: Demo, page: Any) -> None:
    root = find_repo_root() or Path.cwd()
    await page.goto(f"{demo.system.url('operations')}/")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-chart]')]"
        ".every(c => window.Chart && Chart.getChart(c))"
    )
    targets = [root / ".oms" / "screenshots" / "dashboard.png"]
    if os.environ.get("OMS_UPDATE_SCREENSHOT") == "1":
        targets.append(root / "docs" / "dashboard.png")
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 20_000


async def test_the_consoles_actions_reach_the_services(demo: Demo, page: Any) -> None:
    """Last: a goodwill refund changes the figures. A delivered order cannot be cancelled:
    the order service's refusal is shown; the refund is accepted by payments."""
    await open_order(demo, page)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("text=Cancel the order")
    refused = page.locator("[data-outcome]").first
    await refused.wait_for()
    assert await refused.get_attribute("data-outcome") == "refused"
    refund = page.locator("form[hx-post*='/refunds']").first
    await refund.locator("input[name=amount]").fill("1.00")
    await refund.locator("button").click()
    answer = page.locator("form[hx-post*='/refunds'] + .result [data-outcome]").first
    await answer.wait_for()
    assert await answer.get_attribute("data-outcome") == "accepted", await answer.inner_text()
    assert "1.00" in await answer.inner_text()
    await refund.locator("input[name=amount]").fill("0.00")
    await refund.locator("button").click()
    await page.wait_for_selector(
        "form[hx-post*='/refunds'] + .result [data-outcome=refused]", timeout=10_000
    )
    assert "more than zero" in await answer.inner_text()  # the payments service's reason
    # The refund was asked by the signed-in agent: the payments service recorded the
    # agent (the token's subject) as its actor, not the console.
    rows = await _rows(
        demo.system,
        "payments",
        "SELECT DISTINCT actor FROM events"
        " WHERE type = 'PaymentRefundRequested' AND actor LIKE 'staff:%'",
    )
    assert (STAFF,) in rows
