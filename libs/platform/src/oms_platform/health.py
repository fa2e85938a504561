"""What a service knows about its own progress, for ``/ready`` and ``oms status``.

Each background loop (a consumer, the relay, a projection) owns a :class:`LoopStatus`:
it calls ``ok()`` when it made progress or found nothing to do, and ``failing(error)``
when an attempt failed. A loop that has been failing for longer than the grace period
makes the service not ready: it is alive, but it cannot make progress. Probes add
figures of their own (relay lag, parked events, stalled orders) and may fail readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from oms_platform.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], float]


@dataclass
class LoopStatus:
    """The state of one background loop."""

    name: str
    clock: Clock = time.monotonic
    failing_since: float | None = None
    last_error: str | None = None
    failures: int = 0
    waiting_on: str | None = None

    def ok(self) -> None:
        self.failing_since = None
        self.last_error = None
        self.waiting_on = None

    def failing(self, error: BaseException | str, *, waiting_on: str | None = None) -> None:
        if self.failing_since is None:
            self.failing_since = self.clock()
        self.failures += 1
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.last_error = text[:500]
        self.waiting_on = waiting_on

    def failing_for(self) -> float:
        return 0.0 if self.failing_since is None else self.clock() - self.failing_since

    def report(self) -> dict[str, Any]:
        return {
            "failing_for_s": round(self.failing_for(), 1),
            "last_error": self.last_error,
            "waiting_on": self.waiting_on,
            "failures": self.failures,
        }


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """A figure for the readiness body; ``ready=False`` makes the service not ready."""

    ready: bool
    details: dict[str, Any]
    reason: str | None = None


Probe = Callable[[], Awaitable[ProbeResult]]


@dataclass
class Health:
    """Loops and probes of one service, and the verdict they add up to."""

    grace_s: float = 5.0
    clock: Clock = time.monotonic
    loops: dict[str, LoopStatus] = field(default_factory=dict)
    probes: dict[str, Probe] = field(default_factory=dict)

    def loop(self, name: str) -> LoopStatus:
        """The status of loop ``name`` (made on first use)."""
        status = self.loops.get(name)
        if status is None:
            status = self.loops[name] = LoopStatus(name, self.clock)
        return status

    def add_probe(self, name: str, probe: Probe) -> None:
        self.probes[name] = probe

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """``(ready, body)``: not ready while a loop fails past the grace period or a probe
        says so; the body lists every loop, every probe's figures and the reasons."""
        reasons: list[str] = []
        loops = {}
        for name, status in sorted(self.loops.items()):
            loops[name] = status.report()
            if status.failing_since is not None and status.failing_for() > self.grace_s:
                reasons.append(f"{name} failing for {status.failing_for():.0f}s")
        figures: dict[str, Any] = {}
        for name, probe in self.probes.items():
            try:
                result = await probe()
            except Exception as err:
                reasons.append(f"{name} probe failed: {type(err).__name__}")
                figures[name] = {"error": f"{type(err).__name__}: {err}"[:300]}
                continue
            figures[name] = result.details
            if not result.ready:
                reasons.append(result.reason or f"{name} not ready")
        return not reasons, {"ready": not reasons, "reasons": reasons, "loops": loops, **figures}


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def keep_running(
    loop: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event, status: LoopStatus
) -> None:
    """Run ``loop(stop)`` until ``stop``, restarting it after a failure (database blip,
    lost lease, broker away) with a growing pause; each failure shows in ``status``."""
    failures = 0
    while not stop.is_set():
        try:
            await loop(stop)
        except Exception as err:
            failures += 1
            status.failing(err)
            if failures == 1 or failures % 30 == 0:
                log.exception("service.loop_failed", loop=status.name, failures=failures)
            await sleep_or_stop(stop, min(2.0, 0.2 * failures))
