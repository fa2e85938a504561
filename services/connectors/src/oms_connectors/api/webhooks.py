"""The platforms' webhooks: verified on the raw body, then taken once per delivery."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse

from oms_connectors.api.context import Ctx
from oms_connectors.intake import Answer
from oms_connectors.shops import Platform
from oms_connectors.signatures import (
    ADOBE_HEADER,
    SHOPIFY_HEADER,
    SHOPIFY_TOPIC,
    SHOPIFY_WEBHOOK_ID,
    shopify_valid,
)
from oms_events.limits import JsonRejected, parse_json
from oms_platform.auth import PUBLIC
from oms_platform.commands import run_command
from oms_platform.http import problem
from oms_platform.refusal import FieldError

router = APIRouter()

ShopId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="The shop's id.")]
ORDERS_CREATE = "orders/create"


def respond(answer: Answer, *, adobe: bool = False) -> JSONResponse:
    """The answer as sent: a problem body for a refusal, the outcome otherwise. Adobe
    Commerce reads a webhook's outcome from ``op`` (``success``/``exception`` and
    ``message``), so its answers carry those members too."""
    body = answer.body
    extra: dict[str, Any] = {"redelivery": True} if body.get("redelivery") else {}
    if answer.status >= 400:
        if adobe:
            extra |= {"op": "exception", "message": body["detail"]}
        errors = [FieldError(e["field"], e["reason"], e["code"]) for e in body.get("errors", [])]
        return problem(answer.status, body["code"], body["detail"], errors, **extra)
    if adobe:
        body = {"op": "success", **body}
    return JSONResponse(body, status_code=answer.status)


def _payload(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except JsonRejected:
        return None  # the mapper refuses it (and the refusal is recorded for the shop)


@router.post(
    "/webhooks/shopify/{shop}",
    openapi_extra=PUBLIC,
    status_code=202,
    responses={401: {"description": "Missing or wrong X-Shopify-Hmac-Sha256"}},
)
async def shopify_webhook(
    ctx: Ctx,
    shop: ShopId,
    request: Request,
    hmac_header: Annotated[str | None, Header(alias=SHOPIFY_HEADER, max_length=200)] = None,
    webhook_id: Annotated[str | None, Header(alias=SHOPIFY_WEBHOOK_ID, max_length=100)] = None,
    topic: Annotated[str | None, Header(alias=SHOPIFY_TOPIC, max_length=100)] = None,
) -> JSONResponse:
    """A Shopify webhook delivery. No bearer token: Shopify signs the raw body with the
    app's client secret (``X-Shopify-Hmac-Sha256``), which is checked before anything is
    read or recorded."""
    config = ctx.shop(shop, Platform.SHOPIFY.value)
    raw = await request.body()
    secret = config.secret()
    if secret is None or not shopify_valid(secret.get_secret_value().encode(), raw, hmac_header):
        return problem(
            401,
            "invalid_signature",
            f"the body is not signed with shop {shop}'s app secret ({SHOPIFY_HEADER})",
            headers={"WWW-Authenticate": f'HMAC-SHA256 header="{SHOPIFY_HEADER}"'},
        )
    if not webhook_id:
        return problem(
            400,
            "webhook_id_missing",
            f"a delivery needs its {SHOPIFY_WEBHOOK_ID}",
            [FieldError(f"header:{SHOPIFY_WEBHOOK_ID}", "required", "missing")],
        )
    if topic is not None and topic != ORDERS_CREATE:
        return JSONResponse({"ignored": True, "topic": topic}, status_code=200)
    payload = _payload(raw)
    answer = await run_command(
        ctx.store, lambda uow: ctx.intake.take(uow, config, webhook_id, payload, "webhook")
    )
    return respond(answer)


@router.post(
    "/webhooks/adobe-commerce/{shop}",
    openapi_extra=PUBLIC,
    status_code=202,
    responses={401: {"description": "Missing or wrong x-adobe-commerce-webhook-signature"}},
)
async def adobe_webhook(
    ctx: Ctx,
    shop: ShopId,
    request: Request,
    signature: Annotated[str | None, Header(alias=ADOBE_HEADER, max_length=2000)] = None,
) -> JSONResponse:
    """An Adobe Commerce webhook carrying an order. No bearer token: the body is signed
    with the store's webhook key pair (``x-adobe-commerce-webhook-signature``)."""
    config = ctx.shop(shop, Platform.ADOBE_COMMERCE.value)
    raw = await request.body()
    verifier = ctx.adobe_keys.get(shop)
    if verifier is None or not verifier.valid(raw, signature):
        return problem(
            401,
            "invalid_signature",
            f"the body is not signed with store {shop}'s webhook key ({ADOBE_HEADER})",
            headers={"WWW-Authenticate": f'RSA-SHA256 header="{ADOBE_HEADER}"'},
        )
    payload = _payload(raw)
    delivery = "body:" + hashlib.sha256(raw).hexdigest()
    answer = await run_command(
        ctx.store, lambda uow: ctx.intake.take(uow, config, delivery, payload, "webhook")
    )
    return respond(answer, adobe=True)
