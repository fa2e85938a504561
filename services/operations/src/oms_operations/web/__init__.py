"""The operations service's web pages: the dashboard (``/``), the customer-service console
(``/console``) and the public tracking page (``/track/{token}``), rendered on the server
with Jinja2; htmx (live refresh, console actions) and Chart.js served from ``/static``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from oms_operations.web import console, dashboard, session, track
from oms_operations.web.context import WebContext

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, ctx: WebContext) -> None:
    """Serve the pages and their static files on ``app``."""
    app.state.web = ctx
    app.state.auth_error_page = session.login_page
    app.include_router(session.router)
    app.include_router(dashboard.router)
    app.include_router(console.router)
    app.include_router(track.router)
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")
    for package, dist in ctx.vendor.dist.items():
        app.mount(f"/static/vendor/{package}", StaticFiles(directory=dist), name=package)
