"""How often each payment's authorisation was tried, kept outside any unit of work.

A provider timeout rolls the unit of work back, so the count cannot live there; it is
committed on its own before each call, like the call itself. It tells the worker two
things: whether the retry budget is used up (then it decides instead of retrying), and
whether a provider may have been asked at all (if not, a cancellation can simply prevent
the authorisation instead of undoing it).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SCHEMA = """
CREATE TABLE IF NOT EXISTS authorisation_attempts (
    payment_id       text PRIMARY KEY,
    attempts         integer NOT NULL,
    last_attempt_at  timestamptz NOT NULL DEFAULT now()
)
"""


class AttemptLog(Protocol):
    async def count(self, payment_id: str) -> int:
        """Attempts made so far (0: no provider was ever asked)."""

    async def record(self, payment_id: str) -> int:
        """Count one more attempt, durably; returns its number (1 for the first)."""


class PostgresAttemptLog:
    """The attempt counts in the service's database, each write its own transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('oms.payments.attempts'))")
            )
            await conn.execute(text(SCHEMA))

    async def count(self, payment_id: str) -> int:
        async with self.engine.connect() as conn:
            row = await conn.execute(
                text("SELECT attempts FROM authorisation_attempts WHERE payment_id = :p"),
                {"p": payment_id},
            )
            found = row.scalar_one_or_none()
            await conn.rollback()
        return int(found or 0)

    async def record(self, payment_id: str) -> int:
        async with self.engine.begin() as conn:
            row = await conn.execute(
                text(
                    "INSERT INTO authorisation_attempts (payment_id, attempts) VALUES (:p, 1) "
                    "ON CONFLICT (payment_id) DO UPDATE SET "
                    "attempts = authorisation_attempts.attempts + 1, last_attempt_at = now() "
                    "RETURNING attempts"
                ),
                {"p": payment_id},
            )
            return int(row.scalar_one())
