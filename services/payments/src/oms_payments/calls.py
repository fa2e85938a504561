"""The provider call log: each provider call counted before it is made, and parked calls.

A provider timeout rolls the unit of work back, yet the provider may have acted; so what
the worker must remember across attempts lives here, committed on its own before each
call (like the call itself), keyed by the call's idempotency key. It tells the worker:

* whether a provider may ever have been asked for an authorization (if not, a
  cancellation simply prevents it instead of undoing it);
* since when a call has gone unanswered: past the reconciliation limit the call is
  **parked for reconciliation** (the worker stops waiting; the API shows it, ``/ready``
  counts it) rather than turned into a decline while the provider may have charged.

A later answer under the same key (a cancellation asks again) takes the call out of the
parked list.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class Operation(StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


@dataclass(frozen=True, slots=True)
class Call:
    """What a provider call is about (the log's key is ``idempotency_key``)."""

    idempotency_key: str
    payment_id: str
    order_id: str
    operation: Operation
    provider: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call as logged: how often it was made, since when, and whether it is parked."""

    call: Call
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime
    parked_at: datetime | None = None
    reason: str | None = None

    def as_doc(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.call.idempotency_key,
            "payment_id": self.call.payment_id,
            "order_id": self.call.order_id,
            "operation": self.call.operation.value,
            "provider": self.call.provider,
            "attempts": self.attempts,
            "unanswered_since": self.first_attempt_at.isoformat(),
            "parked_at": self.parked_at.isoformat() if self.parked_at else None,
            "reason": self.reason,
        }


class ProviderCalls(Protocol):
    async def attempts(self, idempotency_key: str) -> int:
        """Attempts made so far (0: no provider was ever asked)."""

    async def attempt(self, call: Call, at: datetime) -> CallRecord:
        """Count one more attempt, durably, before it is made; returns the record."""

    async def park(self, idempotency_key: str, reason: str, at: datetime) -> None:
        """Stop waiting for an answer: the call needs reconciling with the provider."""

    async def answered(self, idempotency_key: str) -> None:
        """The provider answered after all: the call is no longer parked."""

    async def parked(self, *, payment_id: str | None = None, limit: int = 100) -> list[CallRecord]:
        """Parked calls, oldest first (of one payment, when ``payment_id`` is given)."""

    async def parked_count(self) -> int: ...


class MemoryProviderCalls:
    """The call log in memory: for unit tests and a host on an injected store."""

    def __init__(self) -> None:
        self.records: dict[str, CallRecord] = {}

    async def attempts(self, idempotency_key: str) -> int:
        record = self.records.get(idempotency_key)
        return record.attempts if record else 0

    async def attempt(self, call: Call, at: datetime) -> CallRecord:
        record = self.records.get(call.idempotency_key)
        if record is None:
            record = CallRecord(call, 1, at, at)
        else:
            record = replace(record, attempts=record.attempts + 1, last_attempt_at=at)
        self.records[call.idempotency_key] = record
        return record

    async def park(self, idempotency_key: str, reason: str, at: datetime) -> None:
        record = self.records[idempotency_key]
        self.records[idempotency_key] = replace(record, parked_at=at, reason=reason)

    async def answered(self, idempotency_key: str) -> None:
        record = self.records[idempotency_key]
        self.records[idempotency_key] = replace(record, parked_at=None, reason=None)

    async def parked(self, *, payment_id: str | None = None, limit: int = 100) -> list[CallRecord]:
        found = [
            r
            for r in self.records.values()
            if r.parked_at is not None and payment_id in (None, r.call.payment_id)
        ]
        return sorted(found, key=lambda r: r.first_attempt_at)[:limit]

    async def parked_count(self) -> int:
        return len(await self.parked(limit=len(self.records)))


SCHEMA = """
CREATE TABLE IF NOT EXISTS provider_calls (
    idempotency_key   text PRIMARY KEY,
    payment_id        text NOT NULL,
    order_id          text NOT NULL,
    operation         text NOT NULL,
    provider          text NOT NULL,
    attempts          integer NOT NULL,
    first_attempt_at  timestamptz NOT NULL,
    last_attempt_at   timestamptz NOT NULL,
    parked_at         timestamptz,
    reason            text
);
CREATE INDEX IF NOT EXISTS provider_calls_parked ON provider_calls (first_attempt_at)
    WHERE parked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS provider_calls_payment ON provider_calls (payment_id);
DO $$ BEGIN
    -- The log was first one count per authorization (table authorisation_attempts):
    -- carried over, so a payment asked for before the upgrade is still undone, not
    -- prevented, when its order is cancelled.
    IF to_regclass('authorisation_attempts') IS NOT NULL THEN
        INSERT INTO provider_calls (idempotency_key, payment_id, order_id, operation,
            provider, attempts, first_attempt_at, last_attempt_at)
        SELECT 'authorise-' || payment_id, payment_id, '', 'authorize', '', attempts,
            last_attempt_at, last_attempt_at
        FROM authorisation_attempts
        ON CONFLICT (idempotency_key) DO NOTHING;
        DROP TABLE authorisation_attempts;
    END IF;
END $$
"""

_COLUMNS = (
    "idempotency_key, payment_id, order_id, operation, provider, attempts, "
    "first_attempt_at, last_attempt_at, parked_at, reason"
)


class PostgresProviderCalls:
    """The call log in the service's database, each write its own transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.payments.calls'))"))
            for statement in _statements(SCHEMA):
                await conn.execute(text(statement))

    async def attempts(self, idempotency_key: str) -> int:
        async with self.engine.connect() as conn:
            row = await conn.execute(
                text("SELECT attempts FROM provider_calls WHERE idempotency_key = :k"),
                {"k": idempotency_key},
            )
            found = row.scalar_one_or_none()
            await conn.rollback()
        return int(found or 0)

    async def attempt(self, call: Call, at: datetime) -> CallRecord:
        async with self.engine.begin() as conn:
            row = await conn.execute(
                text(
                    "INSERT INTO provider_calls (idempotency_key, payment_id, order_id, "
                    "operation, provider, attempts, first_attempt_at, last_attempt_at) "
                    "VALUES (:k, :p, :o, :op, :pr, 1, :at, :at) "
                    "ON CONFLICT (idempotency_key) DO UPDATE SET "
                    "attempts = provider_calls.attempts + 1, last_attempt_at = :at, "
                    "order_id = EXCLUDED.order_id, provider = EXCLUDED.provider "
                    f"RETURNING {_COLUMNS}"
                ),
                {
                    "k": call.idempotency_key,
                    "p": call.payment_id,
                    "o": call.order_id,
                    "op": call.operation.value,
                    "pr": call.provider,
                    "at": at,
                },
            )
            return _record(row.one())

    async def park(self, idempotency_key: str, reason: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE provider_calls SET parked_at = :at, reason = :r "
                    "WHERE idempotency_key = :k"
                ),
                {"k": idempotency_key, "r": reason[:2000], "at": at},
            )

    async def answered(self, idempotency_key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE provider_calls SET parked_at = NULL, reason = NULL "
                    "WHERE idempotency_key = :k"
                ),
                {"k": idempotency_key},
            )

    async def parked(self, *, payment_id: str | None = None, limit: int = 100) -> list[CallRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM provider_calls WHERE parked_at IS NOT NULL "
                    "AND (CAST(:p AS text) IS NULL OR payment_id = :p) "
                    "ORDER BY first_attempt_at LIMIT :n"
                ),
                {"p": payment_id, "n": limit},
            )
            found = [_record(row) for row in rows]
            await conn.rollback()
        return found

    async def parked_count(self) -> int:
        async with self.engine.connect() as conn:
            row = await conn.execute(
                text("SELECT count(*) FROM provider_calls WHERE parked_at IS NOT NULL")
            )
            count = int(row.scalar_one())
            await conn.rollback()
        return count


def _statements(script: str) -> list[str]:
    """The script's statements: split on ``;`` except inside the ``DO $$ ... $$`` block."""
    head, _, block = script.partition("DO $$")
    return [s for s in head.split(";") if s.strip()] + ([f"DO $${block}"] if block else [])


def _record(row: Any) -> CallRecord:
    m = row._mapping
    call = Call(
        m["idempotency_key"],
        m["payment_id"],
        m["order_id"],
        Operation(m["operation"]),
        m["provider"],
    )
    return CallRecord(
        call,
        int(m["attempts"]),
        m["first_attempt_at"],
        m["last_attempt_at"],
        m["parked_at"],
        m["reason"],
    )
