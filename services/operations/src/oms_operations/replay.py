"""Rebuilding read models from the services' event stores (``oms replay``).

A rebuild takes the chosen read models' tables and the inbox in ``EXCLUSIVE`` mode
(plain reads, the dashboards, go on; a live consumer's next write waits), notes each
source store's commit horizon, reads every event below it in commit order, folds them
through the models' pure ``apply`` in memory exactly as the live runner does row by
row, then replaces the tables' rows and the affected consumers' inbox rows and commits
once. Why the live service neither applies an event twice nor misses one afterwards:

* an event it had applied was relayed before the lock was taken, so its transaction was
  below its store's horizon then, hence below the one noted after the lock: the rebuild
  applies it and writes its inbox row again;
* an event at or above the horizon was not applied live (it had not been relayed yet):
  the rebuild leaves it out and writes no inbox row, and the live consumer applies it
  after the commit, in commit order after everything the rebuild applied;
* an event below the horizon that the live consumer has not reached yet gets its inbox
  row from the rebuild: the consumer sees a duplicate when it gets there.

The rebuild works from :data:`~oms_operations.projections.runner.CONSUMERS` alone, so a
read model added there is backfilled over all history by its first rebuild. A consumer
that writes several tables has all of them rebuilt together: its inbox is shared by them.
"""

from __future__ import annotations

import heapq
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_events.envelope import Envelope
from oms_events.registry import Registry
from oms_events.registry import registry as default_registry
from oms_events.topics import Service, events_topic, topic_for
from oms_operations.projections import runner, tables
from oms_operations.projections.tables import Key, ReadModel, Row
from oms_platform.db import create_engine
from oms_platform.eventstore import START, PostgresEventStore
from oms_platform.eventstore.model import RecordedEvent

PAGE = 1000
"""Events per read from a source store."""
WRITE_BATCH = 2000
"""Rows per INSERT (one JSON document each)."""
LOCK_TIMEOUT_S = 120.0


class ReplayError(Exception):
    """A rebuild that cannot be done as asked (unknown projection, missing source)."""


@dataclass(frozen=True)
class Plan:
    """What a rebuild covers: whole consumers (name without generation -> models)."""

    consumers: Mapping[str, tuple[ReadModel, ...]]

    @property
    def models(self) -> list[ReadModel]:
        return [m for models in self.consumers.values() for m in models]

    @property
    def tables(self) -> list[str]:
        return [m.table for m in self.models]

    def types_of(self, consumer: str) -> frozenset[str]:
        """The event types ``consumer`` claims in its inbox (those it has handlers for)."""
        return frozenset(c.event_type for m in self.consumers[consumer] for c in m.handled)

    @property
    def types(self) -> frozenset[str]:
        return frozenset().union(*(self.types_of(c) for c in self.consumers))

    @property
    def services(self) -> list[str]:
        """The services whose stores hold the events (the producers of the topics)."""
        by_topic = {events_topic(s): s.value for s in Service}
        topics = {topic_for(t) for t in self.types}
        return sorted({by_topic[t] for t in topics if t in by_topic})


def projection_name(model: ReadModel) -> str:
    """``ops_orders`` -> ``orders``: what ``oms replay`` calls a read model."""
    return model.table.removeprefix("ops_")


def projection_names() -> list[str]:
    return [projection_name(m) for m in _all_models()]


def _all_models() -> list[ReadModel]:
    return [m for models in runner.CONSUMERS.values() for m in models]


def plan(selection: Iterable[str] | None = None) -> Plan:
    """The consumers to rebuild for ``selection`` (projection or table names; ``None`` or
    ``all``: every one). A model comes with the other models of its consumer."""
    wanted = None if selection is None else set(selection)
    if wanted is not None and "all" in wanted:
        wanted = None
    known = {projection_name(m) for m in _all_models()} | {m.table for m in _all_models()}
    if wanted is not None and (unknown := sorted(wanted - known)):
        raise ReplayError(
            f"unknown projection {', '.join(unknown)} (known: {', '.join(projection_names())})"
        )
    chosen = {
        name: tuple(models)
        for name, models in runner.CONSUMERS.items()
        if wanted is None or any({m.table, projection_name(m)} & wanted for m in models)
    }
    return Plan(chosen)


@dataclass(frozen=True)
class Progress:
    """Where a rebuild is: ``phase`` is locking, reading, writing or done."""

    phase: str
    read: int = 0
    total: int = 0
    applied: int = 0


@dataclass
class RebuildStats:
    tables: list[str]
    consumers: list[str]
    """With their generation, e.g. ``orders-g1``."""
    events_read: int = 0
    events_applied: int = 0
    """Read events some rebuilt consumer handles."""
    undecodable: int = 0
    """Events whose contract did not parse (the live consumer dead-letters those)."""
    rows: dict[str, int] = field(default_factory=dict)
    inbox_rows: int = 0
    horizons: dict[str, int] = field(default_factory=dict)
    """Per source service: the transaction id below which every event was replayed."""
    lock_wait_s: float = 0.0
    read_s: float = 0.0
    write_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def rows_written(self) -> int:
        return sum(self.rows.values())

    @property
    def events_per_s(self) -> float:
        return self.events_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(rows_written=self.rows_written, events_per_s=round(self.events_per_s, 1))
        return doc


class Fold:
    """Read-model rows in memory, changed by events exactly as the live runner changes
    the stored rows (:func:`oms_operations.projections.runner.project`)."""

    def __init__(self, models: Sequence[ReadModel]) -> None:
        self.models = list(models)
        self.rows: dict[str, dict[Key, Row]] = {m.table: {} for m in self.models}

    def apply(self, env: Envelope, event: Any) -> None:
        for model in self.models:
            if not isinstance(event, model.handled):
                continue
            rows = self.rows[model.table]
            for key in model.keys_of(env, event):
                before = rows.get(key)
                start = model.initial(key) if before is None else before
                after = model.apply(start, env, event)
                if after is not None and after != before:
                    rows[key] = after


Reporter = Callable[[Progress], None]


async def rebuild(
    ops_engine: AsyncEngine,
    sources: Mapping[str, str],
    *,
    models: Iterable[str] | None = None,
    generation: int = 1,
    progress: Reporter | None = None,
    registry: Registry = default_registry,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> RebuildStats:
    """Rebuild ``models`` (projection names; ``None``: all) of the operations database on
    ``ops_engine`` from the stores of ``sources`` (service -> DSN), for the consumers of
    ``generation``; the live service may be running (see the module's docstring)."""
    chosen = plan(models)
    missing = [s for s in chosen.services if s not in sources]
    if missing:
        raise ReplayError(f"no database given for {', '.join(missing)}")
    report = progress or (lambda _: None)
    names = {c: f"{c}-g{generation}" for c in chosen.consumers}
    stats = RebuildStats(chosen.tables, list(names.values()))
    t0 = time.perf_counter()
    await _ensure_schema(ops_engine)
    async with ops_engine.connect() as conn, conn.begin():
        raw = await _driver(conn)
        report(Progress("locking"))
        await raw.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout_s * 1000)}ms'")
        # The transaction sits idle while the sources are read, which may take longer than
        # the server's idle_in_transaction_session_timeout; it holds no transaction id
        # until it writes, so it holds back no reader's horizon meanwhile.
        await raw.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        # The inbox first: every consumer transaction claims its inbox rows before it
        # touches a table, so holding the inbox means no live transaction holds a table.
        await raw.execute(f"LOCK TABLE inbox, {', '.join(chosen.tables)} IN EXCLUSIVE MODE")
        stats.lock_wait_s = time.perf_counter() - t0
        fold = Fold(chosen.models)
        inbox: dict[str, list[uuid.UUID]] = {c: [] for c in chosen.consumers}
        claims = {c: chosen.types_of(c) for c in chosen.consumers}
        handled = chosen.types
        t_read = time.perf_counter()
        async with _Sources(chosen.services, sources) as stores:
            stats.horizons = await stores.horizons()
            total = await stores.count(stats.horizons)
            report(Progress("reading", 0, total))
            async for recorded in stores.merged(stats.horizons):
                stats.events_read += 1
                env = recorded.envelope
                if env.type in handled:
                    try:
                        event = registry.parse(env)
                    except Exception:  # poison: dead-lettered live, so no inbox row either
                        stats.undecodable += 1
                    else:
                        stats.events_applied += 1
                        fold.apply(env, event)
                        for consumer, types in claims.items():
                            if env.type in types:
                                inbox[consumer].append(env.event_id)
                if stats.events_read % PAGE == 0:
                    report(Progress("reading", stats.events_read, total, stats.events_applied))
        stats.read_s = time.perf_counter() - t_read
        report(Progress("writing", stats.events_read, total, stats.events_applied))
        t_write = time.perf_counter()
        await _replace(raw, fold, {names[c]: ids for c, ids in inbox.items()}, stats)
        stats.write_s = time.perf_counter() - t_write
    stats.elapsed_s = time.perf_counter() - t0
    report(Progress("done", stats.events_read, stats.events_read, stats.events_applied))
    return stats


async def _ensure_schema(engine: AsyncEngine) -> None:
    """The inbox if the operations service never ran here, and the read models' schema
    as this code has it (idempotent DDL): a model added, or a column added to one, since
    the service last started is there to be backfilled."""
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT to_regclass('inbox') IS NULL"))
        absent = bool(found.scalar())
    if absent:
        await PostgresEventStore(engine, chain_key=None).create_schema()
    await tables.create(engine)


async def _replace(
    raw: psycopg.AsyncConnection[Any],
    fold: Fold,
    inbox: Mapping[str, Sequence[uuid.UUID]],
    stats: RebuildStats,
) -> None:
    """Swap the tables' rows and the consumers' inbox rows for the rebuilt ones (in the
    rebuild's transaction: readers see the old rows until it commits). DELETE, not
    TRUNCATE: TRUNCATE's lock would stop the dashboards' reads meanwhile."""
    for model in fold.models:
        await raw.execute(f"DELETE FROM {model.table}")
        rows = list(fold.rows[model.table].values())
        cols = ", ".join(model.columns)
        statement = (
            f"INSERT INTO {model.table} ({cols}) SELECT {cols} "
            f"FROM jsonb_populate_recordset(NULL::{model.table}, %s::text::jsonb)"
        )
        for start in range(0, len(rows), WRITE_BATCH):
            batch = rows[start : start + WRITE_BATCH]
            await raw.execute(statement, (_document(model, batch),))
        stats.rows[model.table] = len(rows)
    await raw.execute("DELETE FROM inbox WHERE consumer = ANY(%s)", (list(inbox),))
    # COPY: the inbox rows are most of the rows a rebuild writes (one per event and
    # consumer); consumer names are ``<name>-g<N>`` and ids UUIDs, nothing to escape.
    async with raw.cursor() as cur, cur.copy("COPY inbox (consumer, event_id) FROM STDIN") as copy:
        for consumer, ids in inbox.items():
            unique = list(dict.fromkeys(ids))
            for start in range(0, len(unique), WRITE_BATCH * 5):
                chunk = unique[start : start + WRITE_BATCH * 5]
                await copy.write("".join(f"{consumer}\t{i}\n" for i in chunk))
            stats.inbox_rows += len(unique)


def _document(model: ReadModel, rows: Sequence[Row]) -> str:
    """``rows`` as the JSON array ``jsonb_populate_recordset`` turns into table rows:
    the values ``ReadModel.encode`` gives the live runner (JSON columns as JSON, tuples
    as arrays), without its deep copy of every row (a third of a rebuild's time)."""
    columns = model.columns
    values = [{c: getattr(row, c) for c in columns} for row in rows]
    return json.dumps(values, default=_json_value, ensure_ascii=False)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} to a read model")


async def _driver(conn: Any) -> psycopg.AsyncConnection[Any]:
    fairy = await conn.get_raw_connection()
    driver = fairy.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver


class _Sources:
    """The source stores, opened for one rebuild: their horizons and events."""

    def __init__(self, services: Sequence[str], dsns: Mapping[str, str]) -> None:
        self.services = list(services)
        self.dsns = dsns
        self.stores: dict[str, PostgresEventStore] = {}

    async def __aenter__(self) -> _Sources:
        for service in self.services:
            engine = create_engine(self.dsns[service], pool_size=1, application_name="oms-replay")
            self.stores[service] = PostgresEventStore(engine, chain_key=None, pool_size=1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for store in self.stores.values():
            await store.close()
            await store.engine.dispose()

    async def horizons(self) -> dict[str, int]:
        """Each store's commit horizon now: every transaction below it has ended."""
        found = {}
        for service, store in self.stores.items():
            async with store.connection() as conn:
                cur = await conn.execute(
                    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
                )
                row = await cur.fetchone()
            assert row is not None
            found[service] = int(row[0])
        return found

    async def count(self, horizons: Mapping[str, int]) -> int:
        total = 0
        for service, store in self.stores.items():
            async with store.connection() as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM events WHERE tx_id < %s::text::xid8",
                    (str(horizons[service]),),
                )
                row = await cur.fetchone()
            total += int(row[0]) if row else 0
        return total

    async def merged(self, horizons: Mapping[str, int]) -> AsyncIterator[RecordedEvent]:
        """Every store's events below its horizon, each store in commit order, the stores
        interleaved by recording time (roughly the order their relays published them)."""
        pages = {s: _below(store, horizons[s]) for s, store in self.stores.items()}
        cursors: dict[str, tuple[list[RecordedEvent], int]] = {}
        heads: list[tuple[datetime, str]] = []

        async def advance(service: str, page: list[RecordedEvent], i: int) -> None:
            if i >= len(page):
                page, i = await anext(pages[service], []), 0
                if not page:
                    return
            cursors[service] = (page, i)
            heapq.heappush(heads, (page[i].recorded_at, service))

        for service in pages:
            await advance(service, [], 0)
        while heads:
            _, service = heapq.heappop(heads)
            page, i = cursors[service]
            yield page[i]
            await advance(service, page, i + 1)


async def _below(store: PostgresEventStore, horizon: int) -> AsyncIterator[list[RecordedEvent]]:
    """Pages of the store's events whose transaction is below ``horizon``, in commit
    order. ``read_all`` only returns transactions below the current horizon, which is at
    least ``horizon`` by now, so a short page is the end."""
    after = START
    while True:
        page = await store.read_all(after, limit=PAGE)
        kept = [r for r in page if r.tx_id < horizon]
        if kept:
            yield kept
        if len(kept) < PAGE:
            return
        after = page[-1].commit_position
