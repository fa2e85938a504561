"""What every route needs, as one FastAPI dependency: the store, the handlers, the reads.

``create_app`` stores an :class:`ApiContext` in ``app.state.inventory``; routes take it as
a ``Ctx`` parameter, so the routes are built once at import time and tests can serve them
over any store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from oms_events.base import Event
from oms_inventory.handlers import Cause, Inventory
from oms_inventory.queries import InventoryQueries
from oms_platform.auth import Principal, Scope, allow
from oms_platform.commands import run_command
from oms_platform.eventstore import EventStore, UnitOfWork
from oms_platform.http import cause_of

StockKeeper = Annotated[Principal, allow(Scope.WAREHOUSE, Scope.OPERATIONS)]
"""Books stock in, counts and moves it."""
Planner = Annotated[Principal, allow(Scope.OPERATIONS)]
"""Master data, thresholds and promotions."""
READ = allow(
    Scope.OPERATIONS, Scope.WAREHOUSE, Scope.CUSTOMER_SERVICE, Scope.PLATFORM, Scope.AUDITOR
)
"""Stock, master data and reservations may be read by every role but carriers."""
STAFF_READ = allow(Scope.OPERATIONS, Scope.AUDITOR)
"""Promotion plans: operations' business."""


@dataclass(frozen=True)
class ApiContext:
    store: EventStore
    inventory: Inventory
    queries: InventoryQueries

    async def run(self, work: Callable[[UnitOfWork], Awaitable[list[Event]]]) -> list[Event]:
        """One command in its own unit of work, run again from scratch on a conflict."""
        return await run_command(self.store, work)


def _context(request: Request) -> ApiContext:
    context = request.app.state.inventory
    assert isinstance(context, ApiContext)
    return context


Ctx = Annotated[ApiContext, Depends(_context)]


def cause(correlation_id: str, caller: Principal, request_id: str | None) -> Cause:
    """The envelopes' correlation id, causation id (``X-Request-Id``) and actor (the
    verified caller)."""
    return Cause(correlation_id, cause_of(request_id), caller.actor)


def recorded(events: list[Event], body: dict[str, Any], *, created: int = 201) -> JSONResponse:
    """A command's answer: ``body`` plus the event types recorded; ``created`` (201) when it
    recorded something, 200 when it was a no-op."""
    body = {**body, "recorded": [e.event_type for e in events]}
    return JSONResponse(body, status_code=created if events else 200)
