"""The PostgreSQL event store: events table as outbox, streams heads, inbox, checkpoints."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.envelope import Envelope
from oms_platform.eventstore.base import DuplicateDelivery
from oms_platform.eventstore.hashing import canonical_payload, content_digest
from oms_platform.eventstore.model import (
    START,
    ConcurrencyConflict,
    Finding,
    InvalidAppend,
    Position,
    RecordedEvent,
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

# One round trip per append: the function locks each stream's head (streams sorted, so
# writers lock in one order), checks its version, chains the hashes and inserts. A stream
# whose last writer has a higher transaction id than ours must not get our events:
# readers order by transaction id, and would see our later version before its earlier one.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION oms_append(
    p_event_ids uuid[], p_stream_ids text[], p_versions int[], p_types text[],
    p_type_versions int[], p_occurred timestamptz[], p_correlations text[],
    p_causations text[], p_actors text[], p_producers text[], p_payloads text[],
    p_digests bytea[]
) RETURNS TABLE (o_position bigint, o_tx bigint, o_recorded_at timestamptz, o_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    i int;
    cur_stream text := NULL;
    head_version int;
    head_hash bytea;
    head_tx_id xid8;
    me xid8 := pg_current_xact_id();
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_event_ids, 1), 0) LOOP
        IF cur_stream IS DISTINCT FROM p_stream_ids[i] THEN
            IF cur_stream IS NOT NULL THEN
                INSERT INTO streams AS s (stream_id, version, head, head_tx)
                VALUES (cur_stream, head_version, head_hash, me)
                ON CONFLICT (stream_id) DO UPDATE
                    SET version = EXCLUDED.version, head = EXCLUDED.head, head_tx = me;
            END IF;
            cur_stream := p_stream_ids[i];
            SELECT s.version, s.head, s.head_tx INTO head_version, head_hash, head_tx_id
            FROM streams s WHERE s.stream_id = cur_stream FOR UPDATE;
            IF NOT FOUND THEN
                head_version := 0;
                head_hash := '\\x0000000000000000000000000000000000000000000000000000000000000000';
            ELSIF head_tx_id > me THEN
                RAISE EXCEPTION USING ERRCODE = 'OMS01', MESSAGE = cur_stream,
                    DETAIL = head_version::text,
                    HINT = 'a newer transaction wrote this stream first; retry';
            END IF;
            IF head_version <> p_versions[i] - 1 THEN
                RAISE EXCEPTION USING ERRCODE = 'OMS01', MESSAGE = cur_stream,
                    DETAIL = head_version::text, HINT = 'stale expected version';
            END IF;
        END IF;
        head_version := p_versions[i];
        head_hash := sha256(head_hash || p_digests[i]);
        INSERT INTO events (event_id, stream_id, stream_version, type, version, occurred_at,
                            correlation_id, causation_id, actor, producer, payload, hash)
        VALUES (p_event_ids[i], cur_stream, p_versions[i], p_types[i], p_type_versions[i],
                p_occurred[i], p_correlations[i], p_causations[i], p_actors[i], p_producers[i],
                p_payloads[i]::jsonb, head_hash)
        RETURNING position, tx_id::text::bigint, recorded_at, hash
        INTO o_position, o_tx, o_recorded_at, o_hash;
        RETURN NEXT;
    END LOOP;
    IF cur_stream IS NOT NULL THEN
        INSERT INTO streams AS s (stream_id, version, head, head_tx)
        VALUES (cur_stream, head_version, head_hash, me)
        ON CONFLICT (stream_id) DO UPDATE
            SET version = EXCLUDED.version, head = EXCLUDED.head, head_tx = me;
    END IF;
END
$$;
"""

_APPEND = (
    "SELECT * FROM oms_append(%s::uuid[], %s::text[], %s::int[], %s::text[], %s::int[], "
    "%s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bytea[])"
)

# Only transactions below the oldest one still running are certainly all committed: a
# bigserial alone lets a reader pass a position a slow writer has yet to commit.
_READ_ALL = f"""
SELECT {_COLUMNS} FROM events
WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
  AND (tx_id, position) > (%s::text::xid8, %s)
ORDER BY tx_id, position LIMIT %s
"""


def _record(row: tuple[Any, ...]) -> RecordedEvent:
    # Rows come from our own store, already validated on the way in.
    env = Envelope.model_construct(
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
    """One PostgreSQL transaction; ``connection`` is there for the handler's own SQL."""

    def __init__(self, connection: AsyncConnection, raw: psycopg.AsyncConnection[Any]) -> None:
        self.connection = connection
        self._raw = raw

    async def append(self, events: Sequence[Envelope]) -> None:
        await self.append_recorded(events)

    async def append_recorded(self, events: Sequence[Envelope]) -> list[RecordedEvent]:
        ordered = [e for batch in group_by_stream(events) for e in batch.events]
        params = (
            [e.event_id for e in ordered],
            [e.stream_id for e in ordered],
            [e.stream_version for e in ordered],
            [e.type for e in ordered],
            [e.version for e in ordered],
            [e.occurred_at for e in ordered],
            [e.correlation_id for e in ordered],
            [e.causation_id for e in ordered],
            [e.actor for e in ordered],
            [e.producer for e in ordered],
            [canonical_payload(e.payload) for e in ordered],
            [content_digest(e) for e in ordered],
        )
        try:
            cur = await self._raw.execute(_APPEND, params)
        except psycopg.errors.UniqueViolation as err:
            raise _conflict_from(err, ordered) from err
        except psycopg.Error as err:
            if err.sqlstate == "OMS01" and err.diag.message_primary:
                actual = int(err.diag.message_detail or 0)
                expected = next(
                    e.stream_version - 1 for e in ordered if e.stream_id == err.diag.message_primary
                )
                raise ConcurrencyConflict(
                    err.diag.message_primary, expected, actual, err.diag.message_hint or ""
                ) from err
            raise
        rows = await cur.fetchall()
        return [
            RecordedEvent(env, pos, tx, at, bytes(h))
            for env, (pos, tx, at, h) in zip(ordered, rows, strict=True)
        ]

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        return await _read_stream(self._raw, stream_id, from_version)

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

    async def save_checkpoint(self, name: str, position: Position) -> None:
        await self._raw.execute(
            "INSERT INTO checkpoints (name, tx_id, position) VALUES (%s, %s::text::xid8, %s) "
            "ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, "
            "position = EXCLUDED.position, updated_at = now()",
            (name, str(position.tx_id), position.position),
        )

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
    return [_record(row) for row in await cur.fetchall()]


async def _load_checkpoint(raw: psycopg.AsyncConnection[Any], name: str) -> Position:
    cur = await raw.execute(
        "SELECT tx_id::text::bigint, position FROM checkpoints WHERE name = %s", (name,)
    )
    row = await cur.fetchone()
    return Position(row[0], row[1]) if row else START


class PostgresEventStore:
    """Event store on one service's PostgreSQL database (see ``SCHEMA``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            raw = await _driver(conn)
            # One advisory lock so that several processes starting at once do not race
            # on CREATE ... IF NOT EXISTS (it is not safe against concurrent creators).
            await raw.execute("SELECT pg_advisory_xact_lock(hashtext('oms.eventstore.schema'))")
            await raw.execute(SCHEMA)
            await raw.execute(APPEND_FUNCTION)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PostgresUnitOfWork]:
        async with self.engine.begin() as conn:
            yield PostgresUnitOfWork(conn, await _driver(conn))

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self.engine.connect() as conn:
            try:
                yield await _driver(conn)
            finally:
                # End the read's implicit transaction at once: an open one holds back the
                # commit-order horizon of every reader on the server.
                await conn.rollback()

    async def append(self, events: Sequence[Envelope]) -> list[RecordedEvent]:
        if not events:
            raise InvalidAppend("nothing to append")
        async with self.unit_of_work() as uow:
            return await uow.append_recorded(events)

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        async with self._reader() as raw:
            return await _read_stream(raw, stream_id, from_version)

    async def read_all(self, after: Position = START, limit: int = 1000) -> list[RecordedEvent]:
        async with self._reader() as raw:
            cur = await raw.execute(_READ_ALL, (str(after.tx_id), after.position, limit))
            return [_record(row) for row in await cur.fetchall()]

    async def load_checkpoint(self, name: str) -> Position:
        async with self._reader() as raw:
            return await _load_checkpoint(raw, name)

    async def verify(self, stream_ids: Sequence[str] | None = None) -> list[Finding]:
        findings: list[Finding] = []
        async with self._reader() as raw:
            if stream_ids is None:
                cur = await raw.execute(
                    "SELECT stream_id FROM streams UNION SELECT DISTINCT stream_id FROM events "
                    "ORDER BY 1"
                )
                stream_ids = [row[0] for row in await cur.fetchall()]
            for stream_id in stream_ids:
                cur = await raw.execute(
                    "SELECT version, head FROM streams WHERE stream_id = %s", (stream_id,)
                )
                row = await cur.fetchone()
                head = (row[0], bytes(row[1])) if row else None
                events = await _read_stream(raw, stream_id, 1)
                findings += verify_stream(stream_id, events, head)
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
