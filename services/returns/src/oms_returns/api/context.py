"""What every route needs, as one FastAPI dependency: the store, the handlers, the reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from oms_platform.eventstore.base import EventStore
from oms_returns.expiry import ReturnExpiry
from oms_returns.handlers import Returns
from oms_returns.queries import ReturnQueries


@dataclass(frozen=True)
class ApiContext:
    store: EventStore
    returns: Returns
    queries: ReturnQueries
    expiry: ReturnExpiry


def _context(request: Request) -> ApiContext:
    context = request.app.state.returns
    assert isinstance(context, ApiContext)
    return context


Ctx = Annotated[ApiContext, Depends(_context)]
