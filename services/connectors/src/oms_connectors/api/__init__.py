"""HTTP API of the connectors service.

Webhooks (no bearer token: each is signed by its platform and checked on the raw body):

- ``POST /v1/webhooks/shopify/{shop}``: an ``orders/create`` delivery. 401 for a missing or
  wrong ``X-Shopify-Hmac-Sha256`` (nothing recorded); 400 without ``X-Shopify-Webhook-Id``;
  202 taken, 200 a duplicate (the same order again), the first answer again for the same
  webhook id (``redelivery: true``), 422 with every reason when it cannot be mapped (also
  recorded for the shop). Other topics are answered 200 and ignored (``ignored: true``).
- ``POST /v1/webhooks/adobe-commerce/{shop}``: a Commerce webhook carrying the order entity
  (``{"data": {"order": ...}}`` or ``{"order": ...}``), signed in
  ``x-adobe-commerce-webhook-signature``; the same answers (a delivery is named by its body's
  digest).

Reading (bearer token):

- ``GET /v1/shops`` (platform, operations): the shops, their intake and their backlog;
- ``GET /v1/shops/{shop}/refusals?after=&limit=`` (platform, operations, customer-service):
  what could not be taken, and orders the OMS rejected, with the reasons;
- ``GET /v1/shops/{shop}/orders/{platform_order_id}`` (platform, operations,
  customer-service): the OMS order it became and what the platform was told;
- ``GET /v1/shops/{shop}/outbound?status=pending|done|failed`` (operations): the way back.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from oms_connectors.api import shops, webhooks
from oms_connectors.api.context import ApiContext
from oms_platform.http import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
router.include_router(webhooks.router)
router.include_router(shops.router)


def install(app: FastAPI, context: ApiContext) -> None:
    app.state.connectors = context
    app.include_router(router)


__all__ = ["ApiContext", "install", "router"]
