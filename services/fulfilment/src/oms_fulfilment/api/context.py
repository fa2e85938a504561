"""What every route needs, as one FastAPI dependency: the store, the handlers, the reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from oms_events.base import Event
from oms_fulfilment.handlers import Cause, Fulfilments
from oms_fulfilment.queries import FulfilmentQueries
from oms_platform.auth import Principal, Scope, allow
from oms_platform.commands import run_command
from oms_platform.eventstore.base import EventStore, UnitOfWork
from oms_platform.http import cause_of

Warehouse = Annotated[Principal, allow(Scope.WAREHOUSE, Scope.OPERATIONS)]
"""Reports picks and packs, cancels what cannot be fulfilled."""
READ = allow(Scope.WAREHOUSE, Scope.OPERATIONS, Scope.CUSTOMER_SERVICE, Scope.AUDITOR)


@dataclass(frozen=True)
class ApiContext:
    store: EventStore
    fulfilments: Fulfilments
    queries: FulfilmentQueries

    async def run(self, work: Callable[[UnitOfWork], Awaitable[list[Event]]]) -> list[Event]:
        """One command in its own unit of work, run again from scratch on a conflict."""
        return await run_command(self.store, work)


def _context(request: Request) -> ApiContext:
    context = request.app.state.fulfilment
    assert isinstance(context, ApiContext)
    return context


Ctx = Annotated[ApiContext, Depends(_context)]


def cause(fulfilment_id: str, caller: Principal, request_id: str | None) -> Cause:
    """Causation id (``X-Request-Id``) and actor (the verified caller); the correlation id
    becomes the fulfilment's order id once it is loaded."""
    return Cause(fulfilment_id, cause_of(request_id), caller.actor)


def recorded(events: list[Event], body: dict[str, Any]) -> JSONResponse:
    """A command's answer: ``body`` plus the event types recorded; 201 when it recorded
    something, 200 when it was a no-op (the same report again)."""
    body = {**body, "recorded": [e.event_type for e in events]}
    return JSONResponse(body, status_code=201 if events else 200)
