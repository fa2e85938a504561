"""``GET /track/{token}``: the customer's tracking page, reached by a signed link.

It shows the order's status and its parcels (carrier, tracking number, status, promised
or estimated date) and nothing personal. A token that does not verify, or names no known
order, gets the same 404 page: the link is not valid, nothing more.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from oms_operations.web import tracking
from oms_operations.web.context import page, web
from oms_platform.auth import PUBLIC

router = APIRouter(tags=["web"])


@router.get("/track/{token}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def track(request: Request, token: str) -> HTMLResponse:
    """The order's status and parcels; 404 for a link that is not valid."""
    ctx = web(request)
    order_id = tracking.verify(ctx.tracking_key, token)
    found = await ctx.lookup.tracking(order_id) if order_id is not None else None
    if found is None:
        return page(request, "track_invalid.html", 404)
    return page(request, "track.html", order=found)
