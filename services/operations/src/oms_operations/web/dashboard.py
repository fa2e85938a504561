"""``GET /``: the dashboard; ``GET /dashboard/figures``: its figures alone, which the page
asks for again every few seconds (htmx polling) so it follows the events as they arrive.

Each section is one of the dashboard queries (orders, shipping, returns, satisfaction,
and payments, stock and capacity where the queries offer them), with the same filters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from oms_operations.queries import Filters
from oms_operations.web import figures
from oms_operations.web.context import page, web
from oms_operations.web.filters import FilterForm, read_filters
from oms_platform.auth import Scope, allow_session

router = APIRouter(tags=["web"], dependencies=[allow_session(Scope.OPERATIONS, Scope.AUDITOR)])

SECTIONS = ("orders", "shipping", "returns", "satisfaction", "payments", "stock", "capacity")
REFRESH_S = 5


async def sections(request: Request, f: Filters) -> dict[str, Any]:
    """Every section the queries offer, by name."""
    q = web(request).queries
    found: dict[str, Any] = {}
    for name in SECTIONS:
        query = getattr(q, name, None)
        if query is not None:
            found[name] = await query(f)
    return found


def charts(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dashboard's charts from its figures."""
    made: dict[str, dict[str, Any]] = {}
    if "orders" in found:
        by_status = found["orders"].get("by_status", {})
        made["orders_by_status"] = figures.chart(
            "bar", "orders", list(by_status), list(by_status.values())
        )
    if "shipping" in found:
        totals = figures.carrier_totals(found["shipping"].get("groups", []))
        made["cost_per_carrier"] = figures.chart(
            "bar", "cost", [t["carrier"] for t in totals], [t["cost"] for t in totals]
        )
    if "returns" in found:
        reasons = found["returns"].get("by_reason", [])
        made["returns_by_reason"] = figures.chart(
            "doughnut", "returns", [r["reason"] for r in reasons], [r["returns"] for r in reasons]
        )
    if "payments" in found:
        methods = found["payments"].get("by_method", [])
        made["payments_by_method"] = figures.chart(
            "doughnut", "payments", [m["method"] for m in methods], [m["payments"] for m in methods]
        )
    if "capacity" in found:
        cap = found["capacity"]
        made["backlog_per_hour"] = figures.lines_chart(
            "backlog (units)",
            [h[11:16] for h in cap.get("hours", [])],
            {
                w["warehouse"]: [h["backlog"] for h in w.get("hours", [])]
                for w in cap.get("warehouses", [])
            },
        )
    return made


async def _render(request: Request, template: str) -> HTMLResponse:
    form: FilterForm = read_filters(request.query_params)
    if form.filters is None:
        return page(request, template, 422, form=form, found={}, charts={}, refresh_s=REFRESH_S)
    found = await sections(request, form.filters)
    return page(
        request,
        template,
        form=form,
        found=found,
        charts=charts(found),
        carriers=figures.carrier_totals(found.get("shipping", {}).get("groups", [])),
        layout=figures.layout,
        updated=datetime.now(UTC).strftime("%H:%M:%S UTC"),
        refresh_s=REFRESH_S,
    )


FilterParam = Annotated[str | None, Query(description="See the page's filter form.")]


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    start: Annotated[str | None, Query(alias="from", description="ISO date")] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO date, inclusive")] = None,
    warehouse: FilterParam = None,
    carrier: FilterParam = None,
) -> HTMLResponse:
    """The dashboard; filters ``from``, ``to`` (ISO dates), ``warehouse``, ``carrier``; a bad
    one is a 422 page naming it."""
    # The filters are read from the query string by ``read_filters`` (a bad one is a page,
    # not a problem body); the parameters above only describe them.
    return await _render(request, "dashboard.html")


@router.get("/dashboard/figures", response_class=HTMLResponse)
async def dashboard_figures(
    request: Request,
    start: Annotated[str | None, Query(alias="from", description="ISO date")] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO date, inclusive")] = None,
    warehouse: FilterParam = None,
    carrier: FilterParam = None,
) -> HTMLResponse:
    """The dashboard's figures alone (what the page refreshes), same filters."""
    return await _render(request, "figures.html")
