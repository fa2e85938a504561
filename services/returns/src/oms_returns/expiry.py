"""Expiry of authorised returns whose goods never arrived: a periodic sweep.

Every ``expiry_check_s`` (setting) the loop asks ``returns_index`` for open returns whose
``expires_at`` has passed and decides ``ExpireReturn`` on each, one unit of work per
return (``run_command``). A return received in the meantime decides nothing (the decider
answers a late expiry with no events) and is closed in the index; its units become
returnable again once expired. Runs as the host loop ``return-expiry`` (``/ready`` shows
it), restarted by the host after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from oms_events.base import Event
from oms_platform.commands import run_command
from oms_platform.eventstore.base import EventStore, UnitOfWork
from oms_platform.health import LoopStatus
from oms_platform.logging import get_logger
from oms_platform.refusal import Refusal
from oms_returns.handlers import Cause, Returns

LOOP = "return-expiry"
BATCH = 100

log = get_logger(__name__)


class ReturnExpiry:
    def __init__(self, store: EventStore, returns: Returns, *, every_s: float) -> None:
        self.store = store
        self.returns = returns
        self.every_s = every_s
        self.status: LoopStatus | None = None
        """The loop's status in ``/ready``, marked ok after every sweep (set by the app)."""

    async def sweep(self) -> list[str]:
        """Expire every due return; the RMAs that expired."""
        expired: list[str] = []
        cause = Cause(causation_id=LOOP)
        while True:
            due = await self.returns.tables.due(self.returns.clock(), BATCH)
            for rma in due:
                try:
                    events = await run_command(self.store, self._expire(rma, cause))
                except Refusal as refusal:  # not due after all (a clock step back): next time
                    log.warning("return.expiry_refused", rma=rma, code=refusal.code)
                    return expired
                if events:
                    expired.append(rma)
            if len(due) < BATCH:
                return expired

    def _expire(self, rma: str, cause: Cause) -> Callable[[UnitOfWork], Awaitable[list[Event]]]:
        return lambda uow: self.returns.expire(uow, rma, cause)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            expired = await self.sweep()
            if self.status is not None:
                self.status.ok()
            if expired:
                log.info("return.expired", count=len(expired), rmas=expired[:10])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)
