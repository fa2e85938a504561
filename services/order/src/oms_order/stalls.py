"""Stalled orders: placed, and waiting longer than ``stall_after_s`` for stock or payment.

An order waits for inventory's and payments' answers; if one never comes (a service down,
a message dead-lettered) the order would sit in ``placed`` silently. :class:`StallWatch`
makes that visible: a warning ``order.stalled`` (count and oldest ids) at most once per
``log_every_s`` while any are stalled, and a ``stalled_orders`` figure in ``/ready``.
Readiness stays green for stalled orders: they wait on other services, and this one can
still make progress (marking it unready would only take its API out of service).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from oms_order.projections.read_models import ReadModels, Stalled
from oms_platform.health import LoopStatus, ProbeResult
from oms_platform.logging import get_logger


class StallWatch:
    """Checks the read models for stalled orders every ``check_every_s`` and reports them."""

    def __init__(
        self,
        read_models: ReadModels,
        *,
        stall_after_s: float,
        check_every_s: float,
        status: LoopStatus,
        log_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        log: Any = None,
    ) -> None:
        self.read_models = read_models
        self.stall_after_s = stall_after_s
        self.check_every_s = check_every_s
        self.status = status
        self.log_every_s = log_every_s
        self.clock = clock
        self.log = log
        self._logged_at: float | None = None

    async def check(self) -> Stalled:
        """Look once; log when orders are stalled and the last line is old enough."""
        stalled = await self.read_models.stalled()
        self.status.ok()
        now = self.clock()
        due = self._logged_at is None or now - self._logged_at >= self.log_every_s
        if stalled.count and due:
            # A logger fetched per line (they are rare), so that it follows the logging
            # configuration in force now, not the one at import time.
            log = self.log or get_logger(__name__)
            log.warning("order.stalled", stall_after_s=self.stall_after_s, **stalled.as_dict())
            self._logged_at = now
        return stalled

    async def run(self, stop: asyncio.Event) -> None:
        """Check until ``stop`` is set (the host restarts it after a failed check)."""
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.check_every_s)

    async def probe(self) -> ProbeResult:
        """The ``stalled_orders`` figure of ``/ready``; never makes the service unready."""
        stalled = await self.read_models.stalled()
        # "stalled" is the count, the key ``oms status`` shows.
        details = {
            "stalled": stalled.count,
            "oldest": stalled.oldest,
            "oldest_waiting_s": stalled.as_dict()["oldest_waiting_s"],
            "stall_after_s": self.stall_after_s,
        }
        return ProbeResult(True, details)
