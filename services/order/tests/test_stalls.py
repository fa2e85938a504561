"""The stall watch: a warning at most once a minute while orders are stalled, a /ready figure."""

from __future__ import annotations

import asyncio
from typing import Any

from oms_order.projections.read_models import Stalled
from oms_order.stalls import StallWatch
from oms_platform.health import LoopStatus


class Found:
    """Read models that report whatever stall the test sets."""

    def __init__(self) -> None:
        self.now = Stalled(0, [], None)

    async def stalled(self, limit: int = 5) -> Stalled:
        return self.now


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def watch(found: Found, log: Log, clock: Clock) -> StallWatch:
    return StallWatch(
        found,  # type: ignore[arg-type]
        stall_after_s=60,
        check_every_s=0.01,
        status=LoopStatus("stalled-orders"),
        clock=clock,
        log=log,
    )


async def test_stalled_orders_are_logged_at_most_once_a_minute() -> None:
    found, log, clock = Found(), Log(), Clock()
    w = watch(found, log, clock)
    await w.check()
    assert log.lines == []  # nothing stalled, nothing said
    found.now = Stalled(3, ["ord-a", "ord-b", "ord-c"], 75.0)
    await w.check()
    clock.t += 30
    await w.check()
    assert log.lines == [
        (
            "order.stalled",
            {
                "stall_after_s": 60,
                "count": 3,
                "oldest": ["ord-a", "ord-b", "ord-c"],
                "oldest_waiting_s": 75.0,
            },
        )
    ]
    clock.t += 30
    await w.check()
    assert len(log.lines) == 2


async def test_the_probe_reports_the_count_and_stays_ready() -> None:
    found = Found()
    found.now = Stalled(1, ["ord-a"], 61.0)
    result = await watch(found, Log(), Clock()).probe()
    assert result.ready
    assert result.details == {
        "stalled": 1,
        "oldest": ["ord-a"],
        "oldest_waiting_s": 61.0,
        "stall_after_s": 60,
    }


async def test_the_watch_runs_until_stopped_and_says_it_is_healthy() -> None:
    found, log = Found(), Log()
    found.now = Stalled(1, ["ord-a"], 61.0)
    w = watch(found, log, Clock())
    w.status.failing("database restarting")
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert len(log.lines) == 1 and w.status.failing_since is None
