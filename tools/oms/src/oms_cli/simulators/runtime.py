"""What both simulators need: HTTP calls that never raise, backoff, the poll loop, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Answer:
    """A service's answer, or ``status`` None when it could not be reached."""

    status: int | None
    body: Any = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        """Worth trying again as it is: unreachable, 5xx, timeouts and throttling."""
        return self.status is None or self.status >= 500 or self.status in TRANSIENT_STATUSES

    @property
    def code(self) -> str:
        """The problem body's ``code`` (RFC 9457 as the services answer), or ''."""
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    def summary(self) -> str:
        if self.status is None:
            return f"unreachable: {self.error}"
        detail = self.body.get("detail", "") if isinstance(self.body, dict) else self.body
        return f"{self.status} {self.code} {str(detail)[:200]}".strip()


async def call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Answer:
    """One request; every failure becomes an :class:`Answer`, never an exception."""
    try:
        resp = await client.request(method, url, **kwargs)
    except httpx.HTTPError as err:
        return Answer(None, error=f"{type(err).__name__}: {err}"[:300])
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text[:500]
    return Answer(resp.status_code, body)


def backoff_s(attempt: int, *, initial_s: float, max_s: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): doubling, capped."""
    return float(min(max_s, initial_s * 2 ** max(0, attempt - 1)))


class Remembered:
    """A bounded set (oldest forgotten first): what a long-running simulator has done."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._items: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> None:
        self._items[item] = None
        self._items.move_to_end(item)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)


class Simulator(Protocol):
    async def tick(self) -> bool:
        """One round of polling and work; False when a service could not be asked."""


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (the loop then ends after the work in flight)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop``; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def run_loop(
    sim: Simulator, stop: asyncio.Event, *, poll_s: float, max_backoff_s: float, log: Any
) -> None:
    """Tick every ``poll_s``; after failed ticks back off (doubling up to ``max_backoff_s``).

    Nothing escapes: an unexpected error is logged and counts as a failed tick.
    """
    failures = 0
    while not stop.is_set():
        try:
            ok = await sim.tick()
        except Exception:
            log.exception("simulator_tick_failed")
            ok = False
        failures = 0 if ok else failures + 1
        wait = poll_s if ok else backoff_s(failures, initial_s=poll_s, max_s=max_backoff_s)
        if failures:
            log.info("simulator_backing_off", failures=failures, wait_s=round(wait, 2))
        if await sleep_or_stop(stop, wait):
            break
