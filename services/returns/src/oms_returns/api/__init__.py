"""HTTP API of the returns service (JSON).

- ``POST /v1/orders/{order_id}/returns``: lines (SKU, units, optional reason and
  comment), the request's reason (``damaged``, ``defective``, ``wrong_item``,
  ``wrong_size``, ``not_as_described``, ``arrived_late``, ``no_longer_needed``, ``other``)
  and comment; ``Idempotency-Key`` names the return. 201 with the authorised return, or
  the domain's refusal: ``order_not_found`` 404, ``order_not_delivered`` 409,
  ``sku_not_delivered`` 422, ``return_window_closed`` 409, ``return_exceeds_delivered``
  409, ``return_exists`` 409, each naming the field at fault.
- ``POST /v1/returns/{rma}/received``: per line SKU, units and condition (``resellable``,
  ``damaged``, ``defective``, ``missing``) -> ``ReturnReceived`` + ``ReturnResolved``;
  200 with the resolved return. Refusals: ``return_not_found`` 404, ``return_expired``,
  ``receipt_exceeds_authorized``, ``return_already_received`` 409, ``sku_not_in_return`` 422.
- ``GET /v1/returns/{rma}``, ``GET /v1/orders/{order_id}/returns``.

Every error is the platform's RFC 9457 problem (``oms_platform.http``); bodies are at
most 1 MiB (413) and JSON within the platform's limits; bad input is 422 per field.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from oms_platform.http import PROBLEM_RESPONSES
from oms_returns.api import returns
from oms_returns.api.context import ApiContext

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
router.include_router(returns.router)


def install(app: FastAPI, context: ApiContext) -> None:
    """Serve the ``/v1`` routes on ``app`` over ``context``."""
    app.state.returns = context
    app.include_router(router)


__all__ = ["ApiContext", "install", "router"]
