"""No gift card code appears in any event, Kafka message or log line of a run (nor any
bearer token, key or Kafka password).

A demo-like run on the real services (inventory, payments, order as processes on scratch
databases and their own topics): cards are issued over HTTP, a shop exchanges codes for
tokens at checkout and places orders over HTTP and on the ingress topic; one card pays and
is captured on dispatch, then partly refunded; one pays beside a card that declines, so the
order is cancelled and the card credited back; one is too small for its payment and one was
never issued (both declined); a card issued twice and an order that sends a code instead
of a token are refused.

Then everything the run left behind is read back: every table of every service's database
(the event stores' stream ids and payloads, the read models, inbox, provider call logs),
every record (key, value, headers) of every topic of the run, and every service log file.
No issued code is in any of it, in any spelling the token hashes alike, and each card's
token is.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from oms_cli.config import StackConfig
from oms_cli.secrets import ensure_secrets
from oms_events.topics import PLATFORM_INGRESS
from oms_platform.auth import Scope
from tests.e2e.records import read_to_end, topics
from tests.e2e.shop import (
    gift_card_token,
    issue_gift_card,
    money,
    order_body,
    order_payments,
    place,
    seed_sku,
    seed_warehouses,
    settled,
)
from tests.e2e.system import SERVICES, System, running_system, wait_until
from tests.e2e.test_order_flow import dispatch, find_by_ref, ingress_envelope

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:6].upper()
SPENT = f"GC-SECRET-{RUN}-A"
"""Pays twice, is captured, partly refunded, credited back after a cancellation."""
SMALL = f"gc-secret-{RUN.lower()}-b"
"""Issued with 5.00, asked for 20.00: declined."""
NEVER = f"GC-SECRET-{RUN}-C"
"""Exchanged for a token but never issued: declined."""
CODES = (SPENT, SMALL, NEVER)
TEE = ("GCS-TEE", 1, "25.00")
"""25.00 + 4.95 shipping = 29.95 an order."""


def spellings(code: str) -> set[str]:
    """Ways the code may be written that all hash to the card's token (lower-cased)."""
    normal = code.replace("-", "").upper()
    return {code.lower(), normal.lower(), code.replace("-", " ").lower()}


@dataclass(frozen=True)
class Run:
    tokens: dict[str, str]
    """Each code's token, as the payments API answered it."""
    declined: dict[str, str]
    """The order paid by ``SMALL`` and the one paid by ``NEVER``, by code."""


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("service-logs"))


@pytest.fixture(scope="module")
def system(logs: Path) -> Iterator[System]:
    # At debug level: every line a service may write about the run is in its log.
    debug = {f"OMS_{name.upper()}_LOG_LEVEL": "DEBUG" for name in SERVICES}
    with running_system(StackConfig(), logs, services=SERVICES, **debug) as system:
        yield system


@pytest.fixture(scope="module")
async def run(system: System) -> AsyncIterator[Run]:
    """The run; yields each code's token and the declined orders."""
    await seed_warehouses(system)
    await seed_sku(system, TEE[0], {"AMS": 50})
    tokens = {
        SPENT: await issue_gift_card(system, SPENT, "100.00"),
        SMALL: await issue_gift_card(system, SMALL, "5.00"),
        NEVER: await gift_card_token(system, NEVER),
    }
    assert tokens[SMALL] == await gift_card_token(system, SMALL.upper().replace("-", " "))
    async with system.client("payments", Scope.CUSTOMER_SERVICE) as pay:
        again = await pay.post("/v1/gift-cards", json={"code": SPENT, "balance": money("1.00")})
    assert again.status_code == 409 and SPENT.lower() not in again.text.lower(), again.text

    # Paid 20.00 by card A over HTTP, captured on dispatch, then 5.00 of it refunded.
    paid = order_body([TEE], gift_card=(SPENT, "20.00"))
    paid_id = await place(system, paid)
    order = await settled(system, paid_id)
    assert order["status"] == "confirmed", order
    await dispatch(system, order, "AMS")
    gift_payment = f"{paid['platform_order_ref']}-gift"
    await wait_until(
        lambda: payment_status(system, paid_id, gift_payment, "captured"), what="the capture"
    )
    async with system.client("payments", Scope.CUSTOMER_SERVICE) as pay:
        resp = await pay.post(
            f"/v1/payments/{gift_payment}/refunds",
            json={"amount": "5.00", "reason": "goodwill: late parcel"},
        )
    assert resp.status_code == 202, resp.text
    await wait_until(
        lambda: payment_status(system, paid_id, gift_payment, "partially_refunded"),
        what="the refund",
    )

    # Card A beside a card that declines, sent on the ingress topic: cancelled, credited back.
    both = order_body(
        [TEE], gift_card=(SPENT, "10.00"), email=f"gc-{RUN.lower()}+decline@example.com"
    )
    ref = str(both["platform_order_ref"])
    await system.publish(PLATFORM_INGRESS, ingress_envelope(both), key=ref.encode())
    [found] = await wait_until(lambda: find_by_ref(system, ref), what="the ingress order")
    assert (await settled(system, found["order_id"]))["status"] == "cancelled"
    await wait_until(
        lambda: payment_status(system, found["order_id"], f"{ref}-gift", "voided"),
        what="card A credited back",
    )

    # Too small a card, and a card never issued: both declined, the orders cancelled.
    declined = {}
    for code in (SMALL, NEVER):
        order_id = await place(system, order_body([TEE], gift_card=(code, "20.00")))
        assert (await settled(system, order_id))["status"] == "cancelled"
        declined[code] = order_id

    # A shop that sends a code instead of a token is refused, and told so without it.
    body = order_body([TEE])
    body["payments"] = [
        {
            "payment_id": f"{body['platform_order_ref']}-gift",
            "method": "gift_card",
            "amount": money("29.95"),
            "gift_card_code": SPENT,
        }
    ]
    async with system.client("order", Scope.PLATFORM) as shop:
        refused = await shop.post("/v1/orders", json=body)
    assert refused.status_code == 422, refused.text
    assert "gift_card_code" in refused.text and SPENT.lower() not in refused.text.lower()
    yield Run(tokens, declined)


async def payment_status(system: System, order_id: str, payment_id: str, wanted: str) -> bool:
    docs = {d["payment_id"]: d for d in await order_payments(system, order_id)}
    return bool(docs.get(payment_id, {}).get("status") == wanted)


async def test_balances_and_declines_name_no_code_nor_balance(system: System, run: Run) -> None:
    tokens = run.tokens
    async with system.client("payments", Scope.CUSTOMER_SERVICE) as pay:
        spent = (await pay.get(f"/v1/gift-cards/{tokens[SPENT]}")).json()
        small = (await pay.get(f"/v1/gift-cards/{tokens[SMALL]}")).json()
        never = await pay.get(f"/v1/gift-cards/{tokens[NEVER]}")
    # 100 - 20 (paid) + 5 (refunded) - 10 (debited, then credited back on cancellation).
    assert Decimal(spent["balance"]["amount"]) == Decimal("85.00"), spent
    assert [h["type"] for h in spent["history"]] == [
        "GiftCardIssued",
        "GiftCardDebited",
        "GiftCardCredited",
        "GiftCardDebited",
        "GiftCardCredited",
    ]
    assert small["balance"]["amount"] == "5.00" and never.status_code == 404
    reasons = {}
    for code, order_id in run.declined.items():
        [gift] = [d for d in await order_payments(system, order_id) if d["method"] == "gift_card"]
        assert gift["status"] == "declined" and gift["gift_card"] == tokens[code], gift
        [event] = [h for h in gift["history"] if h["type"] == "PaymentDeclined"]
        reasons[code] = f"{event['reason']}: {event.get('provider_message')}"
    assert (
        reasons[SMALL] == "insufficient_funds: the gift card's balance does not cover the payment"
    )
    assert reasons[NEVER].startswith("refused"), reasons
    assert not any("5.00" in r or "5.0" in r for r in reasons.values()), reasons


async def test_no_code_in_any_database_topic_or_log_and_the_tokens_are(
    system: System, run: Run, logs: Path
) -> None:
    tokens = run.tokens
    stores = {name: await database_text(dsn) for name, dsn in system.databases.items()}
    messages = await topic_text(system)
    service_logs = read_logs(logs)
    assert {"payments.log", "order.log", "inventory.log"} <= set(service_logs)
    places = {f"database {name}": text for name, text in stores.items()}
    places |= {f"topic {name}": text for name, text in messages.items()}
    places |= {f"log {name}": text for name, text in service_logs.items()}
    for code in CODES:
        for spelling in spellings(code):
            leaks = [where for where, text in places.items() if spelling in text.lower()]
            assert not leaks, f"{code!r} (as {spelling!r}) found in {leaks}"
    # Nor any bearer token the run used, or a key or password the services were given.
    secrets = ensure_secrets(system.stack)
    keys = [secrets.chain_key, secrets.gift_card_key, secrets.anchor_private_key.splitlines()[1]]
    keys += [p.read_text().strip() for p in secrets.folder.glob("kafka-*.password")]
    for where, text in places.items():
        assert "Bearer " not in text and "eyJhbGciOiJFZERTQS" not in text, f"a token in {where}"
        assert not [k for k in keys if k and k in text], f"a key or password in {where}"
    # Each card is there, by token: its stream, its events and their messages.
    for code in (SPENT, SMALL):
        assert f"giftcard-{tokens[code]}" in stores["payments"]
    for code in CODES:
        token = tokens[code]
        assert token in stores["payments"] and token in stores["order"], code
        assert (
            token in messages[system.topic(PLATFORM_INGRESS)]
            or token in messages[system.topic("oms.order.events")]
        )
        assert token in messages[system.topic("oms.payments.events")], code


def read_logs(folder: Path) -> dict[str, str]:
    """Each service's log file (every line the process wrote), by file name."""
    return {path.name: path.read_text(errors="replace") for path in folder.glob("*.log")}


async def database_text(dsn: str) -> str:
    """Every row of every table of the database, as PostgreSQL writes rows in text."""
    rows: list[str] = []
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        tables = await conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        for schema, table in await tables.fetchall():
            query = sql.SQL("SELECT t::text FROM {}.{} AS t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            rows += [f"{table}: {row}" for (row,) in await (await conn.execute(query)).fetchall()]
    assert any(row.startswith("events: ") for row in rows)
    return "\n".join(rows)


async def topic_text(system: System) -> dict[str, str]:
    """Each topic of the run: every record's key, value and headers, decoded as text."""
    kafka = system.stack.kafka  # the stack's super user: it may read every topic
    found: dict[str, str] = {}
    for topic in sorted(t for t in await topics(kafka) if t.startswith(system.prefix)):
        lines = []
        for record in await read_to_end(kafka, topic):
            parts = [record.key or b"", record.value or b""]
            parts += [name.encode() + b"=" + (value or b"") for name, value in record.headers]
            lines.append(" | ".join(p.decode(errors="replace") for p in parts))
        found[topic] = "\n".join(lines)
    assert system.topic("oms.payments.events") in found, sorted(found)
    return found
