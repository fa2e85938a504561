"""The PostgreSQL event store: events table as outbox, streams heads, inbox, checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.envelope import Envelope
from oms_platform.deadletters import SCHEMA as DEAD_LETTER_SCHEMA
from oms_platform.eventstore.base import DuplicateDelivery
from oms_platform.eventstore.hashing import GENESIS, canonical_payload, content_digest, link
from oms_platform.eventstore.model import (
    START,
    ConcurrencyConflict,
    Finding,
    InvalidAppend,
    Position,
    ReadOnlyStore,
    RecordedEvent,
    StreamBatch,
    group_by_stream,
)
from oms_platform.eventstore.verify import verify_stream

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid NOT NULL,
    stream_id       text NOT NULL,
    stream_version  integer NOT NULL CHECK (stream_version > 0),
    type            text NOT NULL,
    version         integer NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    correlation_id  text NOT NULL,
    causation_id    text,
    actor           text NOT NULL,
    producer        text NOT NULL,
    payload         jsonb NOT NULL,
    hash            bytea NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX IF NOT EXISTS events_commit_order ON events (tx_id, position);
CREATE TABLE IF NOT EXISTS streams (
    stream_id  text PRIMARY KEY,
    version    integer NOT NULL,
    head       bytea NOT NULL,
    head_tx    xid8 NOT NULL
);
-- The anchor publisher's way to the heads that moved (oms_platform.anchors).
CREATE INDEX IF NOT EXISTS streams_moved ON streams (head_tx, stream_id);
CREATE TABLE IF NOT EXISTS inbox (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    name        text PRIMARY KEY,
    tx_id       xid8 NOT NULL,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
"""

_COLUMNS = (
    "position, tx_id::text::bigint, recorded_at, hash, event_id, type, version, stream_id, "
    "stream_version, occurred_at, correlation_id, causation_id, actor, producer, payload"
)

# One round trip per append, two JSON parameters: the streams (sorted, so writers lock in
# one order; each with the version it must be at, the head hash its new events chain onto,
# and its new head) and the events with their hashes. The hashes are keyed (``hashing``)
# and computed in Python, where the key is: the function only checks that each stream is
# at the expected version and head. If a head is not the one the hashes were chained onto
# (the writer's cache of heads was stale), it writes nothing and returns those heads
# instead (``o_event_id`` NULL); the writer rechains and calls again in the same
# transaction, its locks still held. A stream whose last writer has a higher transaction
# id than ours must not get our events: readers order by transaction id, and would see
# our later version before its earlier one. (One JSON text is much cheaper to send from
# Python than twelve typed arrays; see bench/.)
APPEND_FUNCTION = """
DROP FUNCTION IF EXISTS oms_append(uuid[], text[], int[], text[], int[], timestamptz[],
                                   text[], text[], text[], text[], text[], bytea[]);
DROP FUNCTION IF EXISTS oms_append(jsonb);
CREATE OR REPLACE FUNCTION oms_append(p_streams jsonb, p_events jsonb)
RETURNS TABLE (o_event_id uuid, o_position bigint, o_tx bigint, o_recorded_at timestamptz,
               o_hash bytea, o_stream text)
LANGUAGE plpgsql AS $$
DECLARE
    st record;
    head_version int;
    head_hash bytea;
    head_tx_id xid8;
    stale boolean := false;
    me xid8 := pg_current_xact_id();
BEGIN
    FOR st IN SELECT x.stream_id, x.expected, decode(x.prev, 'hex') AS prev
              FROM jsonb_to_recordset(p_streams)
                   AS x(n int, stream_id text, expected int, prev text)
              ORDER BY x.n
    LOOP
        SELECT s.version, s.head, s.head_tx INTO head_version, head_hash, head_tx_id
        FROM streams s WHERE s.stream_id = st.stream_id FOR UPDATE;
        IF NOT FOUND THEN
            head_version := 0;
            head_hash := st.prev;
        ELSIF head_tx_id > me THEN
            RAISE EXCEPTION USING ERRCODE = 'OMS01', MESSAGE = st.stream_id,
                DETAIL = head_version::text,
                HINT = 'a newer transaction wrote this stream first; retry';
        END IF;
        IF head_version <> st.expected THEN
            RAISE EXCEPTION USING ERRCODE = 'OMS01', MESSAGE = st.stream_id,
                DETAIL = head_version::text, HINT = 'stale expected version';
        END IF;
        IF head_hash IS DISTINCT FROM st.prev THEN
            stale := true;
            o_event_id := NULL; o_position := head_version; o_tx := NULL;
            o_recorded_at := NULL; o_hash := head_hash; o_stream := st.stream_id;
            RETURN NEXT;
        END IF;
    END LOOP;
    IF stale THEN
        RETURN;
    END IF;
    INSERT INTO streams AS s (stream_id, version, head, head_tx)
    SELECT x.stream_id, x.version, decode(x.head, 'hex'), me
    FROM jsonb_to_recordset(p_streams) AS x(stream_id text, version int, head text)
    ON CONFLICT (stream_id) DO UPDATE
        SET version = EXCLUDED.version, head = EXCLUDED.head, head_tx = me;
    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events (event_id, stream_id, stream_version, type, version, occurred_at,
                            correlation_id, causation_id, actor, producer, payload, hash)
        SELECT x.event_id, x.stream_id, x.stream_version, x.type, x.version, x.occurred_at,
               x.correlation_id, x.causation_id, x.actor, x.producer, x.payload,
               decode(x.hash, 'hex')
        FROM jsonb_to_recordset(p_events) AS x(
            i int, event_id uuid, stream_id text, stream_version int, type text, version int,
            occurred_at timestamptz, correlation_id text, causation_id text, actor text,
            producer text, payload jsonb, hash text)
        ORDER BY x.i
        RETURNING event_id, position, tx_id::text::bigint, recorded_at, hash
    )
    SELECT inserted.*, NULL::text FROM inserted;
END
$$;
"""

_APPEND = "SELECT * FROM oms_append(%s::text::jsonb, %s::text::jsonb)"
_HEADS = "SELECT stream_id, version, head FROM streams WHERE stream_id = ANY(%s)"

NOTIFY_CHANNEL = "oms_events"
"""Notified after every commit that stored events (see ``PostgresEventStore._appended``)."""
NOTIFY_SPACING_S = 0.01


class HeadCache:
    """The last (version, hash) this process saw of each stream, so that an append can
    chain its hashes without first reading the head; ``oms_append`` checks the guess.

    Bounded by clearing it when full: a miss costs one small read, nothing else.
    """

    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._heads: dict[str, tuple[int, bytes]] = {}

    def get(self, stream_id: str, version: int) -> bytes | None:
        found = self._heads.get(stream_id)
        return found[1] if found is not None and found[0] == version else None

    def put(self, stream_id: str, version: int, digest: bytes) -> None:
        if len(self._heads) >= self._size:
            self._heads.clear()
        self._heads[stream_id] = (version, digest)

    def saw(self, records: Sequence[RecordedEvent]) -> None:
        """Remember the last stored event of a read (not staged ones: they have no hash)."""
        for rec in reversed(records):
            if rec.hash:
                self.put(rec.envelope.stream_id, rec.envelope.stream_version, rec.hash)
                return


def _append_document(
    batches: Sequence[StreamBatch], previous: Mapping[str, bytes], key: bytes
) -> tuple[str, str, dict[uuid.UUID, bytes]]:
    """The two JSON arrays ``oms_append`` takes (streams, events, each payload in its
    canonical text) and each event's chained hash.

    Built by hand around the canonical payload text so that each payload is serialised once
    and the hashed text is byte for byte the stored one.
    """
    streams: list[dict[str, Any]] = []
    items = []
    hashes: dict[uuid.UUID, bytes] = {}
    i = 0
    for batch in batches:
        prev = previous[batch.stream_id]
        digest = prev
        for env in batch.events:
            i += 1
            text = canonical_payload(env.payload)
            digest = link(key, digest, content_digest(env, text))
            hashes[env.event_id] = digest
            head = json.dumps(
                {
                    "i": i,
                    "event_id": str(env.event_id),
                    "stream_id": env.stream_id,
                    "stream_version": env.stream_version,
                    "type": env.type,
                    "version": env.version,
                    "occurred_at": env.occurred_at.isoformat(),
                    "correlation_id": env.correlation_id,
                    "causation_id": env.causation_id,
                    "actor": env.actor,
                    "producer": env.producer,
                    "hash": digest.hex(),
                },
                ensure_ascii=False,
            )
            items.append(f'{head[:-1]},"payload":{text}}}')
        streams.append(
            {
                "n": len(streams),
                "stream_id": batch.stream_id,
                "expected": batch.expected_version,
                "prev": prev.hex(),
                "version": batch.events[-1].stream_version,
                "head": digest.hex(),
            }
        )
    return json.dumps(streams, ensure_ascii=False), "[" + ",".join(items) + "]", hashes


async def _previous_heads(
    conn: psycopg.AsyncConnection[Any], batches: Sequence[StreamBatch], heads: HeadCache
) -> dict[str, bytes]:
    """The head hash each batch chains onto: the cache's, else read (one query for all)."""
    previous: dict[str, bytes] = {}
    unknown: dict[str, int] = {}
    for batch in batches:
        if batch.expected_version == 0:
            previous[batch.stream_id] = GENESIS
            continue
        cached = heads.get(batch.stream_id, batch.expected_version)
        if cached is None:
            unknown[batch.stream_id] = batch.expected_version
        else:
            previous[batch.stream_id] = cached
    if unknown:
        cur = await conn.execute(_HEADS, (list(unknown),))
        for stream_id, version, digest in await cur.fetchall():
            heads.put(stream_id, version, bytes(digest))
        for stream_id, version in unknown.items():
            # A stream not at the expected version conflicts inside ``oms_append``.
            previous[stream_id] = heads.get(stream_id, version) or GENESIS
    return previous


async def _append(
    conn: psycopg.AsyncConnection[Any],
    events: Sequence[Envelope],
    key: bytes | None,
    heads: HeadCache,
) -> list[RecordedEvent]:
    if key is None:
        raise ReadOnlyStore("this store was opened without the chain key: it cannot append")
    batches = group_by_stream(events)
    ordered = [e for batch in batches for e in batch.events]
    previous = await _previous_heads(conn, batches, heads)
    for _attempt in range(2):
        streams_doc, events_doc, hashes = _append_document(batches, previous, key)
        try:
            cur = await conn.execute(_APPEND, (streams_doc, events_doc))
        except psycopg.errors.UniqueViolation as err:
            raise _conflict_from(err, ordered) from err
        except psycopg.Error as err:
            if err.sqlstate == "OMS01" and err.diag.message_primary:
                stream_id = err.diag.message_primary
                actual = int(err.diag.message_detail or 0)
                expected = next(e.stream_version - 1 for e in ordered if e.stream_id == stream_id)
                raise ConcurrencyConflict(
                    stream_id, expected, actual, err.diag.message_hint or ""
                ) from err
            raise
        found = await cur.fetchall()
        stale = [row for row in found if row[0] is None]
        if not stale:
            break
        for row in stale:  # (None, version, None, None, head, stream_id)
            previous[row[5]] = bytes(row[4])
            heads.put(row[5], row[1], bytes(row[4]))
    else:
        first = ordered[0]
        raise ConcurrencyConflict(
            first.stream_id, first.stream_version - 1, None, "stream heads kept moving"
        )
    for batch in batches:
        last = batch.events[-1]
        heads.put(batch.stream_id, last.stream_version, hashes[last.event_id])
    rows = {row[0]: row[1:4] for row in found}
    return [
        RecordedEvent(env, pos, tx, at, hashes[env.event_id])
        for env in ordered
        for pos, tx, at in (rows[env.event_id],)
    ]


# ORDER BY names the table's columns: a bare ``tx_id`` would mean the output column
# ``tx_id::text::bigint`` and sort every remaining row instead of walking the index.
# Only transactions below the oldest one still running are certainly all committed: a
# bigserial alone lets a reader pass a position a slow writer has yet to commit.
_READ_ALL = f"""
SELECT {_COLUMNS} FROM events
WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
  AND (tx_id, position) > (%s::text::xid8, %s)
ORDER BY events.tx_id, events.position LIMIT %s
"""


def _record(row: tuple[Any, ...]) -> RecordedEvent:
    # Rows come from our own store, already validated on the way in.
    env = Envelope.trusted(
        event_id=row[4],
        type=row[5],
        version=row[6],
        stream_id=row[7],
        stream_version=row[8],
        occurred_at=row[9],
        correlation_id=row[10],
        causation_id=row[11],
        actor=row[12],
        producer=row[13],
        payload=row[14],
    )
    return RecordedEvent(env, row[0], row[1], row[2], bytes(row[3]))


async def _fetch_records(cur: psycopg.AsyncCursor[Any]) -> list[RecordedEvent]:
    """The records of an executed query, with the cycle collector paused meanwhile.

    A page makes thousands of dicts (payloads) and models; left on, the collector runs
    several times per page and scans them all again, which cost about a third of a read
    (bench/). The rows are already in memory: nothing in here waits for I/O.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [_record(row) for row in await cur.fetchall()]
    finally:
        if was_enabled:
            gc.enable()


def _conflict_from(err: psycopg.errors.UniqueViolation, events: Sequence[Envelope]) -> Exception:
    constraint = err.diag.constraint_name or ""
    first = events[0]
    if constraint == "events_event_id_key":
        return ConcurrencyConflict(
            first.stream_id, first.stream_version - 1, None, "an event id is already stored"
        )
    return ConcurrencyConflict(
        first.stream_id, first.stream_version - 1, None, "another writer appended first"
    )


class PostgresUnitOfWork:
    """One PostgreSQL transaction; ``connection`` is there for the handler's own SQL.

    ``deferred``: appends are staged and written in one ``oms_append`` call just before
    the commit (a batch of messages then costs one append, its streams locked in one
    order), and reads of a stream include what was staged on it. A conflict then
    surfaces when the unit of work ends instead of at ``append``, as on the in-memory
    store; callers treat both the same.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        raw: psycopg.AsyncConnection[Any],
        *,
        chain_key: bytes | None,
        heads: HeadCache,
        deferred: bool = False,
    ) -> None:
        self.connection = connection
        self._raw = raw
        self._key = chain_key
        self._heads = heads
        self._deferred = deferred
        self._staged: list[Envelope] = []
        self.after_commit: list[Callable[[], None]] = []
        self._before: dict[str, Callable[[], Awaitable[None]]] = {}
        self.extras: dict[str, Any] = {}
        self.appended = False

    def on_commit(self, callback: Callable[[], None]) -> None:
        self.after_commit.append(callback)

    def before_commit(self, key: str, callback: Callable[[], Awaitable[None]]) -> None:
        self._before.setdefault(key, callback)

    async def finish(self) -> None:
        """What runs inside the transaction once the work is done: the ``before_commit``
        callbacks, then the deferred appends."""
        while self._before:
            key = next(iter(self._before))
            await self._before.pop(key)()
        await self.flush()

    async def append(self, events: Sequence[Envelope]) -> None:
        self.appended = True
        if not self._deferred:
            await _append(self._raw, events, self._key, self._heads)
            return
        group_by_stream([*self._staged, *events])  # refuses a gap or a repeat now
        self._staged.extend(events)

    async def flush(self) -> None:
        """Write what was staged (deferred mode); a no-op when nothing was."""
        staged, self._staged = self._staged, []
        if staged:
            await _append(self._raw, staged, self._key, self._heads)

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        stored = await _read_stream(self._raw, stream_id, from_version)
        self._heads.saw(stored)
        if not self._staged:
            return stored
        now = datetime.now(UTC)
        return stored + [
            RecordedEvent(e, 0, 0, now, b"")
            for e in self._staged
            if e.stream_id == stream_id and e.stream_version >= from_version
        ]

    async def already_processed(self, consumer: str, event_id: uuid.UUID) -> bool:
        cur = await self._raw.execute(
            "SELECT 1 FROM inbox WHERE consumer = %s AND event_id = %s", (consumer, event_id)
        )
        return await cur.fetchone() is not None

    async def mark_processed(self, consumer: str, event_id: uuid.UUID) -> None:
        # A concurrent delivery of the same event waits here for the first to commit.
        cur = await self._raw.execute(
            "INSERT INTO inbox (consumer, event_id) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (consumer, event_id),
        )
        if await cur.fetchone() is None:
            raise DuplicateDelivery(f"{consumer} already processed {event_id}")

    async def claim(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not event_ids:
            return set()
        # One round trip for the batch's inbox. A concurrent transaction claiming one of
        # the same ids makes this wait for it; if it commits, the id is not ours.
        cur = await self._raw.execute(
            "INSERT INTO inbox (consumer, event_id) SELECT %s, unnest(%s::uuid[]) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            (consumer, list(event_ids)),
        )
        return {row[0] for row in await cur.fetchall()}

    async def save_checkpoint(self, name: str, position: Position) -> None:
        await save_checkpoint(self._raw, name, position)

    async def load_checkpoint(self, name: str) -> Position:
        return await _load_checkpoint(self._raw, name)


async def _read_stream(
    raw: psycopg.AsyncConnection[Any], stream_id: str, from_version: int
) -> list[RecordedEvent]:
    cur = await raw.execute(
        f"SELECT {_COLUMNS} FROM events WHERE stream_id = %s AND stream_version >= %s "
        "ORDER BY stream_version",
        (stream_id, from_version),
    )
    return await _fetch_records(cur)


async def read_since(
    raw: psycopg.AsyncConnection[Any], since: Mapping[str, int]
) -> dict[str, list[RecordedEvent]]:
    """The events of each stream of ``since`` after the version given for it, in one query
    (the anchor publisher's segments since each stream's last anchor)."""
    cur = await raw.execute(
        f"SELECT {_COLUMNS} FROM events JOIN unnest(%s::text[], %s::int[]) AS m(sid, since) "
        "ON stream_id = m.sid AND stream_version > m.since ORDER BY stream_id, stream_version",
        (list(since), list(since.values())),
    )
    found: dict[str, list[RecordedEvent]] = {sid: [] for sid in since}
    for rec in await _fetch_records(cur):
        found[rec.envelope.stream_id].append(rec)
    return found


async def save_checkpoint(raw: psycopg.AsyncConnection[Any], name: str, position: Position) -> None:
    """Store checkpoint ``name`` on ``raw`` (in its transaction, or on its own in autocommit)."""
    await raw.execute(
        "INSERT INTO checkpoints (name, tx_id, position) VALUES (%s, %s::text::xid8, %s) "
        "ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, "
        "position = EXCLUDED.position, updated_at = now()",
        (name, str(position.tx_id), position.position),
    )


async def _load_checkpoint(raw: psycopg.AsyncConnection[Any], name: str) -> Position:
    cur = await raw.execute(
        "SELECT tx_id::text::bigint, position FROM checkpoints WHERE name = %s", (name,)
    )
    row = await cur.fetchone()
    return Position(row[0], row[1]) if row else START


def _json_loads(data: bytes | str) -> Any:
    """orjson, or the standard parser for what orjson refuses (integers past 64 bits).

    A stored row must always be readable: one payload orjson cannot parse would otherwise
    fail every page that holds it, and stop the relay and every projection behind it.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


class _AutocommitPool:
    """A small pool of autocommit connections for the store's single-statement work.

    Appends and reads outside a unit of work are one statement each, so they need no
    transaction and no reset between users: a queue of idle connections is all the pool
    there is to it (a general-purpose pool costs more per checkout than the append's own
    Python work; see bench/). Broken connections are dropped and replaced on demand.
    """

    def __init__(self, conninfo: str, size: int) -> None:
        self._conninfo = conninfo
        self._size = max(1, size)
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self._open = 0

    async def acquire(self) -> psycopg.AsyncConnection[Any]:
        while True:
            if self._idle.empty() and self._open < self._size:
                self._open += 1
                try:
                    conn = await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, application_name="oms-eventstore"
                    )
                    # Parsing payloads is most of a read's cost; orjson does it ~3x faster.
                    set_json_loads(_json_loads, conn)
                    return conn
                except BaseException:
                    self._open -= 1
                    raise
            conn = await self._idle.get()
            if not conn.broken and not conn.closed:
                return conn
            self._open -= 1

    def release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if conn.broken or conn.closed or not idle:
            self._open -= 1
            if not conn.closed:
                asyncio.get_running_loop().create_task(conn.close())
            return
        self._idle.put_nowait(conn)

    async def close(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().close()
            self._open -= 1


class PostgresEventStore:
    """Event store on one service's PostgreSQL database (see ``SCHEMA``).

    ``chain_key`` keys the events' hash chain (``hashing``); it is required to append and
    to verify hashes. A store opened with ``chain_key=None`` (a replay, an audit without
    the key) reads, and its ``verify`` checks only versions, heads and anchors.
    """

    def __init__(
        self, engine: AsyncEngine, *, chain_key: bytes | None, pool_size: int | None = None
    ) -> None:
        self.engine = engine
        self._key = chain_key
        self._heads = HeadCache()
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        """The database as a plain libpq DSN, for connections outside SQLAlchemy."""
        # Appends and reads outside a unit of work go through a psycopg pool of autocommit
        # connections: a single statement is its own transaction, so no BEGIN/COMMIT round
        # trips, and no SQLAlchemy layer on the hot path. Units of work use the engine.
        self._pool = _AutocommitPool(
            self.dsn,
            size=pool_size or engine.pool.size(),  # type: ignore[attr-defined]
        )
        self.notify_commits = True
        """Notify ``NOTIFY_CHANNEL`` after each commit that stored events."""
        self._notifying: asyncio.Task[None] | None = None
        self._notify_again = False

    async def close(self) -> None:
        """Close the store's own connections (the engine is the caller's to dispose)."""
        if self._notifying is not None:
            self._notifying.cancel()
            with contextlib.suppress(BaseException):
                await self._notifying
        await self._pool.close()

    def _appended(self) -> None:
        """Events committed: tell the listeners (``oms_platform.notify``), coalesced.

        The notification is its own statement after the commit, not part of the writing
        transaction: PostgreSQL holds one server-wide lock from a notifying transaction's
        commit until its WAL is flushed, so notifying inside every writer serialises all
        of them (measured: a third fewer orders/s). While one is on its way, further
        commits only ask for one more after it, at most every ``NOTIFY_SPACING_S``.
        """
        if not self.notify_commits:
            return
        if self._notifying is not None and not self._notifying.done():
            self._notify_again = True
            return
        self._notifying = asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        while True:
            self._notify_again = False
            try:
                async with self._reader() as conn:
                    await conn.execute("SELECT pg_notify(%s, '')", (NOTIFY_CHANNEL,))
            except psycopg.Error:
                return  # listeners fall back on their poll; the next commit tries again
            await asyncio.sleep(NOTIFY_SPACING_S)
            if not self._notify_again:
                return

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            raw = await _driver(conn)
            # One advisory lock so that several processes starting at once do not race
            # on CREATE ... IF NOT EXISTS (it is not safe against concurrent creators).
            await raw.execute("SELECT pg_advisory_xact_lock(hashtext('oms.eventstore.schema'))")
            await raw.execute(SCHEMA)
            await raw.execute(DEAD_LETTER_SCHEMA)
            await raw.execute(APPEND_FUNCTION)

    @asynccontextmanager
    async def unit_of_work(self, *, deferred: bool = False) -> AsyncIterator[PostgresUnitOfWork]:
        async with self.engine.begin() as conn:
            uow = PostgresUnitOfWork(
                conn,
                await _driver(conn),
                chain_key=self._key,
                heads=self._heads,
                deferred=deferred,
            )
            yield uow
            await uow.finish()
        if uow.appended:
            self._appended()
        for callback in uow.after_commit:
            callback()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """An autocommit connection of the store's pool, for single statements."""
        async with self._reader() as conn:
            yield conn

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        # Autocommit: no read leaves a transaction open to hold back the commit-order
        # horizon of every reader on the server.
        conn = await self._pool.acquire()
        try:
            yield conn
        finally:
            self._pool.release(conn)

    async def append(self, events: Sequence[Envelope]) -> list[RecordedEvent]:
        if not events:
            raise InvalidAppend("nothing to append")
        async with self._reader() as conn:
            recorded = await _append(conn, events, self._key, self._heads)
        self._appended()
        return recorded

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        async with self._reader() as raw:
            found = await _read_stream(raw, stream_id, from_version)
        self._heads.saw(found)
        return found

    async def read_all(self, after: Position = START, limit: int = 1000) -> list[RecordedEvent]:
        async with self._reader() as raw:
            cur = await raw.execute(_READ_ALL, (str(after.tx_id), after.position, limit))
            return await _fetch_records(cur)

    async def load_checkpoint(self, name: str) -> Position:
        async with self._reader() as raw:
            return await _load_checkpoint(raw, name)

    async def read_position(self, position: int) -> RecordedEvent | None:
        """The event at global ``position``, if there is one."""
        async with self._reader() as raw:
            cur = await raw.execute(
                f"SELECT {_COLUMNS} FROM events WHERE position = %s", (position,)
            )
            found = await _fetch_records(cur)
        return found[0] if found else None

    async def backlog(self, checkpoint: str, cap: int = 100_000) -> tuple[int, datetime | None]:
        """Events after checkpoint ``checkpoint`` (counted up to ``cap``) and the time the
        oldest of them was recorded: how far a relay or projection is behind."""
        async with self._reader() as raw:
            after = await _load_checkpoint(raw, checkpoint)
            cur = await raw.execute(
                "SELECT count(*), min(recorded_at) FROM (SELECT recorded_at FROM events "
                "WHERE (tx_id, position) > (%s::text::xid8, %s) LIMIT %s) AS behind",
                (str(after.tx_id), after.position, cap),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0]), row[1]

    async def verify(
        self,
        stream_ids: Sequence[str] | None = None,
        anchored: Mapping[str, tuple[int, bytes]] | None = None,
    ) -> list[Finding]:
        findings: list[Finding] = []
        anchored = anchored or {}
        async with self._reader() as raw:
            if stream_ids is None:
                cur = await raw.execute(
                    "SELECT stream_id FROM streams UNION SELECT DISTINCT stream_id FROM events"
                )
                stream_ids = sorted({row[0] for row in await cur.fetchall()} | set(anchored))
            for stream_id in stream_ids:
                cur = await raw.execute(
                    "SELECT version, head FROM streams WHERE stream_id = %s", (stream_id,)
                )
                row = await cur.fetchone()
                head = (row[0], bytes(row[1])) if row else None
                events = await _read_stream(raw, stream_id, 1)
                findings += verify_stream(
                    stream_id, events, head, self._key, anchored.get(stream_id)
                )
        return findings


async def _driver(conn: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under a SQLAlchemy one, sharing its transaction.

    The append path talks to psycopg directly: it is the hot path, and SQLAlchemy's
    statement layer would cost a large share of each append (see bench/).
    """
    fairy = await conn.get_raw_connection()
    driver = fairy.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver
