"""What the pages work with, and the one template environment they render with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from oms_operations.queries import DashboardQueries
from oms_operations.web import figures
from oms_operations.web.actions import Services
from oms_operations.web.lookup import Lookup
from oms_operations.web.vendor import Vendor

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(
    duration=figures.duration, percent=figures.percent, show=figures.show, row=figures.row_name
)


@dataclass(frozen=True)
class WebContext:
    queries: DashboardQueries
    lookup: Lookup
    services: Services
    tracking_key: bytes
    vendor: Vendor


def web(request: Request) -> WebContext:
    ctx = request.app.state.web
    assert isinstance(ctx, WebContext)
    return ctx


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """``template`` rendered with ``values`` (and the vendor scripts), as HTML."""
    ctx = web(request)
    html = TEMPLATES.get_template(template).render(
        htmx=ctx.vendor.script("htmx.org"), chartjs=ctx.vendor.script("chart.js"), **values
    )
    return HTMLResponse(html, status_code=status)
