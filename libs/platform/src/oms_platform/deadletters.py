"""Dead letters and parked events, kept in the service's own database so they can be replayed.

A consumer that dead-letters a message publishes it to ``<topic>.dlq`` (for whoever watches
the topics) and records it in ``dead_letters`` with its consumer, reason and the message
itself. ``oms dlq replay`` marks rows as requested; the service that failed them picks
them up and runs them through the same processor, so a replay goes only to the consumer
that failed the message and is idempotent through that consumer's inbox.

The relay parks an event it cannot publish (too large for the broker, not serialisable)
in ``parked_events`` and goes on with the next one; a replay request makes it try again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

REPLAY_CHANNEL = "oms_replays"
"""Notified when ``oms dlq replay`` marks dead letters (``request_replay``): each service's
runtime picks them up at once (see ``notify.Wakeup``) instead of polling the table."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer             text NOT NULL,
    topic                text NOT NULL,
    partition            integer NOT NULL,
    "offset"             bigint NOT NULL,
    key                  bytea,
    value                bytea NOT NULL,
    headers              jsonb NOT NULL,
    event_id             text,
    event_type           text,
    code                 text NOT NULL,
    reason               text NOT NULL,
    failure_class        text NOT NULL,
    attempts             integer NOT NULL,
    times                integer NOT NULL DEFAULT 1,
    dead_at              timestamptz NOT NULL DEFAULT now(),
    replay_requested_at  timestamptz,
    replayed_at          timestamptz,
    replay_outcome       text,
    CONSTRAINT dead_letters_message_key UNIQUE (consumer, topic, partition, "offset")
);
CREATE TABLE IF NOT EXISTS parked_events (
    position             bigint PRIMARY KEY,
    tx_id                xid8 NOT NULL,
    event_id             uuid NOT NULL,
    stream_id            text NOT NULL,
    type                 text NOT NULL,
    reason               text NOT NULL,
    relay                text NOT NULL,
    parked_at            timestamptz NOT NULL DEFAULT now(),
    replay_requested_at  timestamptz,
    published_at         timestamptz
);
"""

Headers = Sequence[tuple[str, bytes]]


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


async def record_dead_letter(
    conn: psycopg.AsyncConnection[Any],
    *,
    consumer: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes,
    headers: Headers,
) -> None:
    """Record (or, when the same message fails again, update) a dead letter."""
    original = [(k, v) for k, v in headers if not k.startswith("dlq.")]
    await conn.execute(
        """
        INSERT INTO dead_letters (consumer, topic, partition, "offset", key, value, headers,
                                  event_id, event_type, code, reason, failure_class, attempts)
        VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (consumer, topic, partition, "offset") DO UPDATE SET
            code = EXCLUDED.code, reason = EXCLUDED.reason,
            failure_class = EXCLUDED.failure_class, attempts = EXCLUDED.attempts,
            times = dead_letters.times + 1, dead_at = now(),
            replay_requested_at = NULL, replayed_at = NULL, replay_outcome = NULL
        """,
        (
            consumer,
            topic,
            partition,
            offset,
            key,
            value,
            json.dumps([[k, v.decode(errors="replace")] for k, v in original]),
            _header(headers, "event_id"),
            _header(headers, "event_type"),
            _header(headers, "dlq.error_code") or "unknown",
            _header(headers, "dlq.reason") or "",
            _header(headers, "dlq.failure_class") or "unknown",
            int(_header(headers, "dlq.attempts") or 1),
        ),
    )


async def requested_replays(
    conn: psycopg.AsyncConnection[Any], consumers: Sequence[str], limit: int = 100
) -> list[DeadLetter]:
    """Dead letters of ``consumers`` that ``oms dlq replay`` asked to run again."""
    cur = await conn.execute(
        """
        SELECT id, consumer, topic, partition, "offset", key, value, headers
        FROM dead_letters
        WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL AND consumer = ANY(%s)
        ORDER BY id LIMIT %s
        """,
        (list(consumers), limit),
    )
    return [
        DeadLetter(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            bytes(r[5]) if r[5] is not None else None,
            bytes(r[6]),
            [(str(k), str(v).encode()) for k, v in r[7]],
        )
        for r in await cur.fetchall()
    ]


async def mark_replayed(conn: psycopg.AsyncConnection[Any], id_: int, outcome: str) -> None:
    await conn.execute(
        "UPDATE dead_letters SET replayed_at = now(), replay_outcome = %s "
        "WHERE id = %s AND replay_requested_at IS NOT NULL",
        (outcome, id_),
    )


async def park_event(
    conn: psycopg.AsyncConnection[Any],
    *,
    position: int,
    tx_id: int,
    event_id: str,
    stream_id: str,
    type_: str,
    reason: str,
    relay: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO parked_events (position, tx_id, event_id, stream_id, type, reason, relay)
        VALUES (%s, %s::text::xid8, %s, %s, %s, %s, %s)
        ON CONFLICT (position) DO UPDATE SET reason = EXCLUDED.reason, parked_at = now(),
            replay_requested_at = NULL
        """,
        (position, str(tx_id), event_id, stream_id, type_, reason[:1000], relay),
    )


@dataclass(frozen=True, slots=True)
class Counts:
    dead_letters: int
    parked: int
    oldest_dead_letter: datetime | None


async def counts(conn: psycopg.AsyncConnection[Any]) -> Counts:
    """Dead letters not (successfully) replayed, and events still parked."""
    cur = await conn.execute(
        "SELECT (SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL), "
        "(SELECT count(*) FROM parked_events WHERE published_at IS NULL), "
        "(SELECT min(dead_at) FROM dead_letters WHERE replayed_at IS NULL)"
    )
    row = await cur.fetchone()
    assert row is not None
    return Counts(int(row[0]), int(row[1]), row[2])


async def waiting_by_consumer(conn: psycopg.AsyncConnection[Any]) -> dict[tuple[str, str], int]:
    """Dead letters not (successfully) replayed, per ``(consumer, code)`` (for metrics)."""
    cur = await conn.execute(
        "SELECT consumer, code, count(*) FROM dead_letters WHERE replayed_at IS NULL "
        "GROUP BY consumer, code"
    )
    return {(str(r[0]), str(r[1])): int(r[2]) for r in await cur.fetchall()}


# -- what `oms dlq` reads and asks ---------------------------------------------------------


async def list_entries(
    conn: psycopg.AsyncConnection[Any], *, include_done: bool
) -> list[dict[str, Any]]:
    """Every dead letter and parked event of one database, newest first."""
    done = "" if include_done else "WHERE replayed_at IS NULL"
    cur = await conn.execute(
        f"""
        SELECT 'dead_letter', id::text, consumer, topic, code, reason, failure_class,
               event_type, event_id, times, dead_at, replay_requested_at, replayed_at,
               replay_outcome
        FROM dead_letters {done}
        ORDER BY dead_at DESC
        """
    )
    rows = await cur.fetchall()
    done = "" if include_done else "WHERE published_at IS NULL"
    cur = await conn.execute(
        f"""
        SELECT 'parked', position::text, relay, NULL, 'unpublishable', reason, 'poison', type,
               event_id::text, 1, parked_at, replay_requested_at, published_at,
               CASE WHEN published_at IS NULL THEN NULL ELSE 'published' END
        FROM parked_events {done}
        ORDER BY parked_at DESC
        """
    )
    rows += await cur.fetchall()
    names = [
        "kind",
        "id",
        "consumer",
        "topic",
        "code",
        "reason",
        "failure_class",
        "event_type",
        "event_id",
        "times",
        "at",
        "replay_requested_at",
        "replayed_at",
        "replay_outcome",
    ]
    return [dict(zip(names, r, strict=True)) for r in rows]


async def show_entry(
    conn: psycopg.AsyncConnection[Any], kind: str, id_: int
) -> dict[str, Any] | None:
    if kind == "parked":
        cur = await conn.execute(
            "SELECT p.*, e.payload FROM parked_events p "
            "LEFT JOIN events e ON e.position = p.position WHERE p.position = %s",
            (id_,),
        )
    else:
        cur = await conn.execute("SELECT * FROM dead_letters WHERE id = %s", (id_,))
    row = await cur.fetchone()
    if row is None or cur.description is None:
        return None
    return {col.name: value for col, value in zip(cur.description, row, strict=True)}


async def request_replay(
    conn: psycopg.AsyncConnection[Any],
    *,
    topic: str | None = None,
    consumer: str | None = None,
    code: str | None = None,
    ids: Sequence[int] = (),
) -> list[int]:
    """Mark matching dead letters for replay; returns their ids."""
    cur = await conn.execute(
        """
        UPDATE dead_letters SET replay_requested_at = now()
        WHERE replayed_at IS NULL
          AND (%(topic)s::text IS NULL OR topic = %(topic)s OR topic LIKE '%%.' || %(topic)s)
          AND (%(consumer)s::text IS NULL OR consumer = %(consumer)s)
          AND (%(code)s::text IS NULL OR code = %(code)s)
          AND (cardinality(%(ids)s::bigint[]) = 0 OR id = ANY(%(ids)s::bigint[]))
        RETURNING id
        """,
        {"topic": topic, "consumer": consumer, "code": code, "ids": list(ids)},
    )
    found = [int(r[0]) for r in await cur.fetchall()]
    if found:
        await conn.execute(f"NOTIFY {REPLAY_CHANNEL}")  # delivered when this commits
    return found


async def request_republish(
    conn: psycopg.AsyncConnection[Any], *, code: str | None = None, ids: Sequence[int] = ()
) -> list[int]:
    """Ask the relay to try publishing parked events again; returns their positions."""
    if code not in (None, "unpublishable"):
        return []
    cur = await conn.execute(
        "UPDATE parked_events SET replay_requested_at = now() WHERE published_at IS NULL "
        "AND (cardinality(%(ids)s::bigint[]) = 0 OR position = ANY(%(ids)s::bigint[])) "
        "RETURNING position",
        {"ids": list(ids)},
    )
    return [int(r[0]) for r in await cur.fetchall()]


async def replay_results(
    conn: psycopg.AsyncConnection[Any], ids: Sequence[int]
) -> dict[int, str | None]:
    """``id -> outcome`` (None while the service has not replayed it yet)."""
    cur = await conn.execute(
        "SELECT id, CASE WHEN replayed_at IS NOT NULL THEN replay_outcome "
        "WHEN replay_requested_at IS NULL THEN 'dead_lettered_again' END "
        "FROM dead_letters WHERE id = ANY(%s)",
        (list(ids),),
    )
    return {int(r[0]): r[1] for r in await cur.fetchall()}
