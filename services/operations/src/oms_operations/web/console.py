"""The customer-service console: find an order (``GET /console?q=``), see everything about
it (``GET /console/orders/{order_id}``) and act on it through the owning services: cancel
(order), start a return (returns), a goodwill refund on a payment (payments).

The actions are small JSON forms (htmx) answered by an HTML fragment saying what the
service answered: accepted, refused with its reason, or not reachable.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from oms_events.contracts.common import Id, Sku, Text
from oms_events.contracts.order import CancellationReason
from oms_events.contracts.returns import ReturnReason
from oms_events.money import AMOUNT_PATTERN
from oms_operations.web import tracking
from oms_operations.web.actions import Outcome
from oms_operations.web.context import page, web
from oms_operations.web.lookup import MAX_QUERY_LENGTH
from oms_platform.auth import Principal, Scope, allow_session

router = APIRouter(prefix="/console", tags=["web"])

Agent = Annotated[Principal, allow_session(Scope.CUSTOMER_SERVICE)]
"""Acts on orders; the services see the agent's own token (their events, the agent)."""
READ = allow_session(Scope.CUSTOMER_SERVICE, Scope.AUDITOR)

KEY_PATTERN = r"^[\x21-\x7e]{1,100}$"
MAX_ID_LENGTH = 100
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(pattern=KEY_PATTERN)]
    """Idempotency key of the form (one per rendered page): a double submit acts once."""


class CancelForm(_Form):
    reason: CancellationReason = CancellationReason.CUSTOMER_REQUEST


class ReturnForm(_Form):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=10_000)]
    reason: ReturnReason


class RefundForm(_Form):
    amount: Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["5.00"])]
    reason: Text = "goodwill"


def _not_found(request: Request, what: str) -> HTMLResponse:
    return page(request, "not_found.html", 404, what=what)


@router.get("", response_class=HTMLResponse, dependencies=[READ])
async def search(
    request: Request,
    q: Annotated[str | None, Query(description="Order id, platform reference or e-mail")] = None,
) -> HTMLResponse:
    """Orders whose id, platform reference or customer e-mail (any case) is ``q`` exactly,
    newest first, at most 50; a query over 254 characters or with control characters is
    a 422 page."""
    text = (q or "").strip()
    if len(text) > MAX_QUERY_LENGTH or not _PRINTABLE.match(text):
        reason = f"at most {MAX_QUERY_LENGTH} printable characters"
        return page(request, "console.html", 422, q=text[:MAX_QUERY_LENGTH], error=reason, found=[])
    found = await web(request).lookup.search(text) if text else []
    return page(request, "console.html", q=text, error=None, found=found)


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= MAX_ID_LENGTH and bool(_PRINTABLE.match(value))


@router.get("/orders/{order_id}", response_class=HTMLResponse, dependencies=[READ])
async def order(request: Request, order_id: str) -> HTMLResponse:
    """Status, parcels with tracking, payments, returns, feedback, the cross-service
    timeline, the public tracking link and the actions."""
    ctx = web(request)
    found = await ctx.lookup.order(order_id) if _valid_id(order_id) else None
    if found is None:
        return _not_found(request, "no such order")
    token = tracking.sign(ctx.tracking_key, order_id)
    services = ctx.services
    return page(
        request,
        "order.html",
        file=found,
        order_id=order_id,
        track_url=f"{str(request.base_url).rstrip('/')}/track/{token}",
        track_path=f"/track/{token}",
        key=uuid.uuid4().hex,
        can={s: services.available(s) for s in ("order", "returns", "payments")},
        cancel_reasons=[r.value for r in CancellationReason],
        return_reasons=[r.value for r in ReturnReason],
    )


def _outcome(request: Request, outcome: Outcome) -> HTMLResponse:
    return page(request, "outcome.html", outcome=outcome)


@router.post("/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, order_id: Id, form: CancelForm, agent: Agent) -> HTMLResponse:
    """Cancel the order through the order service; the page shows its answer."""
    services = web(request).services
    outcome = await services.cancel(order_id, form.reason.value, form.key, agent.token)
    return _outcome(request, outcome)


@router.post("/orders/{order_id}/returns", response_class=HTMLResponse)
async def start_return(
    request: Request, order_id: Id, form: ReturnForm, agent: Agent
) -> HTMLResponse:
    """Start a return of one line through the returns service."""
    services = web(request).services
    outcome = await services.start_return(
        order_id, form.sku, form.quantity, form.reason.value, form.key, agent.token
    )
    return _outcome(request, outcome)


@router.post("/payments/{payment_id}/refunds", response_class=HTMLResponse)
async def refund(request: Request, payment_id: Id, form: RefundForm, agent: Agent) -> HTMLResponse:
    """A goodwill refund of an amount on the payment, through the payments service."""
    services = web(request).services
    outcome = await services.refund(payment_id, form.amount, form.reason, form.key, agent.token)
    return _outcome(request, outcome)
