"""What every route needs, as one FastAPI dependency: the store, the handlers, the reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from oms_platform.eventstore import EventStore
from oms_shipping.handlers import Shipping
from oms_shipping.queries import ShippingQueries


@dataclass(frozen=True)
class ApiContext:
    store: EventStore
    shipping: Shipping
    queries: ShippingQueries
    secrets: Mapping[str, bytes]
    """Carrier code -> its webhook secret."""


def _context(request: Request) -> ApiContext:
    context = request.app.state.shipping
    assert isinstance(context, ApiContext)
    return context


Ctx = Annotated[ApiContext, Depends(_context)]
