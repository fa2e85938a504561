"""HTTP API: carrier webhooks in, shipments out (JSON).

- ``POST /v1/carriers/{carrier}/events``: a carrier's status update, signed with an
  HMAC-SHA256 of the raw body under that carrier's secret in ``X-Carrier-Signature``
  (hex, optionally ``sha256=``). Missing or wrong signature: 401, nothing recorded;
  unknown carrier: 404; a body that is not an update: 422 (``invalid_carrier_update``);
  an unknown tracking number: 404 (``unknown_tracking_number``); an update contradicting
  a shipment's end: 409 (``shipment_closed``). Otherwise 200 with what was recorded
  (nothing, for a duplicate or stale update).
- ``GET /v1/carriers/{carrier}/manifest?limit=``: the carrier's shipments dispatched and
  not yet finished, oldest first (what a carrier collects and still owes news of); 404
  for an unknown carrier, ``limit`` 1-500 (default 100).
- ``GET /v1/shipments/{shipment_id}``: one shipment, its choice, costs and timeline.
- ``GET /v1/orders/{order_id}/shipments``: every shipment booked for an order.

Every error is the platform's RFC 9457 problem (``oms_platform.http``); bodies are at
most 1 MiB (413) and JSON within the platform's limits.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from oms_platform.http import PROBLEM_RESPONSES
from oms_shipping.api import carriers, shipments
from oms_shipping.api.context import ApiContext

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
for _area in (carriers, shipments):
    router.include_router(_area.router)


def install(app: FastAPI, context: ApiContext) -> None:
    """Serve the ``/v1`` routes on ``app`` over ``context``."""
    app.state.shipping = context
    app.include_router(router)


__all__ = ["ApiContext", "install", "router"]
