"""Running a command: one unit of work, retried from scratch on a concurrency conflict."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from oms_platform.eventstore.base import EventStore, UnitOfWork
from oms_platform.eventstore.model import ConcurrencyConflict

T = TypeVar("T")


async def run_command(
    store: EventStore,
    work: Callable[[UnitOfWork], Awaitable[T]],
    *,
    max_conflicts: int = 100,
) -> T:
    """Load -> decide -> append inside ``work``; on a conflict, reload and decide again.

    ``work`` must be safe to re-run: everything it did in the failed attempt was rolled
    back with the transaction. After ``max_conflicts`` the conflict propagates.
    """
    conflicts = 0
    while True:
        try:
            async with store.unit_of_work() as uow:
                return await work(uow)
        except ConcurrencyConflict:
            conflicts += 1
            if conflicts > max_conflicts:
                raise
            await asyncio.sleep(random.uniform(0.001, 0.004 * min(conflicts, 25)))
