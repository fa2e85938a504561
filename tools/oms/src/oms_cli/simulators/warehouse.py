"""The warehouse simulator: works the open pick lists of every warehouse over fulfilment's
HTTP, as the warehouse app would.

Each round it reads the warehouses' pick lists (``open``: to pick, ``picked``: to pack),
reports a fulfilment picked ``pick_delay_s`` after first seeing it (per line the units
found, :func:`pick_report`), then packed ``pack_delay_s`` later. The pick report follows
from the seed and the fulfilment id alone, so a restarted simulator sends the same report
again, which fulfilment answers as a duplicate (200, nothing recorded); packing twice is
a duplicate too.

Not simulated: pickers, capacity and shifts (every due fulfilment is worked at once),
box choice (fulfilment chooses), damaged stock found while picking, cancellations.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from oms_cli.simulators.runtime import Answer, Remembered, backoff_s, call
from oms_cli.simulators.settings import WarehouseSimSettings

PAGE = 500
CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    quantity: int


def pick_report(
    seed: int, fulfilment_id: str, lines: Sequence[Line], short_pick_rate: float
) -> list[Line]:
    """The units found per line of a pick list: all of them, or, with probability
    ``short_pick_rate``, one unit fewer on one line (each unit equally likely to be the
    missing one). A pick list of a single unit is never short: a pick that finds nothing
    leaves nothing to pack. Deterministic in ``(seed, fulfilment_id)``."""
    rng = random.Random(f"warehouse:{seed}:{fulfilment_id}")
    found = [Line(ln.sku, ln.quantity) for ln in lines]
    roll = rng.random()
    total = sum(ln.quantity for ln in lines)
    if total < 2 or roll >= short_pick_rate:
        return found
    unit = rng.randrange(total)
    for i, ln in enumerate(lines):
        if unit < ln.quantity:
            found[i] = Line(ln.sku, ln.quantity - 1)
            break
        unit -= ln.quantity
    return found


@dataclass(frozen=True, slots=True)
class Task:
    """The next thing to do for one fulfilment."""

    fulfilment_id: str
    warehouse: str
    kind: str  # "pick" | "pack"
    due: float
    lines: tuple[Line, ...] = ()
    attempts: int = 0


def _lines(doc: dict[str, Any]) -> tuple[Line, ...]:
    return tuple(Line(str(ln["sku"]), int(ln["quantity"])) for ln in doc.get("lines") or [])


class WarehouseSimulator:
    """Polls pick lists and reports picks and packs when they fall due (see the module)."""

    def __init__(
        self,
        settings: WarehouseSimSettings,
        client: httpx.AsyncClient,
        log: Any,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.client = client
        self.log = log
        self.clock = clock
        self.fixed = settings.warehouse_codes()
        self.codes: tuple[str, ...] = self.fixed
        self._codes_read_at: float | None = None
        self.tasks: dict[str, Task] = {}
        self.done = Remembered()
        self.picked = 0
        self.short_picked = 0
        self.packed = 0

    async def tick(self) -> bool:
        now = self.clock()
        ok = await self._refresh_warehouses(now)
        for code in self.codes:
            ok = await self._scan(code, "open", now) and ok
            ok = await self._scan(code, "picked", now) and ok
        await self._work(self.clock())
        return ok

    async def _refresh_warehouses(self, now: float) -> bool:
        if self.fixed:
            return True
        read_at = self._codes_read_at
        fresh = read_at is not None and now - read_at < self.settings.warehouses_refresh_s
        if fresh and self.codes:  # none known yet: ask every round until there are some
            return True
        answer = await call(self.client, "GET", f"{self.settings.inventory_url}/v1/warehouses")
        if not answer.ok or not isinstance(answer.body, list):
            self.log.warning("warehouses_not_read", answer=answer.summary())
            return bool(self.codes)  # keep working the ones known
        codes = tuple(
            str(w["code"]) for w in answer.body if isinstance(w, dict) and w.get("active", True)
        )
        if codes != self.codes:
            self.log.info("warehouses", codes=list(codes))
        self.codes, self._codes_read_at = codes, now
        return True

    async def _scan(self, code: str, status: str, now: float) -> bool:
        url = f"{self.settings.fulfilment_url}/v1/warehouses/{code}/picklists"
        answer = await call(self.client, "GET", url, params={"status": status, "limit": PAGE})
        if not answer.ok or not isinstance(answer.body, dict):
            self.log.warning("picklists_not_read", warehouse=code, answer=answer.summary())
            return False
        for doc in answer.body.get("picklists") or []:
            fid = str(doc["fulfilment_id"])
            if fid in self.done:
                continue
            known = self.tasks.get(fid)
            if status == "open" and known is None:
                due = now + self.settings.pick_delay_s
                self.tasks[fid] = Task(fid, code, "pick", due, _lines(doc))
            elif status == "picked" and (known is None or known.kind == "pick"):
                # Picked already (by us before a restart, or by someone else): pack it.
                self.tasks[fid] = Task(fid, code, "pack", now + self.settings.pack_delay_s)
        return True

    async def _work(self, now: float) -> None:
        due = sorted((t for t in self.tasks.values() if t.due <= now), key=lambda t: t.due)
        if not due:
            return
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(task: Task) -> None:
            async with gate:
                await (self._pick(task) if task.kind == "pick" else self._pack(task))

        await asyncio.gather(*(one(t) for t in due))

    async def _pick(self, task: Task) -> None:
        report = pick_report(
            self.settings.seed, task.fulfilment_id, task.lines, self.settings.short_pick_rate
        )
        body = {"lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in report]}
        url = f"{self.settings.fulfilment_url}/v1/fulfilments/{task.fulfilment_id}/picked"
        answer = await call(self.client, "POST", url, json=body)
        short = [
            {"sku": asked.sku, "missing": asked.quantity - found.quantity}
            for asked, found in zip(task.lines, report, strict=True)
            if found.quantity < asked.quantity
        ]
        if answer.ok or answer.code == "already_picked":
            if answer.status == 201:
                self.picked += 1
                self.short_picked += bool(short)
            self.log.info(
                "picked",
                fulfilment_id=task.fulfilment_id,
                warehouse=task.warehouse,
                short=short,
                duplicate=answer.status != 201,
            )
            due = self.clock() + self.settings.pack_delay_s
            self.tasks[task.fulfilment_id] = Task(task.fulfilment_id, task.warehouse, "pack", due)
            return
        self._failed(task, answer)

    async def _pack(self, task: Task) -> None:
        url = f"{self.settings.fulfilment_url}/v1/fulfilments/{task.fulfilment_id}/packed"
        answer = await call(self.client, "POST", url)
        if answer.ok:
            body = answer.body if isinstance(answer.body, dict) else {}
            self.packed += answer.status == 201
            self.log.info(
                "packed",
                fulfilment_id=task.fulfilment_id,
                warehouse=task.warehouse,
                boxes=[p.get("box") for p in body.get("parcels") or []],
                duplicate=answer.status != 201,
            )
            self._finish(task)
            return
        self._failed(task, answer)

    def _failed(self, task: Task, answer: Answer) -> None:
        if answer.transient:
            attempts = task.attempts + 1
            wait = backoff_s(attempts, initial_s=0.5, max_s=self.settings.max_backoff_s)
            self.log.warning(
                f"{task.kind}_retried",
                fulfilment_id=task.fulfilment_id,
                answer=answer.summary(),
                attempts=attempts,
                wait_s=wait,
            )
            self.tasks[task.fulfilment_id] = replace(
                task, due=self.clock() + wait, attempts=attempts
            )
            return
        # Refused (cancelled, nothing to pack, ...): the fulfilment is not ours to work.
        self.log.warning(
            f"{task.kind}_refused", fulfilment_id=task.fulfilment_id, answer=answer.summary()
        )
        self._finish(task)

    def _finish(self, task: Task) -> None:
        self.tasks.pop(task.fulfilment_id, None)
        self.done.add(task.fulfilment_id)
