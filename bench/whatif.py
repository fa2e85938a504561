"""What-if experiments behind the suggestions in bench/README.md ("Findings").

    uv run python bench/whatif.py [--events N]

Each experiment swaps one statement of the store *at run time, in this process only*
(module attributes of ``oms_platform.eventstore.postgres``) and measures the store with
and without it, in alternating rounds on fresh scratch databases. Nothing in libs/ is
changed. Once the store adopts a change, its experiment measures nothing new.

1. ``%b`` placeholders in the append statement: psycopg dumps the twelve arrays in
   binary instead of text (no per-character escaping of the JSON payloads and digests).
2. ``ORDER BY events.tx_id, events.position`` in read_all: the commit-order index serves
   it, where the bare ``tx_id`` names the output column ``tx_id::text::bigint``.
3. The cost of the first read_all page as the table grows, with either ORDER BY.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import psycopg
from omsbench import common, ladder
from omsbench.append import oms_append, open_store
from omsbench.common import Result, ScratchDatabases, plan, rounds
from omsbench.kafka import create_topics, delete_topics, relay_rate
from omsbench.read import oms_read_all

import oms_platform.eventstore.postgres as pg
from oms_cli.config import StackConfig

BINARY_APPEND = pg._APPEND.replace("%s", "%b")
QUALIFIED_READ_ALL = pg._READ_ALL.replace(
    "ORDER BY tx_id, position", "ORDER BY events.tx_id, events.position"
)
ROUNDS = 3


@contextmanager
def patched(name: str, value: str) -> Iterator[None]:
    original = getattr(pg, name)
    setattr(pg, name, value)
    try:
        yield
    finally:
        setattr(pg, name, original)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def show(label: str, parts: list[Result]) -> None:
    r = Result.merge(label, parts)
    doc = r.as_dict()
    log(
        f"  {label:<44} {r.rate:>9,.0f} events/s  client CPU "
        f"{doc.get('client_cpu_us_per_event')} µs/ev, server CPU "
        f"{doc.get('server_cpu_us_per_event', '-')} µs/ev"
    )


async def appends(dbs: ScratchDatabases, events: int) -> None:
    log("1. append parameters as text (store today) or binary (%b placeholders)")
    for label, writers, batch in (("1w x 1ev", 1, 1), ("8w x 1ev", 8, 1), ("8w x 10ev", 8, 10)):
        work = plan(events, writers, batch)
        variants: list[tuple[str, str, Callable[..., Awaitable[Result]]]] = [
            ("store.append, text params", pg._APPEND, oms_append),
            ("store.append, binary params", BINARY_APPEND, oms_append),
            ("UnitOfWork autocommit, binary params", BINARY_APPEND, ladder.unit_of_work_autocommit),
        ]
        dsns = [dbs.create(f"wi{i}_{label.replace(' ', '')}") for i in range(len(variants))]
        parts: list[list[Result]] = [[] for _ in variants]
        try:
            for r, chunk in enumerate(rounds(work, ROUNDS)):
                for i in [(r + k) % len(variants) for k in range(len(variants))]:
                    _, statement, runner = variants[i]
                    with patched("_APPEND", statement):
                        parts[i].append(await runner(dsns[i], chunk, variants[i][0]))
        finally:
            for dsn in dsns:
                dbs.drop(dsn)
        for (name, _, _), p in zip(variants, parts, strict=True):
            show(f"{label}: {name}", p)


async def reads(dbs: ScratchDatabases, config: StackConfig, events: int) -> None:
    log("2. read_all and the relay with the store's ORDER BY and with a qualified one")
    dsn = dbs.create("wi_read")
    topics: list[str] = []
    try:
        await oms_append(dsn, plan(events, 8, 1), "fill")
        engine, store = await open_store(dsn, 2)
        try:
            got: dict[str, list[Result]] = {"as is": [], "qualified": []}
            for _ in range(5):
                for name, statement in (("as is", pg._READ_ALL), ("qualified", QUALIFIED_READ_ALL)):
                    with patched("_READ_ALL", statement):
                        got[name].append(await oms_read_all(store, events, name))
            for name, parts in got.items():
                show(f"read_all, ORDER BY {name}", parts)
            relays: dict[str, list[Result]] = {"as is": [], "qualified": []}
            for _ in range(2):
                for name, statement in (("as is", pg._READ_ALL), ("qualified", QUALIFIED_READ_ALL)):
                    topic = f"oms.bench.whatif.{uuid.uuid4().hex[:8]}"
                    topics.append(topic)
                    await create_topics(config.kafka, [topic])
                    with patched("_READ_ALL", statement):
                        relays[name].append(
                            await relay_rate(store, dsn, config.kafka, topic, events, "")
                        )
            for name, parts in relays.items():
                show(f"outbox relay, ORDER BY {name}", parts)
        finally:
            await store.close()
            await engine.dispose()
    finally:
        dbs.drop(dsn)
        if topics:
            await delete_topics(config.kafka, topics)


def first_page_vs_size(dbs: ScratchDatabases) -> None:
    log("3. one read_all page (the first) as the events table grows")
    dsn = dbs.create("wi_scale")
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(pg.SCHEMA)
            have = 0
            for size in (30_000, 300_000, 1_000_000):
                conn.execute(
                    "INSERT INTO events (event_id, stream_id, stream_version, type, version, "
                    "occurred_at, correlation_id, actor, producer, payload, hash) "
                    "SELECT gen_random_uuid(), 'order-' || (g %% 5000), g / 5000 + 1 + %s, "
                    "'OrderPlaced', 1, now(), 'c', 'a', 'order', "
                    """'{"order_id":"x","total":"39.98","currency":"EUR"}'::jsonb, '\\x00' """
                    "FROM generate_series(1, %s) g",
                    (have, size - have),
                )
                have = size
                conn.execute("VACUUM ANALYZE events")
                for name, statement in (("as is", pg._READ_ALL), ("qualified", QUALIFIED_READ_ALL)):
                    times = []
                    for _ in range(3):
                        t0 = time.perf_counter()
                        conn.execute(statement, ("0", 0, 1000)).fetchall()
                        times.append(time.perf_counter() - t0)
                    log(
                        f"  {size:>9,} events: first page, ORDER BY {name:<9} "
                        f"{statistics.median(times) * 1000:8.1f} ms"
                    )
    finally:
        dbs.drop(dsn)


async def main(events: int) -> None:
    config = StackConfig()
    pid_file = config.pg_data / "postmaster.pid"
    if pid_file.is_file():
        common.PG_POSTMASTER = int(pid_file.read_text().split()[0])
    dbs = ScratchDatabases(config.admin_dsn)
    try:
        await appends(dbs, events)
        await reads(dbs, config, events)
        first_page_vs_size(dbs)
    finally:
        left = dbs.drop_all()
        if left:
            log(f"could not drop scratch databases: {', '.join(left)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=15_000)
    asyncio.run(main(parser.parse_args().events))
    sys.exit(0)
