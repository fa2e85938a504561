"""CPU time and memory of the processes taking part in the end-to-end run, from /proc.

A *group* is one line of the report: a service, the load generator, PostgreSQL (the
postmaster and every process it forked), the Kafka broker. Its CPU over a window is the
utime+stime delta of its processes; a process that starts inside the window counts from
zero, and one that exits takes its counters with it (PostgreSQL backends of closed
connections; the services keep theirs pooled, so little is lost). Memory is sampled:
the peak of the group's summed RSS over the window, except for PostgreSQL, whose
processes share their buffers, so there the sum of PSS (each shared page split between
the processes mapping it) is what adds up to the server's footprint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot (/proc/stat; iowait counts idle)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def cpu_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[11]) + int(fields[12])


def rss_bytes(pid: int) -> int:
    fields = _stat_fields(pid)
    return 0 if fields is None else int(fields[21]) * _PAGE


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss_bytes(pid)


def process_tree(root: int) -> list[int]:
    """``root`` and its direct children (PostgreSQL forks every process from the postmaster)."""
    pids = [root]
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == root:
                pids.append(int(entry.name))
    return pids


@dataclass
class Group:
    """Processes reported as one; ``pids`` is called at every sample (trees change)."""

    name: str
    pids: Callable[[], list[int]]
    shared_memory: bool = False  # sum PSS instead of RSS


@dataclass
class Window:
    """CPU and memory of every group between :meth:`Meters.window` and :meth:`close`."""

    meters: Meters
    started: float
    ticks: dict[str, dict[int, int]]
    machine: tuple[int, int]
    peak: dict[str, int] = field(default_factory=dict)

    def sample(self, memory: dict[str, int]) -> None:
        for name, value in memory.items():
            self.peak[name] = max(self.peak.get(name, 0), value)

    def close(self) -> dict[str, dict[str, float]]:
        """``{group: {"cpu_s", "cpu_pct_of_core", "peak_mb"}}`` over the window, and
        ``"machine"``: how busy all CPUs were and how many cores went to other processes
        (anything on the machine outside the groups: other users' work, on a shared one)."""
        self.meters.windows.remove(self)
        seconds = max(time.monotonic() - self.started, 1e-9)
        now = self.meters.ticks()
        self.sample(self.meters.memory())
        out: dict[str, dict[str, float]] = {}
        for name, per_pid in now.items():
            before = self.ticks.get(name, {})
            delta = sum(max(t - before.get(pid, 0), 0) for pid, t in per_pid.items()) / _TICK
            out[name] = {
                "cpu_s": round(delta, 2),
                "cpu_pct_of_core": round(delta / seconds * 100, 1),
                "peak_mb": round(self.peak.get(name, 0) / 2**20, 1),
            }
        busy, total = machine_ticks()
        busy_s = (busy - self.machine[0]) / _TICK
        ours = sum(doc["cpu_s"] for doc in out.values())
        out["machine"] = {
            "cpu_busy_pct": round(busy_s / max((total - self.machine[1]) / _TICK, 1e-9) * 100, 1),
            "other_processes_cores": round(max(busy_s - ours, 0.0) / seconds, 2),
        }
        return out


class Meters:
    """Samples the groups' memory every ``interval_s`` while any window is open."""

    def __init__(self, groups: list[Group], interval_s: float = 1.0) -> None:
        self.groups = groups
        self.interval_s = interval_s
        self.windows: list[Window] = []
        self._task: asyncio.Task[None] | None = None

    def ticks(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        for group in self.groups:
            per_pid = {}
            for pid in group.pids():
                ticks = cpu_ticks(pid)
                if ticks is not None:
                    per_pid[pid] = ticks
            out[group.name] = per_pid
        return out

    def memory(self) -> dict[str, int]:
        size = {True: pss_bytes, False: rss_bytes}
        return {g.name: sum(size[g.shared_memory](p) for p in g.pids()) for g in self.groups}

    def window(self) -> Window:
        win = Window(self, time.monotonic(), self.ticks(), machine_ticks())
        win.sample(self.memory())
        self.windows.append(win)
        return win

    async def __aenter__(self) -> Meters:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if self.windows:
                # /proc reads are fast; off the loop they would race the windows' close.
                memory = self.memory()
                for win in list(self.windows):
                    win.sample(memory)
