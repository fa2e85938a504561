"""Sandbox payment providers: deterministic stand-ins for real ones, one per method family.

A sandbox behaves like an external system: it keeps its own books (tables ``sandbox_*`` in
the service's database, written in transactions of its own, never in the caller's unit
of work, exactly as an HTTP call to a real provider would commit on the provider's side
whatever happens to the caller afterwards). It remembers every idempotency key durably,
across restarts, and answers a repeated key with the stored result. A timeout here is what
makes timeouts dangerous with a real provider: the call is carried out and its answer
lost, so only a repeat with the same key finds out what happened (never a second hold).
It refuses to capture or void more than is authorized, or to refund more than was
captured. What it answers is chosen by :mod:`oms_payments.providers.rules`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oms_events.contracts import DeclineReason, PaymentMethod
from oms_events.money import Money
from oms_payments.providers.base import (
    AuthorizationRequest,
    AuthorizationResult,
    OperationResult,
    PaymentProvider,
    ProviderDirectory,
    ProviderRefused,
    ProviderTimeout,
)
from oms_payments.providers.rules import (
    FAMILY_OF,
    Family,
    SandboxRules,
    judge,
    timeouts_before_answer,
)

# The books were first spelled "authorisation(s)"; renamed in place so that a database
# from before keeps its ledger (and so its idempotency answers).
RENAME_OLD_SPELLING = """
DO $$ BEGIN
    IF to_regclass('sandbox_authorisations') IS NOT NULL
       AND to_regclass('sandbox_authorizations') IS NULL THEN
        ALTER TABLE sandbox_authorisations RENAME TO sandbox_authorizations;
        ALTER TABLE sandbox_authorizations RENAME COLUMN authorised TO authorized;
    END IF;
END $$
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_operations (
    idempotency_key  text PRIMARY KEY,
    provider         text NOT NULL,
    operation        text NOT NULL,
    result           jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sandbox_authorizations (
    reference   text PRIMARY KEY,
    provider    text NOT NULL,
    payment_id  text NOT NULL,
    currency    text NOT NULL,
    authorized  numeric NOT NULL,
    captured    numeric NOT NULL DEFAULT 0,
    voided      numeric NOT NULL DEFAULT 0,
    refunded    numeric NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sandbox_timeouts (
    idempotency_key  text PRIMARY KEY,
    timeouts         integer NOT NULL
);
"""

_PREFIX = {
    Family.CARD: "CARD",
    Family.PAYPAL: "PP",
    Family.INVOICE: "BNPL",
    Family.BANK: "BANK",
    Family.COD: "COD",
}

Result = dict[str, Any]


async def create_schema(engine: AsyncEngine) -> None:
    """Create the sandbox's tables (idempotent; safe with several processes starting)."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('oms.payments.sandbox'))"))
        await conn.execute(text(RENAME_OLD_SPELLING))
        for statement in filter(str.strip, SCHEMA.split(";")):
            await conn.execute(text(statement))


def sandbox_directory(engine: AsyncEngine, rules: SandboxRules) -> ProviderDirectory:
    """A sandbox provider for every method family, sharing one ledger."""
    providers = {family: SandboxProvider(family, rules, engine) for family in Family}
    by_method: dict[PaymentMethod, PaymentProvider] = {
        method: providers[family] for method, family in FAMILY_OF.items()
    }
    return ProviderDirectory(by_method)


class SandboxProvider:
    """A deterministic provider for one family of methods, with a durable ledger."""

    def __init__(self, family: Family, rules: SandboxRules, engine: AsyncEngine) -> None:
        self.family = family
        self.rules = rules
        self.engine = engine

    @property
    def name(self) -> str:
        return f"sandbox-{self.family.value}"

    @property
    def remote(self) -> bool:
        # Its ledger is a table of the service's own database: answers take a query.
        return False

    async def authorize(
        self, request: AuthorizationRequest, *, idempotency_key: str
    ) -> AuthorizationResult:
        async def act(conn: AsyncConnection) -> Result:
            verdict = judge(
                self.family,
                request.amount.amount,
                request.shopper_email,
                self.rules,
                request.amount.currency,
            )
            result: Result = {
                "approved": verdict.decline is None,
                "amount": str(verdict.approved),
                "currency": request.amount.currency,
                "reference": None,
                "captured": False,
                "decline_reason": verdict.decline.value if verdict.decline else None,
                "message": verdict.message,
            }
            if verdict.decline is None:
                reference = self._reference(idempotency_key)
                captured = verdict.approved if request.capture else Decimal(0)
                await conn.execute(
                    text(
                        "INSERT INTO sandbox_authorizations (reference, provider, payment_id, "
                        "currency, authorized, captured) VALUES (:r, :p, :pid, :c, :a, :cap)"
                    ),
                    {
                        "r": reference,
                        "p": self.name,
                        "pid": request.payment_id,
                        "c": request.amount.currency,
                        "a": verdict.approved,
                        "cap": captured,
                    },
                )
                result.update(reference=reference, captured=request.capture)
            return result

        timeouts = timeouts_before_answer(request.shopper_email, self.rules)
        result = await self._once(idempotency_key, "authorize", timeouts, act)
        return AuthorizationResult(
            approved=result["approved"],
            amount=Money.of(result["amount"], result["currency"]),
            reference=result["reference"],
            captured=result["captured"],
            decline_reason=DeclineReason(result["decline_reason"])
            if result["decline_reason"]
            else None,
            message=result["message"],
        )

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> OperationResult:
        async def act(conn: AsyncConnection) -> Result:
            row = await self._authorization(conn, reference)
            open_amount = row["authorized"] - row["captured"] - row["voided"]
            if amount.amount > open_amount:
                raise ProviderRefused(
                    f"{reference}: cannot capture {amount}, {open_amount} is authorized"
                )
            await self._add(conn, reference, "captured", amount.amount)
            return self._moved(idempotency_key, amount.amount, row["currency"])

        return _operation(await self._once(idempotency_key, "capture", self.rules.timeouts, act))

    async def void(
        self, reference: str, *, idempotency_key: str, amount: Money | None = None
    ) -> OperationResult:
        async def act(conn: AsyncConnection) -> Result:
            row = await self._authorization(conn, reference)
            open_amount = row["authorized"] - row["captured"] - row["voided"]
            released = open_amount if amount is None else amount.amount
            if released > open_amount:
                raise ProviderRefused(
                    f"{reference}: cannot void {amount}, {open_amount} is authorized"
                )
            await self._add(conn, reference, "voided", released)
            return self._moved(idempotency_key, released, row["currency"])

        return _operation(await self._once(idempotency_key, "void", self.rules.timeouts, act))

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> OperationResult:
        async def act(conn: AsyncConnection) -> Result:
            row = await self._authorization(conn, reference)
            refundable = row["captured"] - row["refunded"]
            if amount.amount > refundable:
                raise ProviderRefused(
                    f"{reference}: cannot refund {amount}, {refundable} is refundable"
                )
            await self._add(conn, reference, "refunded", amount.amount)
            return self._moved(idempotency_key, amount.amount, row["currency"])

        return _operation(await self._once(idempotency_key, "refund", self.rules.timeouts, act))

    # -- the ledger ----------------------------------------------------------------------

    async def _once(
        self,
        key: str,
        operation: str,
        timeouts: int,
        act: Callable[[AsyncConnection], Awaitable[Result]],
    ) -> Result:
        """Act once per ``key`` and remember the answer; lose it the first ``timeouts`` times.

        The first call with a key acts (places the hold, captures...) whether or not its
        answer then gets through; every later call answers from the ledger.
        """
        async with self.engine.connect() as conn:
            done = await _stored(conn, key)
            await conn.rollback()
        if done is None:
            done = await self._act_once(key, operation, act)
        if timeouts and await self._count_timeout(key) <= timeouts:
            raise ProviderTimeout(f"{self.name}: no answer for {operation} {key}")
        return done

    async def _act_once(
        self, key: str, operation: str, act: Callable[[AsyncConnection], Awaitable[Result]]
    ) -> Result:
        async with self.engine.begin() as conn:
            # Two callers with one key (a redelivery racing the original) act only once.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
            done = await _stored(conn, key)
            if done is not None:
                return done
            result = await act(conn)
            await conn.execute(
                text(
                    "INSERT INTO sandbox_operations (idempotency_key, provider, operation, result) "
                    "VALUES (:k, :p, :o, CAST(:r AS jsonb))"
                ),
                {"k": key, "p": self.name, "o": operation, "r": json.dumps(result)},
            )
        return result

    async def _count_timeout(self, key: str) -> int:
        # Committed on its own: the count must survive the timeout we are about to raise.
        async with self.engine.begin() as conn:
            row = await conn.execute(
                text(
                    "INSERT INTO sandbox_timeouts (idempotency_key, timeouts) VALUES (:k, 1) "
                    "ON CONFLICT (idempotency_key) DO UPDATE "
                    "SET timeouts = sandbox_timeouts.timeouts + 1 RETURNING timeouts"
                ),
                {"k": key},
            )
            return int(row.scalar_one())

    async def _authorization(self, conn: AsyncConnection, reference: str) -> dict[str, Any]:
        row = (
            await conn.execute(
                text(
                    "SELECT authorized, captured, voided, refunded, currency "
                    "FROM sandbox_authorizations WHERE reference = :r AND provider = :p "
                    "FOR UPDATE"
                ),
                {"r": reference, "p": self.name},
            )
        ).first()
        if row is None:
            raise ProviderRefused(f"{self.name}: unknown authorization {reference}")
        return dict(row._mapping)

    async def _add(
        self, conn: AsyncConnection, reference: str, column: str, amount: Decimal
    ) -> None:
        assert column in ("captured", "voided", "refunded")
        await conn.execute(
            text(
                f"UPDATE sandbox_authorizations SET {column} = {column} + :a WHERE reference = :r"
            ),
            {"a": amount, "r": reference},
        )

    def _moved(self, key: str, amount: Decimal, currency: str) -> Result:
        return {"reference": self._reference(key), "amount": str(amount), "currency": currency}

    def _reference(self, key: str) -> str:
        digest = hashlib.sha256(f"{self.name}:{key}".encode()).hexdigest()[:16].upper()
        return f"{_PREFIX[self.family]}-{digest}"


async def _stored(conn: AsyncConnection, key: str) -> Result | None:
    row = (
        await conn.execute(
            text("SELECT result FROM sandbox_operations WHERE idempotency_key = :k"), {"k": key}
        )
    ).first()
    return dict(row[0]) if row else None


def _operation(result: Result) -> OperationResult:
    return OperationResult(
        reference=result["reference"], amount=Money.of(result["amount"], result["currency"])
    )
