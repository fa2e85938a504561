"""Workload, payloads, scratch databases and timing shared by every measurement.

Every system under test gets the same workload: ``writers`` concurrent writers, each
owning ``streams_per_writer`` streams and cycling over them, appending ``batch`` events
with contiguous versions to one stream per transaction. The payload of every event is
the same realistic ~400-byte order document (one per stream, money as strings).
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

EVENT_TYPE = "OrderPlaced"
PRODUCER = "order"
ACTOR = "platform:shopify"
STREAMS_PER_WRITER = 64


# --------------------------------------------------------------------------- payloads


def order_payload(rng: random.Random, order_id: str) -> dict[str, Any]:
    """An order-ish document: three lines, money as decimal strings (~400 bytes as JSON)."""
    lines = []
    subtotal = 0
    for _ in range(3):
        qty = rng.randint(1, 4)
        cents = rng.randint(199, 12999)
        subtotal += qty * cents
        lines.append(
            {
                "sku": f"SKU-{rng.randint(0, 99999):05d}",
                "qty": qty,
                "unit_price": f"{cents / 100:.2f}",
            }
        )
    shipping = 495
    tax = subtotal * 19 // 100
    placed = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 30_000_000))
    return {
        "order_id": order_id,
        "customer_id": f"cus_{rng.getrandbits(40):010x}",
        "channel": "shopify",
        "currency": "EUR",
        "lines": lines,
        "subtotal": f"{subtotal / 100:.2f}",
        "shipping": f"{shipping / 100:.2f}",
        "tax": f"{tax / 100:.2f}",
        "total": f"{(subtotal + shipping + tax) / 100:.2f}",
        "ship_to": {"country": "DE", "postcode": f"{rng.randint(10000, 99999)}", "city": "Berlin"},
        "placed_at": placed.isoformat(),
    }


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True, slots=True)
class Stream:
    order_id: str  # also the correlation id (the Kafka key)
    stream_id: str  # text id used by the OMS store and the raw ceiling
    uuid: uuid.UUID  # eventsourcing's originator ids are UUIDs
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Append:
    """One transaction: ``count`` events on ``stream``, versions first..first+count-1."""

    stream: Stream
    first_version: int
    count: int


def plan(events: int, writers: int, batch: int, seed: int = 7) -> list[list[Append]]:
    """Each writer's appends, in order. ``events`` is rounded down to a multiple of
    ``writers * batch``."""
    rng = random.Random(seed)
    per_writer = events // (writers * batch)
    out: list[list[Append]] = []
    for _ in range(writers):
        streams = []
        for _ in range(STREAMS_PER_WRITER):
            sid = uuid.UUID(int=rng.getrandbits(128), version=4)
            order_id = f"ord_{sid.hex[:16]}"
            streams.append(Stream(order_id, f"order-{sid}", sid, order_payload(rng, order_id)))
        versions = [0] * STREAMS_PER_WRITER
        appends = []
        for k in range(per_writer):
            i = k % STREAMS_PER_WRITER
            appends.append(Append(streams[i], versions[i] + 1, batch))
            versions[i] += batch
        out.append(appends)
    return out


def planned_events(work: list[list[Append]]) -> int:
    return sum(a.count for appends in work for a in appends)


def rounds(work: list[list[Append]], count: int) -> list[list[list[Append]]]:
    """Split every writer's appends into ``count`` consecutive parts (versions go on)."""
    return [
        [w[r * len(w) // count : (r + 1) * len(w) // count] for w in work] for r in range(count)
    ]


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """Throughput of one measured run (events per second of wall-clock time)."""

    name: str
    events: int
    seconds: float
    latencies: list[float] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    client_cpu: float | None = None  # seconds of this process's CPU in the window
    server_cpu: float | None = None  # seconds of the PostgreSQL server's CPU in the window
    parts: int = 1

    round_rates: list[float] = field(default_factory=list)

    @property
    def overall_rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def rate(self) -> float:
        """The median of the rounds' rates when there were rounds: a burst of load from
        elsewhere on the machine during one round then does not move the figure."""
        return statistics.median(self.round_rates) if self.round_rates else self.overall_rate

    @classmethod
    def merge(cls, name: str, parts: list[Result]) -> Result:
        """Rounds of one measurement: events and times add up."""

        def total(values: list[float | None]) -> float | None:
            return None if any(v is None for v in values) else sum(v or 0.0 for v in values)

        return cls(
            name,
            sum(p.events for p in parts),
            sum(p.seconds for p in parts),
            [lat for p in parts for lat in p.latencies],
            {},
            total([p.client_cpu for p in parts]),
            total([p.server_cpu for p in parts]),
            len(parts),
            [p.rate for p in parts] if len(parts) > 1 else [],
        )

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.rate, 1),
        }
        if self.round_rates:
            doc["events_per_s_overall"] = round(self.overall_rate, 1)
            doc["rounds_events_per_s"] = [round(r) for r in self.round_rates]
        if self.client_cpu is not None and self.events:
            doc["client_cpu_us_per_event"] = round(self.client_cpu / self.events * 1e6, 1)
        if self.server_cpu is not None and self.events:
            doc["server_cpu_us_per_event"] = round(self.server_cpu / self.events * 1e6, 1)
        if self.latencies:
            lat = sorted(self.latencies)
            doc["append_latency_ms"] = {
                "p50": round(statistics.median(lat) * 1000, 3),
                "p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 3),
                "max": round(lat[-1] * 1000, 3),
            }
        doc.update(self.extra)
        return doc


# The PostgreSQL postmaster's pid when the server runs on this machine (set by run.py):
# then the CPU time of the server's processes is measured beside the client's.
PG_POSTMASTER: int | None = None
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _server_ticks() -> dict[int, int] | None:
    """utime+stime (clock ticks) of the postmaster and each of its children, by pid."""
    if PG_POSTMASTER is None:
        return None
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        if pid == PG_POSTMASTER or int(fields[1]) == PG_POSTMASTER:
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


class Meter:
    """Wall clock, this process's CPU time and the PostgreSQL server's CPU time.

    Server CPU counts every server process (backends, WAL writer, checkpointer...), so
    other clients of the same server during the window count too: an approximation.
    """

    def __init__(self) -> None:
        self._server = _server_ticks()
        self._cpu = time.process_time()
        self.start = time.perf_counter()
        self.seconds = 0.0
        self.client_cpu = 0.0
        self.server_cpu: float | None = None

    def stop(self) -> Meter:
        self.seconds = time.perf_counter() - self.start
        self.client_cpu = time.process_time() - self._cpu
        after = _server_ticks()
        if self._server is not None and after is not None:
            before = self._server
            delta = sum(t - before.get(pid, 0) for pid, t in after.items())
            self.server_cpu = max(delta, 0) / _TICK
        return self

    def result(self, name: str, events: int, latencies: list[float] | None = None) -> Result:
        return Result(
            name, events, self.seconds, latencies or [], {}, self.client_cpu, self.server_cpu
        )


# --------------------------------------------------------------------------- databases


def with_db(dsn: str, dbname: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{dbname}"


class ScratchDatabases:
    """Creates databases named ``oms_bench_<run>_<label>`` and drops every one of them."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.run_id = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def create(self, label: str) -> str:
        name = f"oms_bench_{self.run_id}_{label}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return with_db(self.admin_dsn, name)

    def drop(self, dsn: str) -> None:
        name = dsn.rpartition("/")[2]
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.created:
            self.created.remove(name)

    def drop_all(self, patience_s: float = 90.0) -> list[str]:
        """Drop everything still there; returns the names that could not be dropped.

        Retries for a while: the shared local server may be restarting under us.
        """
        deadline = time.monotonic() + patience_s
        while self.created:
            for name in list(self.created):
                with suppress(psycopg.Error):
                    self.drop(with_db(self.admin_dsn, name))
            if not self.created or time.monotonic() > deadline:
                break
            time.sleep(3)
        return list(self.created)

    @contextmanager
    def database(self, label: str, *, keep: bool = False) -> Iterator[str]:
        dsn = self.create(label)
        try:
            yield dsn
        finally:
            if not keep:
                self.drop(dsn)


# --------------------------------------------------------------------------- machine load


def _proc_stat_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadWatch:
    """How busy the machine was over the whole bench, and how much of that was ours.

    The rest is PostgreSQL and Kafka serving the bench, and anything else running on
    the machine (other users' tests and services): a high figure there with a high load
    average means lower, noisier figures. (PostgreSQL's own share cannot be told over the
    whole run: the backends of closed connections take their CPU counters with them.)
    """

    def __init__(self) -> None:
        self._stat = _proc_stat_ticks()
        self._self = self._own_cpu()
        self.load_start = os.getloadavg()

    @staticmethod
    def _own_cpu() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def report(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "loadavg_1m_start": round(self.load_start[0], 2),
            "loadavg_1m_end": round(os.getloadavg()[0], 2),
        }
        after = _proc_stat_ticks()
        if self._stat is None or after is None:
            return doc
        busy = (after[0] - self._stat[0]) / _TICK
        total = (after[1] - self._stat[1]) / _TICK
        ours = self._own_cpu() - self._self
        if total > 0:
            doc["cpu_busy_pct"] = round(busy / total * 100, 1)
            doc["bench_process_pct"] = round(ours / total * 100, 1)
        return doc
