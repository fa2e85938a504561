"""Waiters and the idle wait, with no database: a fake clock and wakeups by hand."""

from __future__ import annotations

import asyncio

from oms_platform.notify import IdleWait, Waiter, Wakeup


async def test_a_waiter_reports_a_wakeup_once_and_times_out_otherwise() -> None:
    wakeup = Wakeup("postgresql://unused")
    first, second = wakeup.waiter(), wakeup.waiter()
    assert not await first.wait(0.01)
    wakeup.wake_all()
    assert await first.wait(0.01)
    assert not await first.wait(0.01)  # cleared on return
    assert await second.wait(0)  # every waiter got it


async def test_a_waiter_wakes_as_soon_as_notified_or_stopped() -> None:
    waiter, stop = Waiter(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, waiter.wake)
    started = loop.time()
    assert await waiter.wait(10, stop)
    loop.call_later(0.05, stop.set)
    assert not await waiter.wait(10, stop)
    assert loop.time() - started < 1


class FakeWaiter(Waiter):
    """Records the timeouts asked for; answers from a script."""

    def __init__(self, answers: list[bool]) -> None:
        super().__init__()
        self.answers = answers
        self.timeouts: list[float] = []

    async def wait(self, timeout_s: float, stop: asyncio.Event | None = None) -> bool:
        self.timeouts.append(timeout_s)
        return self.answers.pop(0)


async def test_after_a_wakeup_that_found_nothing_it_retries_shortly_then_waits_long() -> None:
    now = [0.0]
    waiter = FakeWaiter([True, False, False, False, False])
    idle = IdleWait(waiter, 1.0, retry_s=0.01, retry_window_s=0.5, clock=lambda: now[0])
    stop = asyncio.Event()
    await idle.wait(stop)  # woken
    await idle.wait(stop)  # the read found nothing: retry soon
    now[0] = 0.4
    await idle.wait(stop)
    now[0] = 0.6  # the window is over
    await idle.wait(stop)
    await idle.wait(stop)
    assert waiter.timeouts == [1.0, 0.01, 0.02, 1.0, 1.0]  # the pause doubles


async def test_a_read_that_found_events_ends_the_short_retries() -> None:
    waiter = FakeWaiter([True, False])
    idle = IdleWait(waiter, 1.0, retry_s=0.01, clock=lambda: 0.0)
    await idle.wait(asyncio.Event())
    idle.found()
    await idle.wait(asyncio.Event())
    assert waiter.timeouts == [1.0, 1.0]


async def test_without_a_wakeup_it_sleeps_the_fallback_poll() -> None:
    idle = IdleWait(None, 0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await idle.wait(asyncio.Event())
    assert loop.time() - started >= 0.04
