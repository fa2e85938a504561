"""The payments service against the real stack: its ServiceHost in-process (or as a process,
for the crash test), real PostgreSQL and Kafka, a topic prefix of its own per test.

Input events are published on the prefixed order, shipping and returns topics as the
order, shipping and returns services would; outcomes are read from the prefixed payments
topic, the HTTP API and the sandbox provider's own books.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_cli.proc import pid_alive, stop_pid
from oms_cli.services import service_env, spawn_service, wait_healthy
from oms_events.base import Event
from oms_events.codec import decode_envelope, encode_envelope
from oms_events.contracts import (
    CancellationReason,
    CancelledBy,
    Customer,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    Payment,
    PaymentMethod,
    ShipmentDelivered,
    ShipmentDispatched,
    SkuQuantity,
)
from oms_events.contracts.order import (
    OrderShipmentFailed,
    OrderShortShipped,
    ShipmentFailure,
    ShortShipRemedy,
)
from oms_events.contracts.returns import MethodRefund, ReturnResolved
from oms_events.examples import ADDRESS, eur
from oms_events.registry import envelope_for
from oms_events.topics import ORDER_EVENTS, PAYMENTS_EVENTS, RETURNS_EVENTS, SHIPPING_EVENTS
from oms_payments.app import create_app
from oms_payments.calls import (
    Call,
    MemoryProviderCalls,
    Operation,
    PostgresProviderCalls,
    ProviderCalls,
)
from oms_payments.gift_card_tokens import GiftCardTokens
from oms_payments.providers import sandbox
from oms_payments.settings import PaymentsSettings, SandboxSettings
from oms_platform.db import create_engine
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer, message_headers
from oms_platform.service import ServiceHost
from oms_platform.settings import RetrySettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import eventually, read_topic
from oms_platform.testing.keys import service_keys

pytestmark = pytest.mark.integration

LINES = (
    OrderLine(line_id="1", sku="TSHIRT", quantity=2, unit_price=eur("19.95")),
    OrderLine(line_id="2", sku="MUG", quantity=1, unit_price=eur("12.50")),
)
TOTAL = Decimal("57.35")  # 2 x 19.95 + 12.50 + 4.95 shipping
EVERYTHING = (("TSHIRT", 2), ("MUG", 1))
METHODS = [m.value for m in PaymentMethod]


class Harness:
    """One payments service under a fresh topic prefix, and ways to talk to it."""

    def __init__(self, kafka: KafkaConnection, prefix: str, client: httpx.AsyncClient) -> None:
        self.kafka = kafka
        self.prefix = prefix
        self.http = client

    async def publish(self, topic: str, *events: Event, copies: int = 1) -> list[Any]:
        """Publish each event (``copies`` times the same envelope: a redelivery); returns
        the envelopes."""
        producer = create_producer(self.kafka)
        await producer.start()
        sent = []
        try:
            for event in events:
                order_id = str(getattr(event, "order_id"))  # noqa: B009
                env = envelope_for(
                    event,
                    stream_id=f"test-{uuid.uuid4().hex[:8]}",
                    stream_version=1,
                    correlation_id=order_id,
                    causation_id=None,
                    actor="test",
                    producer="test",
                )
                for _ in range(copies):
                    await producer.send_and_wait(
                        self.prefix + topic,
                        encode_envelope(env),
                        key=order_id.encode(),
                        headers=message_headers(env),
                    )
                sent.append(env)
        finally:
            await producer.stop()
        return sent

    async def output(self, expect: int) -> list[Any]:
        records = await read_topic(self.kafka, self.prefix + PAYMENTS_EVENTS, expect=expect)
        return [decode_envelope(r.value) for r in records]

    async def payment(self, payment_id: str) -> dict[str, Any]:
        resp = await self.http.get(f"/v1/payments/{payment_id}")
        return dict(resp.json()) if resp.status_code == 200 else {}

    async def until(self, payment_id: str, *statuses: str, timeout_s: float = 60) -> dict[str, Any]:
        found: dict[str, Any] = {}

        async def reached() -> bool:
            found.update(await self.payment(payment_id))
            return found.get("status") in statuses

        await eventually(reached, timeout_s=timeout_s, what=f"{payment_id} to be {statuses}")
        return found


@contextlib.asynccontextmanager
async def running(
    dsn: str,
    kafka: KafkaConnection,
    *,
    backoff_s: float = 0.05,
    reconcile_after_s: float = 900.0,
    **sandbox: Any,
) -> AsyncIterator[Harness]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = PaymentsSettings(
        **service_keys(),
        database_dsn=SecretStr(dsn),
        **kafka.settings(),
        topic_prefix=prefix,
        retry=RetrySettings(max_attempts=5, initial_backoff_s=backoff_s),
        sandbox=SandboxSettings(**sandbox),
        reconcile_after_s=reconcile_after_s,
        gift_card_key=SecretStr(GIFT_CARD_KEY),
    )
    host: ServiceHost = create_app(settings)
    await host.start()
    transport = httpx.ASGITransport(app=host.api)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://payments", headers=auth.headers()
        ) as client:
            yield Harness(kafka, prefix, client)
    finally:
        await host.stop()


def placed(order_id: str, *payments: Payment, email: str = "noor@example.com") -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        platform_order_ref=f"WEB-{order_id}",
        sales_channel="webshop-nl",
        customer=Customer(customer_id="cus-1", email=email),
        lines=LINES,
        shipping_address=ADDRESS,
        shipping_charge=eur("4.95"),
        payments=payments,
        placed_at=datetime.now(UTC),
    )


GIFT_CARD_KEY = uuid.uuid4().hex
"""This module's gift card key (the service refuses to start without one)."""


def token(code: str) -> str:
    """The card's token under this module's key (what the API answers for ``code``)."""
    return GiftCardTokens(GIFT_CARD_KEY).token(code)


def pay(pid: str, method: str, amount: Decimal | str = TOTAL, code: str | None = None) -> Payment:
    """A payment; with ``code``, by that gift card (paid with its token, as a shop does)."""
    card = token(code) if code is not None else None
    return Payment(
        payment_id=pid, method=PaymentMethod(method), amount=eur(str(amount)), gift_card=card
    )


def dispatched(order_id: str, shipment_id: str, *lines: tuple[str, int]) -> ShipmentDispatched:
    return ShipmentDispatched(
        shipment_id=shipment_id,
        order_id=order_id,
        fulfilment_id=f"ful-{order_id}",
        warehouse_id="wh-ams-1",
        carrier="postnl",
        service="standard",
        tracking_number=f"3S{shipment_id}",
        weight_grams=800,
        shipping_cost=eur("3.85"),
        lines=tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines),
    )


def delivered(order_id: str, shipment_id: str) -> ShipmentDelivered:
    return ShipmentDelivered(
        shipment_id=shipment_id,
        order_id=order_id,
        carrier="postnl",
        tracking_number=f"3S{shipment_id}",
        delivered_at=datetime.now(UTC),
    )


def cancelled(order_id: str) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id,
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.STAFF,
    )


def amount(doc: dict[str, Any], field: str) -> Decimal:
    return Decimal(doc[field]["amount"])


async def sandbox_books(dsn: str) -> dict[str, dict[str, Decimal]]:
    """The sandbox provider's own ledger: payment id -> authorized/captured/voided/refunded."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            "SELECT payment_id, count(*), sum(authorized), sum(captured), sum(voided), "
            "sum(refunded) FROM sandbox_authorizations GROUP BY payment_id"
        )
        keys = ("authorizations", "authorized", "captured", "voided", "refunded")
        return {
            row[0]: dict(zip(keys, map(Decimal, row[1:]), strict=True))
            for row in await cur.fetchall()
        }


# -- tests -------------------------------------------------------------------------------


async def test_card_order_is_authorized_captured_on_dispatch_and_refunded_over_http(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    async with running(clean_db, kafka_admin) as svc:
        await svc.publish(ORDER_EVENTS, placed("ord-c1", pay("ord-c1-p1", "card")))
        doc = await svc.until("ord-c1-p1", "authorized")
        assert doc["provider"] == "sandbox-card" and doc["provider_reference"].startswith("CARD-")

        await svc.publish(SHIPPING_EVENTS, dispatched("ord-c1", "shp-1", *EVERYTHING))
        doc = await svc.until("ord-c1-p1", "captured")
        assert amount(doc, "captured") == TOTAL

        resp = await svc.http.post(
            "/v1/payments/ord-c1-p1/refunds",
            json={"amount": {"amount": "57.36", "currency": "EUR"}, "reason": "goodwill"},
        )
        assert resp.status_code == 409
        assert resp.json()["code"] == "amount_exceeded"
        assert resp.headers["content-type"].startswith("application/problem+json")
        resp = await svc.http.post(
            "/v1/payments/ord-c1-p1/refunds",
            json={"amount": "20.00", "reason": "damaged mug"},
            headers={**auth.headers(subject="staff:alice"), "Idempotency-Key": "cs-ticket-1"},
        )
        assert resp.status_code == 202, resp.text
        refund_id = resp.json()["refund_id"]
        again = await svc.http.post(
            "/v1/payments/ord-c1-p1/refunds",
            json={"amount": "20.00", "reason": "damaged mug"},
            headers={**auth.headers(subject="staff:alice"), "Idempotency-Key": "cs-ticket-1"},
        )
        assert again.status_code == 200 and again.json()["refund_id"] == refund_id
        doc = await svc.until("ord-c1-p1", "partially_refunded")
        assert amount(doc, "refunded") == Decimal("20.00")
        assert amount(doc, "refundable") == Decimal("37.35")

        out = await svc.output(expect=7)
        types = [e.type for e in out if e.stream_id == "payment-ord-c1-p1"]
        assert types == [
            "PaymentAuthorizationRequested",
            "PaymentAuthorized",
            "PaymentCaptureRequested",
            "PaymentCaptured",
            "PaymentRefundRequested",
            "RefundIssued",
        ]
        refund = next(e for e in out if e.type == "RefundIssued")
        assert refund.actor == "service:payments" and refund.correlation_id == "ord-c1"
        requested = next(e for e in out if e.type == "PaymentRefundRequested")
        assert requested.actor == "staff:alice"
        assert (await sandbox_books(clean_db))["ord-c1-p1"]["refunded"] == Decimal("20.00")


async def test_http_errors_have_reasons(clean_db: str, kafka_admin: KafkaConnection) -> None:
    async with running(clean_db, kafka_admin) as svc:
        resp = await svc.http.get("/v1/payments/nope")
        assert resp.status_code == 404 and "unknown" in resp.json()["detail"]
        assert resp.json()["code"] == "not_found"
        assert (await svc.http.get("/v1/orders/nope/payments")).status_code == 404
        assert (await svc.http.get(f"/v1/gift-cards/{token('NOPE-1')}")).status_code == 404
        resp = await svc.http.post(
            "/v1/payments/nope/refunds", json={"amount": 10.5, "reason": "float amount"}
        )
        assert resp.status_code == 422
        assert [e["field"] for e in resp.json()["errors"]] == ["amount.decimal"]
        resp = await svc.http.post(
            "/v1/payments/nope/refunds", json={"amount": "-1", "reason": "x"}
        )
        assert resp.status_code == 422
        resp = await svc.http.post("/v1/payments/nope/refunds", json={"amount": "1", "reason": "x"})
        assert resp.status_code == 404
        resp = await svc.http.post(
            "/v1/gift-cards", json={"code": "GC-1", "balance": {"amount": "0", "currency": "EUR"}}
        )
        assert resp.status_code == 422
        body = {"code": "GC-1", "balance": {"amount": "25.00", "currency": "EUR"}}
        issued = await svc.http.post("/v1/gift-cards", json=body)
        assert issued.status_code == 201 and issued.json()["card"] == token("GC-1")
        resp = await svc.http.post("/v1/gift-cards", json=body)
        assert resp.status_code == 409 and resp.json()["code"] == "refused"
        assert "GC-1" not in resp.text
        card = (await svc.http.get(f"/v1/gift-cards/{token('GC-1')}")).json()
        assert card["balance"] == {"amount": "25.00", "currency": "EUR"}


async def test_every_method_reaches_its_state_and_the_totals_reconcile(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    """Seven methods plus a gift card split; half the orders shipped in two parcels (COD
    delivered), a quarter cancelled; amounts reconcile per payment, with the provider too."""
    async with running(clean_db, kafka_admin) as svc:
        resp = await svc.http.post(
            "/v1/gift-cards",
            json={"code": "GC-MIX", "balance": {"amount": "500", "currency": "EUR"}},
        )
        assert resp.status_code == 201
        orders: dict[str, list[Payment]] = {}
        for n in range(16):
            oid = f"ord-m{n}"
            method = METHODS[n % len(METHODS)]
            if method == "gift_card":
                orders[oid] = [
                    pay(f"{oid}-p1", "gift_card", "20.00", "GC-MIX"),
                    pay(f"{oid}-p2", "paypal", TOTAL - 20),
                ]
            else:
                orders[oid] = [pay(f"{oid}-p1", method)]
        await svc.publish(ORDER_EVENTS, *(placed(oid, *ps) for oid, ps in orders.items()))
        for ps in orders.values():
            for p in ps:
                up_front = p.method in (PaymentMethod.IDEAL, PaymentMethod.BANK_TRANSFER)
                await svc.until(p.payment_id, "captured" if up_front else "authorized")

        to_cancel = [oid for n, oid in enumerate(orders) if n % 4 == 3]
        to_ship = [oid for oid in orders if oid not in to_cancel]
        await svc.publish(ORDER_EVENTS, *(cancelled(oid) for oid in to_cancel))
        await svc.publish(
            SHIPPING_EVENTS,
            *(dispatched(oid, f"{oid}-s1", ("MUG", 1)) for oid in to_ship),
            *(dispatched(oid, f"{oid}-s2", ("TSHIRT", 2)) for oid in to_ship),
            *(delivered(oid, f"{oid}-s{k}") for oid in to_ship for k in (1, 2)),
        )
        for oid in to_ship:
            for p in orders[oid]:
                await svc.until(p.payment_id, "captured")
        for oid in to_cancel:
            for p in orders[oid]:
                await svc.until(p.payment_id, "voided", "refunded")

        books = await sandbox_books(clean_db)
        for oid in orders:
            view = (await svc.http.get(f"/v1/orders/{oid}/payments")).json()
            assert sum(amount(d, "amount") for d in view["payments"]) == TOTAL
            for doc in view["payments"]:
                authorized = amount(doc, "authorized")
                assert authorized == amount(doc, "amount")
                assert authorized == amount(doc, "captured") + amount(doc, "voided")
                assert amount(doc, "refunded") <= amount(doc, "captured")
                if oid in to_cancel:
                    assert amount(doc, "captured") == amount(doc, "refunded")
                else:
                    assert amount(doc, "captured") == authorized
                if doc["method"] != "gift_card":
                    ledger = books[doc["payment_id"]]
                    assert ledger["authorizations"] == 1
                    for field in ("authorized", "captured", "voided", "refunded"):
                        assert ledger[field] == amount(doc, field), (doc["payment_id"], field)
            if oid in to_ship:
                assert [s["shipment_id"] for s in view["shipments"]] == [f"{oid}-s1", f"{oid}-s2"]
                assert amount(view, "billed") == TOTAL
        card = (await svc.http.get(f"/v1/gift-cards/{token('GC-MIX')}")).json()
        gift_orders = [oid for oid, ps in orders.items() if len(ps) == 2]
        spent = sum(Decimal(20) for oid in gift_orders if oid not in to_cancel)
        assert Decimal(card["balance"]["amount"]) == Decimal(500) - spent


async def test_declines_cancel_nothing_themselves_but_are_published(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    async with running(clean_db, kafka_admin, invoice_credit_limit=Decimal("50")) as svc:
        await svc.publish(
            ORDER_EVENTS,
            placed("ord-d1", pay("ord-d1-p1", "card"), email="jan+decline@example.com"),
            placed("ord-d2", pay("ord-d2-p1", "invoice")),
        )
        card = await svc.until("ord-d1-p1", "declined")
        invoice = await svc.until("ord-d2-p1", "declined")
        assert (card["decline_reason"], invoice["decline_reason"]) == (
            "insufficient_funds",
            "credit_check_failed",
        )
        out = await svc.output(expect=6)
        declines = {
            e.payload["payment_id"]: e.payload["reason"] for e in out if e.type == "PaymentDeclined"
        }
        assert declines == {"ord-d1-p1": "insufficient_funds", "ord-d2-p1": "credit_check_failed"}


async def test_provider_timeouts_are_waited_out_and_authorize_once(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    """The sandbox places the hold on the first call and loses its answer twice: the
    worker repeats the call with the same key and gets the first answer, one hold."""
    async with running(clean_db, kafka_admin) as svc:
        await svc.publish(
            ORDER_EVENTS,
            placed("ord-t1", pay("ord-t1-p1", "paypal"), email="a+timeout2@example.com"),
        )
        doc = await svc.until("ord-t1-p1", "authorized")
        assert [h["type"] for h in doc["history"]] == [
            "PaymentAuthorizationRequested",
            "PaymentAuthorized",
        ]
        books = (await sandbox_books(clean_db))["ord-t1-p1"]
        assert (books["authorizations"], books["authorized"]) == (1, TOTAL)
        async with await psycopg.AsyncConnection.connect(clean_db) as conn:
            cur = await conn.execute(
                "SELECT idempotency_key, attempts, parked_at FROM provider_calls "
                "WHERE operation = 'authorize'"
            )
            assert await cur.fetchall() == [("authorise-ord-t1-p1", 3, None)]


async def test_a_provider_that_never_answers_is_parked_never_declined(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    """No answer for longer than the reconciliation limit: parked (shown by the API and
    /ready), not declined; a cancellation asks again and, still no answer, stays parked."""
    async with running(clean_db, kafka_admin, reconcile_after_s=2.0) as svc:
        await svc.publish(
            ORDER_EVENTS,
            placed("ord-t2", pay("ord-t2-p1", "card"), email="a+timeout100000@example.com"),
        )
        doc = await svc.until("ord-t2-p1", "reconciliation_required")
        [parked] = doc["reconciliation"]
        assert (parked["idempotency_key"], parked["operation"]) == (
            "authorise-ord-t2-p1",
            "authorize",
        )
        await svc.publish(ORDER_EVENTS, cancelled("ord-t2"))

        async def cancellation_seen() -> bool:
            doc.update(await svc.payment("ord-t2-p1"))
            return doc.get("cancellation") is not None

        await eventually(cancellation_seen, what="the cancellation to reach the payment")
        assert doc["status"] == "reconciliation_required" and doc["decline_reason"] is None
        listed = (await svc.http.get("/v1/reconciliations")).json()["reconciliations"]
        assert [r["payment_id"] for r in listed] == ["ord-t2-p1"]
        ready = await svc.http.get("/ready")
        assert ready.status_code == 503
        assert any("reconciliation" in r for r in ready.json()["reasons"])
        # The sandbox holds the money (its first call was carried out): one hold, never two.
        books = (await sandbox_books(clean_db))["ord-t2-p1"]
        assert (books["authorizations"], books["authorized"]) == (1, TOTAL)


async def test_a_cancellation_during_authorization_timeouts_voids_the_hold(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    """The provider places the hold and loses the answer twice (1 s, then 2 s of backoff);
    the cancellation lands after the first attempt. The worker asks again with the same
    key, gets the authorization and voids it at once: nothing stays charged."""
    async with running(clean_db, kafka_admin, backoff_s=1.0) as svc:
        await svc.publish(
            ORDER_EVENTS, placed("ord-x1", pay("ord-x1-p1", "card"), email="a+timeout2@example.com")
        )

        async def attempted() -> bool:
            async with await psycopg.AsyncConnection.connect(clean_db) as conn:
                cur = await conn.execute("SELECT count(*) FROM provider_calls")
                row = await cur.fetchone()
                return bool(row and row[0])

        await eventually(attempted, what="a first authorization attempt")
        await svc.publish(ORDER_EVENTS, cancelled("ord-x1"))
        doc = await svc.until("ord-x1-p1", "voided")
        assert [h["type"] for h in doc["history"]] == [
            "PaymentAuthorizationRequested",
            "PaymentCancellationRequested",
            "PaymentAuthorized",
            "PaymentVoided",
        ]
        books = (await sandbox_books(clean_db))["ord-x1-p1"]
        assert books["authorizations"] == 1
        assert books["voided"] == books["authorized"] == TOTAL == amount(doc, "voided")


async def test_a_cancellation_before_authorization_prevents_it(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    """A cancellation handled before the placement (an OrderPlaced replayed from the DLQ)."""
    async with running(clean_db, kafka_admin) as svc:
        await svc.publish(
            ORDER_EVENTS, cancelled("ord-x2"), placed("ord-x2", pay("ord-x2-p1", "card"))
        )
        doc = await svc.until("ord-x2-p1", "cancelled")
        assert [h["type"] for h in doc["history"]] == [
            "PaymentAuthorizationRequested",
            "PaymentCancelled",
        ]
        assert "ord-x2-p1" not in await sandbox_books(clean_db)


async def test_concurrent_spends_of_one_gift_card_never_overdraw_it(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    async with running(clean_db, kafka_admin) as svc:
        body = {"code": "GC-HOT", "balance": {"amount": "50.00", "currency": "EUR"}}
        assert (await svc.http.post("/v1/gift-cards", json=body)).status_code == 201
        orders = [
            placed(
                f"ord-g{n}",
                pay(f"ord-g{n}-p1", "gift_card", "20.00", "GC-HOT"),
                pay(f"ord-g{n}-p2", "card", TOTAL - 20),
            )
            for n in range(6)
        ]
        await svc.publish(ORDER_EVENTS, *orders)
        outcomes = [
            (await svc.until(f"ord-g{n}-p1", "authorized", "declined"))["status"] for n in range(6)
        ]
        assert sorted(outcomes) == ["authorized"] * 2 + ["declined"] * 4
        card = (await svc.http.get(f"/v1/gift-cards/{token('GC-HOT')}")).json()
        assert card["balance"]["amount"] == "10.00"


@contextlib.asynccontextmanager
async def call_log(kind: str, dsn: str) -> AsyncIterator[ProviderCalls]:
    if kind == "memory":
        yield MemoryProviderCalls()
        return
    engine = create_engine(dsn)
    log = PostgresProviderCalls(engine)
    await log.create_schema()
    try:
        yield log
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["memory", "postgres"])
async def test_the_provider_call_log_behaves_the_same_in_memory_and_in_postgres(
    clean_db: str, kind: str
) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    call = Call("authorise-p1", "p1", "o1", Operation.AUTHORIZE, "sandbox-card")
    other = Call("capture-p2-s1", "p2", "o2", Operation.CAPTURE, "sandbox-card")
    async with call_log(kind, clean_db) as log:
        assert await log.attempts(call.idempotency_key) == 0
        first = await log.attempt(call, t0)
        again = await log.attempt(call, t0 + timedelta(seconds=5))
        await log.attempt(other, t0)
        assert (first.attempts, again.attempts, again.first_attempt_at) == (1, 2, t0)
        assert again.last_attempt_at == t0 + timedelta(seconds=5) and again.parked_at is None
        assert await log.attempts(call.idempotency_key) == 2
        assert await log.parked_count() == 0
        await log.park(call.idempotency_key, "no answer", t0 + timedelta(minutes=15))
        [parked] = await log.parked()
        assert (parked.call, parked.reason) == (call, "no answer")
        assert await log.parked(payment_id="p2") == []
        assert [r.call for r in await log.parked(payment_id="p1")] == [call]
        assert (await log.attempt(call, t0 + timedelta(minutes=16))).parked_at is not None
        await log.answered(call.idempotency_key)
        assert await log.parked_count() == 0


async def test_books_and_call_counts_spelled_the_old_way_are_carried_over(clean_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(clean_db, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE authorisation_attempts (payment_id text PRIMARY KEY, "
            "attempts integer NOT NULL, last_attempt_at timestamptz NOT NULL DEFAULT now());"
            "INSERT INTO authorisation_attempts (payment_id, attempts) VALUES ('p1', 2);"
            "CREATE TABLE sandbox_authorisations (reference text PRIMARY KEY, provider text, "
            "payment_id text, currency text, authorised numeric NOT NULL, "
            "captured numeric NOT NULL DEFAULT 0, voided numeric NOT NULL DEFAULT 0, "
            "refunded numeric NOT NULL DEFAULT 0);"
            "INSERT INTO sandbox_authorisations VALUES ('CARD-1', 'sandbox-card', 'p1', "
            "'EUR', 57.35, 0, 0, 0)"
        )
    engine = create_engine(clean_db)
    try:
        log = PostgresProviderCalls(engine)
        for _ in range(2):  # idempotent
            await log.create_schema()
            await sandbox.create_schema(engine)
        assert await log.attempts("authorise-p1") == 2
    finally:
        await engine.dispose()
    books = await sandbox_books(clean_db)
    assert books["p1"]["authorized"] == TOTAL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_killed_mid_stream_and_restarted_nothing_is_authorized_or_captured_twice(
    clean_db: str, kafka_admin: KafkaConnection, tmp_path: Path
) -> None:
    """200 orders as a real process, SIGKILLed while authorizing and again while capturing."""
    stack = StackConfig()
    prefix = f"t{uuid.uuid4().hex[:8]}."
    port = _free_port()
    env = service_env(
        stack,
        "payments",
        database_dsn=clean_db,
        port=port,
        topic_prefix=prefix,
        extra={"OMS_RETRY_INITIAL_BACKOFF_S": "0.05"},
    )
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "payments.log"
    pids: list[int] = []

    def start() -> None:
        pids.append(spawn_service("payments", env, log))
        wait_healthy(url, pids[-1], log, timeout_s=90)

    def kill() -> None:
        os.kill(pids[-1], signal.SIGKILL)
        while pid_alive(pids[-1]):
            pass

    async def operations() -> int:
        async with await psycopg.AsyncConnection.connect(clean_db) as conn:
            cur = await conn.execute("SELECT count(*) FROM sandbox_operations")
            row = await cur.fetchone()
            return int(row[0]) if row else 0

    methods = ["card", "paypal", "invoice", "ideal", "bank_transfer", "cash_on_delivery"]
    orders = {f"ord-k{n}": pay(f"ord-k{n}-p1", methods[n % len(methods)]) for n in range(200)}
    up_front = (PaymentMethod.IDEAL, PaymentMethod.BANK_TRANSFER)
    start()
    try:
        async with httpx.AsyncClient(
            base_url=url, timeout=30, headers=tokens.headers(stack)
        ) as http:
            svc = Harness(kafka_admin, prefix, http)
            await svc.publish(ORDER_EVENTS, *(placed(oid, p) for oid, p in orders.items()))
            await eventually(lambda: _at_least(operations, 40), what="some authorizations")
            kill()
            assert await operations() < len(orders), "the kill came too late to test anything"
            start()
            for p in orders.values():
                done = "captured" if p.method in up_front else "authorized"
                await svc.until(p.payment_id, done, timeout_s=120)
            before = await operations()
            await svc.publish(
                SHIPPING_EVENTS,
                *(dispatched(oid, f"{oid}-s1", *EVERYTHING) for oid in orders),
                *(delivered(oid, f"{oid}-s1") for oid in orders),
            )
            await eventually(lambda: _at_least(operations, before + 30), what="some captures")
            kill()
            captures = sum(1 for p in orders.values() if p.method not in up_front)
            assert await operations() < before + captures, "the kill came too late"
            start()
            for p in orders.values():
                await svc.until(p.payment_id, "captured", timeout_s=120)
            books = await sandbox_books(clean_db)
            for p in orders.values():
                doc = await svc.payment(p.payment_id)
                assert [h["type"] for h in doc["history"]].count("PaymentAuthorized") == 1
                assert amount(doc, "captured") == amount(doc, "authorized") == TOTAL
                ledger = books[p.payment_id]
                assert (ledger["authorizations"], ledger["authorized"], ledger["captured"]) == (
                    1,
                    TOTAL,
                    TOTAL,
                ), p.payment_id
    finally:
        if pid_alive(pids[-1]):
            stop_pid(pids[-1], 15)


async def _at_least(count: Any, n: int) -> bool:
    return int(await count()) >= n


# -- the rest of the order's life: short picks, returns, failed parcels ----------------


async def settled(svc: Harness, order_id: str, check: Any, what: str) -> dict[str, Any]:
    """The order's payments view once ``check(payments by id)`` holds."""
    found: dict[str, Any] = {}

    async def reached() -> bool:
        resp = await svc.http.get(f"/v1/orders/{order_id}/payments")
        if resp.status_code != 200:
            return False
        found.clear()
        found.update({d["payment_id"]: d for d in resp.json()["payments"]})
        return bool(check(found))

    await eventually(reached, timeout_s=60, what=what)
    return found


async def test_short_picks_returns_and_lost_parcels_each_pay_back_exactly_once(
    clean_db: str, kafka_admin: KafkaConnection
) -> None:
    """Each input is delivered twice (the same envelope, which the inbox drops) and once
    more as a fresh event (which the deciders recognise): money moves once."""
    async with running(clean_db, kafka_admin) as svc:
        # A: iDEAL 40.00 (up front) + card 17.35. The mug ships (17.45, all iDEAL); both
        # T-shirts are short (39.90): iDEAL's unbilled 22.55 refunded, the card voided.
        # B: card, everything shipped, a return refunds 19.95. C: card, two parcels, the
        # mug's parcel (12.50) is lost.
        await svc.publish(
            ORDER_EVENTS,
            placed(
                "ord-s1", pay("ord-s1-ideal", "ideal", "40.00"), pay("ord-s1-card", "card", "17.35")
            ),
            placed("ord-r1", pay("ord-r1-p1", "card")),
            placed("ord-l1", pay("ord-l1-p1", "card")),
        )
        for pid in ("ord-s1-card", "ord-r1-p1", "ord-l1-p1"):
            await svc.until(pid, "authorized")
        await svc.publish(
            SHIPPING_EVENTS,
            dispatched("ord-s1", "shp-s1", ("MUG", 1)),
            dispatched("ord-r1", "shp-r1", *EVERYTHING),
            dispatched("ord-l1", "shp-l1", ("TSHIRT", 2)),
            dispatched("ord-l1", "shp-l2", ("MUG", 1)),
        )
        await svc.until("ord-r1-p1", "captured")
        await svc.until("ord-l1-p1", "captured")

        short = OrderShortShipped(
            order_id="ord-s1",
            fulfilment_id="ful-s1",
            warehouse_id="wh-ams-1",
            missing=(SkuQuantity(sku="TSHIRT", quantity=2),),
            remedy=ShortShipRemedy.REFUND,
        )
        lost = OrderShipmentFailed(
            order_id="ord-l1", shipment_id="shp-l2", failure=ShipmentFailure.LOST
        )
        resolved = ReturnResolved(
            return_id="RMA-R1",
            order_id="ord-r1",
            shipping_refund=eur("0.00"),
            refund_amount=eur("19.95"),
            refunds=(
                MethodRefund(
                    payment_id="ord-r1-p1", method=PaymentMethod.CARD, amount=eur("19.95")
                ),
            ),
            unallocated=eur("0.00"),
        )
        await svc.publish(ORDER_EVENTS, short, lost, copies=2)
        await svc.publish(RETURNS_EVENTS, resolved, copies=2)
        fresh = await svc.publish(ORDER_EVENTS, short, lost)
        fresh += await svc.publish(RETURNS_EVENTS, resolved)

        a = await settled(
            svc,
            "ord-s1",
            lambda ps: (
                amount(ps["ord-s1-card"], "voided") > 0
                and amount(ps["ord-s1-ideal"], "refunded") > 0
            ),
            "ord-s1's unshipped share released",
        )
        r = await settled(
            svc, "ord-r1", lambda ps: amount(ps["ord-r1-p1"], "refunded") > 0, "ord-r1 refunded"
        )
        lo = await settled(
            svc, "ord-l1", lambda ps: amount(ps["ord-l1-p1"], "refunded") > 0, "ord-l1 refunded"
        )
        # Let the third copies (fresh event ids, decided as repeats) be handled too.
        ids = [str(env.event_id) for env in fresh]

        async def handled() -> bool:
            async with await psycopg.AsyncConnection.connect(clean_db) as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM inbox WHERE event_id::text = ANY(%s)", (ids,)
                )
                row = await cur.fetchone()
            return row is not None and row[0] == len(ids)

        await eventually(handled, timeout_s=30, what="every fresh copy handled")
        a = await settled(svc, "ord-s1", bool, "ord-s1")
        r = await settled(svc, "ord-r1", bool, "ord-r1")
        lo = await settled(svc, "ord-l1", bool, "ord-l1")

        card, ideal = a["ord-s1-card"], a["ord-s1-ideal"]
        assert (amount(card, "captured"), amount(card, "voided")) == (Decimal(0), Decimal("17.35"))
        assert (amount(ideal, "captured"), amount(ideal, "refunded")) == (
            Decimal("40.00"),
            Decimal("22.55"),
        )
        # Net of the refund, captured = the mug (12.50) plus shipping (4.95).
        assert amount(ideal, "captured") - amount(ideal, "refunded") == Decimal("17.45")
        assert amount(r["ord-r1-p1"], "refunded") == Decimal("19.95")
        assert amount(lo["ord-l1-p1"], "refunded") == Decimal("12.50")

        books = await sandbox_books(clean_db)
        assert books["ord-s1-card"]["voided"] == Decimal("17.35")
        assert books["ord-s1-ideal"]["refunded"] == Decimal("22.55")
        assert books["ord-r1-p1"]["refunded"] == Decimal("19.95")
        assert books["ord-l1-p1"]["refunded"] == Decimal("12.50")
        refunds = {
            h["refund_id"]: h["return_id"]
            for p in (r["ord-r1-p1"], lo["ord-l1-p1"], ideal)
            for h in p["history"]
            if h["type"] == "RefundIssued"
        }
        assert refunds == {
            "rfd-RMA-R1-ord-r1-p1": "RMA-R1",
            "rfd-shp-l2-ord-l1-p1": None,
            "rfd-short-ord-s1-ideal": None,
        }
