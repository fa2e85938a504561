"""Carriers: their webhooks (verified, parsed, matched by tracking number, recorded) and
their manifests (the parcels they have collected and not yet finished)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from oms_platform.auth import PUBLIC, Scope, allow
from oms_platform.commands import run_command
from oms_platform.http import RequestIdHeader, cause_of, problem
from oms_platform.refusal import Refusal
from oms_shipping.api.context import Ctx
from oms_shipping.domain.carriers import CARRIERS
from oms_shipping.domain.webhooks import SIGNATURE_HEADER, parse_update, verify_signature
from oms_shipping.handlers import Cause

router = APIRouter()

MAX_MANIFEST_PAGE = 500

CarrierCode = Annotated[
    str, Path(pattern=r"^[a-z0-9]{1,32}$", description="postnl, dhl, dpd or ups.")
]
SignatureHeader = Annotated[
    str | None,
    Header(
        alias=SIGNATURE_HEADER,
        max_length=200,
        description="Hex HMAC-SHA256 of the raw body under the carrier's secret "
        "(optionally prefixed 'sha256=').",
    ),
]


@router.post(
    "/carriers/{carrier}/events",
    responses={401: {"description": "Missing or invalid signature (an RFC 9457 problem)"}},
    openapi_extra=PUBLIC,
)
async def carrier_event(
    ctx: Ctx,
    carrier: CarrierCode,
    request: Request,
    signature: SignatureHeader = None,
    request_id: RequestIdHeader = None,
) -> JSONResponse:
    """A carrier's status update for one parcel (see the module docstring of ``api``).

    No bearer token: the carrier signs the body with its webhook secret instead, and the
    events record the carrier as their actor."""
    if carrier not in CARRIERS:
        raise Refusal.not_found("unknown_carrier", f"no carrier {carrier!r}", "carrier")
    body = await request.body()  # the raw bytes, as signed (the size is bounded upstream)
    if not verify_signature(ctx.secrets.get(carrier, b""), body, signature):
        return problem(
            401,
            "invalid_signature",
            f"the request is not signed with {carrier}'s webhook secret ({SIGNATURE_HEADER})",
            headers={"WWW-Authenticate": 'HMAC-SHA256 header="X-Carrier-Signature"'},
        )
    update = parse_update(carrier, body)
    cause = Cause("", cause_of(request_id), f"service:carrier-{carrier}")
    shipment_id, state, events = await run_command(
        ctx.store, lambda uow: ctx.shipping.record_update(uow, update, cause)
    )
    return JSONResponse(
        {
            "shipment_id": shipment_id,
            "update_id": update.update_id,
            "status": state.status.value,
            "recorded": [e.event_type for e in events],
        }
    )


@router.get(
    "/carriers/{carrier}/manifest",
    dependencies=[allow(Scope.CARRIER, Scope.WAREHOUSE, Scope.OPERATIONS)],
)
async def manifest(
    ctx: Ctx,
    carrier: CarrierCode,
    limit: Annotated[int, Query(ge=1, le=MAX_MANIFEST_PAGE, description="1-500.")] = 100,
) -> dict[str, Any]:
    """The carrier's shipments dispatched and not yet finished (delivered, lost, returned
    to sender), oldest dispatch first; ``more`` says whether ``limit`` cut the list."""
    if carrier not in CARRIERS:
        raise Refusal.not_found("unknown_carrier", f"no carrier {carrier!r}", "carrier")
    entries, more = await ctx.queries.directory.manifest(carrier, limit)
    shipments = [e.view() for e in entries]
    return {"carrier": carrier, "shipments": shipments, "count": len(shipments), "more": more}
