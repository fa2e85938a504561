"""The end-to-end load benchmark: orders through confirmation, at rising rates.

Order of a run (see bench/README.md, "End-to-end load"):

1. start order, inventory and payments on scratch databases under a topic prefix of
   their own; seed warehouses, the catalogue and stock; start the observer and one load
   generator per intake path, each its own process;
2. a warm-up: a few orders that must all be confirmed, or the system is broken and the
   run stops there;
3. idle: no traffic for ``idle_s``; every process's CPU;
4. ceilings, on the same machine in the same run: Kafka's ProducerPerformance with
   messages of the ingress message's size; the raw batched INSERT rate (the store
   benchmark's, when it ran first; else measured here);
5. the ladder on the ingress topic, then over HTTP, one step per rate, each followed by
   a bounded wait for its orders to settle; a ladder stops at the first step that falls
   behind (completed rate below ``min_completed_ratio`` of offered, p99 above
   ``p99_limit_s``, or orders left unsettled);
6. the burst: ``burst`` orders on the ingress topic at once, timed until the last one is
   confirmed or ``burst_timeout_s`` passed.

Everything started is stopped and dropped at the end, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_events.topics import ORDER_EVENTS, PLATFORM_INGRESS
from oms_platform.auth import Scope

from . import loadgen, observer
from .append import raw_append
from .children import Child
from .common import ScratchDatabases, plan
from .e2e_report import ceilings_in_orders, step_doc, step_figures
from .kafka import producer_performance
from .orders import ingress_message, order_body, ref_for
from .procs import Group, Meters, Window, process_tree
from .system import PARTITIONS, System

Log = Callable[[str], None]
STATS_FLUSH_S = 1.5  # PostgreSQL backends report their counters at most once a second
SETTLE_POLL_S = 1.0


@dataclass
class Plan:
    """What a run offers; the defaults are the full run of ``make bench``."""

    rates: list[float] = field(default_factory=lambda: [25, 50, 100, 200, 300, 500, 1000])
    http_max_rate: float = 100
    step_s: float = 20
    burst: int = 5000
    burst_timeout_s: float = 300
    idle_s: float = 30
    drain_s: float = 30  # after a step, the longest wait for its orders to settle
    recover_s: float = 180  # before the next phase, the longest wait for lag to reach 0
    p99_limit_s: float = 5.0
    min_completed_ratio: float = 0.85
    warmup: int = 20
    perf_records: int = 200_000
    raw_insert_events: int = 40_000

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            step_s=5,
            burst=1000,
            burst_timeout_s=120,
            idle_s=10,
            drain_s=20,
            recover_s=90,
            warmup=10,
            perf_records=50_000,
            raw_insert_events=8_000,
        )


@dataclass
class Step:
    """One load step as run: what was offered and what came of it (see e2e_report)."""

    label: str
    via: str
    rate: float | None  # None: the burst
    count: int
    t0: float = 0.0
    generator: dict[str, Any] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)
    lag_end: dict[str, int] = field(default_factory=dict)
    outbox_end: dict[str, int] = field(default_factory=dict)
    processes: dict[str, dict[str, float]] = field(default_factory=dict)
    store: dict[str, dict[str, int]] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)
    window_s: float = 0.0
    settled_s: float | None = None  # from t0 until every order settled; None: never


class Run:
    def __init__(self, stack: StackConfig, dbs: ScratchDatabases, plan: Plan, log: Log) -> None:
        if not ipaddress.ip_address(stack.host).is_loopback:
            # A load test sends traffic to this machine only.
            raise ValueError(f"OMS_HOST={stack.host} is not a loopback address")
        self.stack = stack
        self.dbs = dbs
        self.plan = plan
        self.log = log
        self.run_id = uuid.uuid4().hex[:8]
        self.logs = Path(tempfile.mkdtemp(prefix=f"omsbench-e2e-{self.run_id}-"))
        self.system = System(stack, self.run_id, self.logs)
        self.children: dict[str, Child] = {}
        self.meters: Meters | None = None
        self.steps: list[Step] = []
        self.warmup_step: Step | None = None
        self.doc: dict[str, Any] = {"plan": asdict(plan), "run": self.run_id}
        self._step_ids = iter(range(1, 1000))
        self.sent: dict[int, int] = {}  # step id -> orders sent

    # ------------------------------------------------------------------ set-up

    async def setup(self) -> None:
        started = time.monotonic()
        self.log(f"e2e: starting order, inventory, payments (topic prefix {self.system.prefix})")
        await self.system.create_topics()
        await asyncio.to_thread(self.system.start, self.dbs)
        await self.system.seed()
        await self.system.wait_catalogue_known()
        kafka = self.stack.kafka
        order_url = self.system.services["order"].url
        self.children["observer"] = Child(
            "observer",
            observer.main,
            kafka,
            self.system.topic(ORDER_EVENTS),
            PARTITIONS,
            self.run_id,
        )
        for via in ("kafka", "http"):
            self.children[f"generator ({via})"] = Child(
                f"generator-{via}",
                loadgen.main,
                via,
                kafka,
                self.system.topic(PLATFORM_INGRESS),
                order_url,
                tokens.mint(self.stack, (Scope.PLATFORM,), subject="platform:bench"),
                self.run_id,
            )
        for child in self.children.values():
            await child.ready()
        self.meters = Meters(self._groups())
        self.doc["setup_s"] = round(time.monotonic() - started, 1)
        self.log(f"e2e: up in {self.doc['setup_s']}s; logs in {self.logs}")

    def _groups(self) -> list[Group]:
        groups = [Group(s.name, _fixed(s.pid)) for s in self.system.services.values()]
        postmaster, broker = self.system.postmaster_pid(), self.system.broker_pid()
        if postmaster is not None:
            groups.append(Group("postgresql", lambda: process_tree(postmaster), True))
        if broker is not None:
            groups.append(Group("kafka broker", _fixed(broker)))
        groups += [Group(name, _fixed(child.pid)) for name, child in self.children.items()]
        groups.append(Group("bench (this process)", _fixed(os.getpid())))
        return groups

    async def teardown(self, failed: bool) -> None:
        for child in self.children.values():
            await asyncio.to_thread(child.stop)
        await asyncio.to_thread(self.system.stop)
        try:
            dropped = await self.system.delete_topics()
            self.log(f"e2e: stopped the services; deleted {len(dropped)} topics")
        except Exception as exc:  # the report must still come out; topics are scratch
            self.log(f"e2e: could not delete topics under {self.system.prefix}: {exc}")
        if failed:
            self.log(f"e2e: service logs kept in {self.logs}")
        else:
            shutil.rmtree(self.logs, ignore_errors=True)

    # ------------------------------------------------------------------ phases

    async def warmup(self) -> None:
        step = await self.step("warm-up", "kafka", 10.0, self.plan.warmup, drain_s=120)
        confirmed = step.seen.get("confirmed", 0)
        if confirmed < step.count:
            counts = {k: step.seen.get(k) for k in ("placed", "cancelled", "rejected")}
            raise RuntimeError(
                f"warm-up: {confirmed} of {step.count} orders confirmed within 120 s "
                f"({counts}); the system is not working:\n{self.system.log_tails()}"
            )
        self.warmup_step = step
        self.doc["warmup"] = step_doc(step, None)

    async def idle(self) -> None:
        await self.recover("idle")
        self.log(f"e2e: idle, no traffic, {self.plan.idle_s:.0f}s")
        before = self.system.commits()
        win = self._window()
        await asyncio.sleep(self.plan.idle_s)
        processes = win.close()
        await asyncio.sleep(STATS_FLUSH_S)
        after = self.system.commits()
        self.doc["idle"] = {
            "seconds": self.plan.idle_s,
            "processes": processes,
            "commits_per_s": {
                k: round((after[k] - before.get(k, 0)) / self.plan.idle_s, 1) for k in after
            },
        }
        for name in self.system.services:
            self.log(f"  idle {name:<10} {processes[name]['cpu_pct_of_core']:>5}% of a core")

    async def ceilings(self, raw_insert_rate: float | None) -> None:
        sample = ingress_message(order_body(random.Random(1), ref_for("0", 0, 0)))
        size = len(sample.value) + len(sample.key) + sum(len(k) + len(v) for k, v in sample.headers)
        topic = self.system.topic("bench.perf")
        self.log(f"e2e: ceiling, ProducerPerformance {self.plan.perf_records:,} x {size} B")
        perf = await asyncio.to_thread(
            producer_performance, self.stack, topic, self.plan.perf_records, size, "perf"
        )
        ceilings: dict[str, Any] = {
            "producer_performance_msgs_per_s": round(perf.rate, 1),
            "producer_performance_record_bytes": size,
            "producer_performance_summary": perf.extra.get("summary"),
        }
        if raw_insert_rate is None:
            self.log(f"e2e: ceiling, raw batched INSERT of {self.plan.raw_insert_events:,} events")
            dsn = self.dbs.create("e2e_raw")
            try:
                raw = await raw_append(dsn, plan(self.plan.raw_insert_events, 8, 10), "raw")
            finally:
                self.dbs.drop(dsn)
            raw_insert_rate = raw.rate
            ceilings["raw_insert_source"] = "measured here: 8 writers x 10 events per INSERT"
        else:
            ceilings["raw_insert_source"] = "the store benchmark: raw psycopg append 8w x 10ev"
        ceilings["raw_insert_events_per_s"] = round(raw_insert_rate, 1)
        self.doc["ceilings"] = ceilings

    async def ladder(self, via: str, rates: list[float]) -> None:
        await self.recover(f"{via} ladder")
        for rate in rates:
            count = max(1, round(rate * self.plan.step_s))
            step = await self.step(f"{via} {rate:g}/s", via, rate, count, self.plan.drain_s)
            self.steps.append(step)
            reason = behind(step, self.plan)
            if reason is not None:
                self.log(f"e2e: {via} ladder stops at {rate:g}/s: {reason}")
                break

    async def burst(self) -> None:
        if self.plan.burst <= 0:
            return
        await self.recover("burst")
        step = await self.step(
            f"burst {self.plan.burst:,}", "kafka", None, self.plan.burst, self.plan.burst_timeout_s
        )
        self.steps.append(step)

    async def recover(self, before: str) -> None:
        """Until every order sent so far has settled and every consumer group of this run
        has read everything (bounded). Consumer lag alone is not enough: work also
        waits in the outboxes and in the payments service's own queue."""
        deadline = time.monotonic() + self.plan.recover_s
        started = time.monotonic()
        lag: dict[str, int] = {}
        unsettled = 0
        while time.monotonic() < deadline:
            settled = await self.children["observer"].call("settled")
            unsettled = sum(n - settled.get(k, 0) for k, n in self.sent.items())
            lag = await self.system.consumer_lag()
            if unsettled <= 0 and sum(lag.values()) == 0:
                break
            await asyncio.sleep(SETTLE_POLL_S)
        waited = time.monotonic() - started
        left = sum(lag.values())
        if waited > 2 or left or unsettled > 0:
            self.log(
                f"e2e: before {before}: waited {waited:.0f}s for earlier orders to settle; "
                f"{max(unsettled, 0)} orders unsettled, lag {left}"
            )
        self.doc.setdefault("recovery", []).append(
            {
                "before": before,
                "waited_s": round(waited, 1),
                "unsettled_orders": max(unsettled, 0),
                "lag_left": lag,
            }
        )

    # ------------------------------------------------------------------ one step

    async def step(
        self, label: str, via: str, rate: float | None, count: int, drain_s: float
    ) -> Step:
        step = Step(label, via, rate, count)
        step_id = next(self._step_ids)
        gen = self.children[f"generator ({via})"]
        obs = self.children["observer"]
        prepared = await gen.call("prepare", step_id, count, step_id, timeout_s=60 + count / 100)
        store_before, commits_before = self.system.store_counts(), self.system.commits()
        step.t0 = time.time() + 0.3
        await obs.call("schedule", step_id, step.t0, rate)
        offered_s = count / rate if rate else 0.0
        win = self._window()
        send_budget = offered_s * 2 + 30
        step.generator = await gen.call(
            "go", step.t0, rate, send_budget, timeout_s=send_budget + 90
        )
        step.generator["prepare_s"] = prepared
        step.lag_end = await self.system.consumer_lag()
        step.outbox_end = self.system.outbox_backlog()
        self.sent[step_id] = int(step.generator.get("sent", 0))
        step.seen, step.settled_s = await self._settle(obs, step_id, step, drain_s)
        step.processes = win.close()
        step.window_s = round(time.time() - step.t0, 2)
        await asyncio.sleep(STATS_FLUSH_S)
        store_after, commits_after = self.system.store_counts(), self.system.commits()
        step.store = {
            name: {k: after[k] - store_before[name][k] for k in after}
            for name, after in store_after.items()
        }
        step.commits = {k: v - commits_before.get(k, 0) for k, v in commits_after.items()}
        step.seen = await obs.call("stats", step_id)  # final, with the histogram
        self._log_step(step)
        return step

    async def _settle(
        self, obs: Child, step_id: int, step: Step, drain_s: float
    ) -> tuple[dict[str, Any], float | None]:
        """Poll the observer until every sent order is confirmed, cancelled or rejected."""
        sent = step.generator.get("sent", step.count)
        deadline = time.monotonic() + drain_s
        seen: dict[str, Any] = {}
        while True:
            seen = await obs.call("stats", step_id)
            settled = seen["confirmed"] + seen["cancelled"] + seen["rejected"]
            if settled >= sent:
                last = max(seen["confirmed_at"], default=step.t0)
                return seen, round(last - step.t0, 2)
            if time.monotonic() > deadline:
                return seen, None
            await asyncio.sleep(SETTLE_POLL_S)

    def _window(self) -> Window:
        assert self.meters is not None
        return self.meters.window()

    def _log_step(self, step: Step) -> None:
        f = step_figures(step)
        lat = step.seen.get("latency_ms", {})
        offered = f"{f['offered_per_s']:>7.1f}/s" if step.rate else "at once"
        self.log(
            f"  {step.label:<16} offered {offered}  completed "
            f"{f['completed_per_s']:>7.1f}/s  p50 {lat.get('p50')} ms  p99 {lat.get('p99')} ms  "
            f"confirmed {step.seen.get('confirmed')}/{step.generator.get('sent')}  "
            f"lag at end {sum(step.lag_end.values())}"
        )


def behind(step: Step, plan: Plan) -> str | None:
    """Why a step counts as fallen behind, or None when the system kept up."""
    if step.rate is None:  # the burst: offered "at once", so only whether it drained
        if step.settled_s is None:
            return f"not drained {step.window_s:.0f} s after it was sent"
        return None
    f = step_figures(step)
    p99 = step.seen.get("latency_ms", {}).get("p99")
    if f["completed_per_s"] < plan.min_completed_ratio * f["offered_per_s"]:
        return (
            f"completed {f['completed_per_s']:.1f}/s < {plan.min_completed_ratio:.0%} of "
            f"offered {f['offered_per_s']:.1f}/s"
        )
    if p99 is None or p99 > plan.p99_limit_s * 1000:
        return f"p99 {p99} ms > {plan.p99_limit_s * 1000:.0f} ms"
    if step.settled_s is None:
        return f"orders still unsettled {plan.drain_s:.0f}s after the step"
    return None


def _fixed(pid: int) -> Callable[[], list[int]]:
    return lambda: [pid]


async def run_e2e(
    stack: StackConfig,
    dbs: ScratchDatabases,
    plan_: Plan,
    log: Log,
    raw_insert_rate: float | None = None,
) -> tuple[dict[str, Any], list[Step]]:
    """Run every phase; returns the JSON document and the steps (for the report)."""
    run = Run(stack, dbs, plan_, log)
    failed = True
    started = time.monotonic()
    try:
        await run.setup()
        assert run.meters is not None
        async with run.meters:
            await run.warmup()
            await run.idle()
            await run.ceilings(raw_insert_rate)
            phases: list[Callable[[], Awaitable[None]]] = [
                lambda: run.ladder("kafka", plan_.rates),
                lambda: run.ladder("http", [r for r in plan_.rates if r <= plan_.http_max_rate]),
                run.burst,
            ]
            for phase in phases:
                await phase()
                if dead := sorted(set(run.system.services) - set(run.system.alive())):
                    raise RuntimeError(f"services died: {dead}\n{run.system.log_tails()}")
        failed = False
    finally:
        run.doc["steps"] = [step_doc(s, behind(s, plan_)) for s in run.steps]
        settled = [run.warmup_step] if run.warmup_step else []
        run.doc["ceilings_in_orders"] = ceilings_in_orders(run.doc, settled + run.steps)
        with contextlib.suppress(Exception):
            run.doc["duration_s"] = round(time.monotonic() - started, 1)
        await run.teardown(failed)
    return run.doc, run.steps
