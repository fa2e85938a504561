"""The observer: its own process, reading the order service's events topic.

It reads every partition of ``<prefix>oms.order.events`` from the start (no consumer
group) and picks four event types out by their ``event_type`` header, leaving the rest
unparsed: ``OrderPlaced`` (its payload gives the platform order reference of the order id
in its key), ``OrderConfirmed``, ``OrderCancelled`` (key: the order id) and
``OrderRejected`` (payload: the reference). A benchmark order's reference names its step
and its place in the step's schedule, so its scheduled send time is known.

**Latency** is submit → confirmed: from the order's *scheduled* send time (not the time
the generator got round to it, so a generator that falls behind adds to the figure
instead of hiding it: no coordinated omission) to the ``OrderConfirmed`` record's
timestamp (CreateTime, set by the order service's relay when it published the event).
The record timestamp rather than the time this process read it, so that an observer
lagging behind does not count against the system; how far behind it read is reported
beside (``observer_delay_ms``). Both are wall-clock times of this one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from hdrh.histogram import HdrHistogram

from oms_platform.kafka_client import KafkaConnection

from .orders import parse_ref

HIST_MAX_US = 3_600_000_000  # an hour: beyond any drain the bench waits for
WATCHED = {b"OrderPlaced", b"OrderConfirmed", b"OrderCancelled", b"OrderRejected"}


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HIST_MAX_US, 3)


@dataclass
class StepTally:
    """What the observer saw of one step's orders."""

    t0: float
    rate: float | None  # None: all at once (the burst)
    latency: HdrHistogram = field(default_factory=new_histogram)
    delay: HdrHistogram = field(default_factory=new_histogram)
    confirmed_at: list[float] = field(default_factory=list)  # record timestamps, seconds
    placed: int = 0
    confirmed: int = 0
    cancelled: int = 0
    rejected: int = 0

    def scheduled(self, seq: int) -> float:
        return self.t0 if not self.rate else self.t0 + seq / self.rate

    def summary(self) -> dict[str, Any]:
        def pct(h: HdrHistogram, p: float) -> float | None:
            return round(h.get_value_at_percentile(p) / 1000, 1) if h.get_total_count() else None

        return {
            "placed": self.placed,
            "confirmed": len(self.confirmed_at),
            "cancelled": self.cancelled,
            "rejected": self.rejected,
            "latency_ms": {
                "p50": pct(self.latency, 50),
                "p95": pct(self.latency, 95),
                "p99": pct(self.latency, 99),
                "max": pct(self.latency, 100),
                "mean": round(self.latency.get_mean_value() / 1000, 1)
                if self.latency.get_total_count()
                else None,
            },
            "observer_delay_ms": {"p50": pct(self.delay, 50), "p99": pct(self.delay, 99)},
            "histogram": self.latency.encode().decode(),
            "confirmed_at": sorted(self.confirmed_at),
        }


class Observer:
    def __init__(self, run: str) -> None:
        self.run = run
        self.steps: dict[int, StepTally] = {}
        self.order_step: dict[str, tuple[int, int]] = {}  # order id -> (step, seq)
        self.confirmed: set[str] = set()  # the relay may publish an event twice
        self.foreign = 0  # events about orders that are not this run's (none expected)

    def handle(self, record: Any, seen: float) -> None:
        headers = dict(record.headers or ())
        kind = headers.get("event_type")
        if kind not in WATCHED:
            return
        if kind == b"OrderPlaced" or kind == b"OrderRejected":
            payload = orjson.loads(record.value)["payload"]
            parsed = parse_ref(payload["platform_order_ref"])
            if parsed is None or parsed[0] != self.run or parsed[1] not in self.steps:
                self.foreign += 1
                return
            _, step, seq = parsed
            if kind == b"OrderRejected":
                self.steps[step].rejected += 1
            elif payload["order_id"] not in self.order_step:
                self.order_step[payload["order_id"]] = (step, seq)
                self.steps[step].placed += 1
            return
        order_id = record.key.decode()
        found = self.order_step.get(order_id)
        if found is None:
            self.foreign += 1
            return
        tally = self.steps[found[0]]
        if kind == b"OrderCancelled":
            tally.cancelled += 1
        elif order_id not in self.confirmed:
            self.confirmed.add(order_id)
            stamp = record.timestamp / 1000
            latency_us = (stamp - tally.scheduled(found[1])) * 1e6
            tally.latency.record_value(min(max(int(latency_us), 1), HIST_MAX_US))
            tally.delay.record_value(min(max(int((seen - stamp) * 1e6), 1), HIST_MAX_US))
            tally.confirmed_at.append(stamp)
            tally.confirmed += 1

    def command(self, msg: tuple[Any, ...]) -> Any:
        match msg:
            case ("schedule", step, t0, rate):
                self.steps[step] = StepTally(t0, rate)
                return True
            case ("settled",):
                return {k: t.confirmed + t.cancelled + t.rejected for k, t in self.steps.items()}
            case ("stats", step):
                tally = self.steps.get(step)
                doc = tally.summary() if tally else {}
                return {**doc, "foreign_events": self.foreign}
        raise ValueError(f"unknown command {msg!r}")


async def _observe(
    conn: Connection, kafka: KafkaConnection, topic: str, partitions: int, run: str
) -> None:
    consumer = AIOKafkaConsumer(
        **kafka.options(),
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    observer = Observer(run)
    try:
        # The parent created the topic with ``partitions`` partitions; without a group,
        # the consumer is not told them, so it is assigned all of them by number.
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        conn.send(("ready", None))
        while True:
            batches = await consumer.getmany(timeout_ms=50, max_records=5000)
            seen = time.time()
            for records in batches.values():
                for record in records:
                    observer.handle(record, seen)
            while conn.poll():
                msg = conn.recv()
                if msg == ("stop",):
                    return
                conn.send(("ok", observer.command(msg)))
    finally:
        await consumer.stop()


def main(conn: Connection, kafka: KafkaConnection, topic: str, partitions: int, run: str) -> None:
    """Process entry point (``multiprocessing``); answers commands on ``conn``."""
    try:
        asyncio.run(_observe(conn, kafka, topic, partitions, run))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
