"""HTTP API of the fulfilment service, as a warehouse app uses it (JSON).

Routes are module level and reach the service through one dependency, the
:class:`~oms_fulfilment.api.context.ApiContext` that :func:`install` puts in
``app.state``. Every error is the platform's RFC 9457 problem (``oms_platform.http``): 422
with one entry per field for bad input, 404 for an unknown fulfilment, 409 for a command
the state forbids, 413 for a body over 1 MiB. Commands run in one unit of work each and
are retried from scratch on a conflict (``run_command``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from oms_fulfilment.api import backlog, fulfilments
from oms_fulfilment.api.context import ApiContext
from oms_platform.http import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
router.include_router(fulfilments.router)
router.include_router(backlog.router)


def install(app: FastAPI, context: ApiContext) -> None:
    """Serve the ``/v1`` routes on ``app`` over ``context``."""
    app.state.fulfilment = context
    app.include_router(router)


__all__ = ["ApiContext", "install", "router"]
