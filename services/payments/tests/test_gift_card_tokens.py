"""Gift card codes are secrets: a keyed hash (the token) stands for the card everywhere.

The token is keyed (another key, another token), normalised (how a printed code is typed
does not matter), and nothing the service records or declines with carries the code or,
in a decline, the card's balance.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from pydantic import SecretStr, ValidationError

from oms_events.contracts import DeclineReason, PaymentDeclined
from oms_events.contracts.common import GIFT_CARD_TOKEN_PATTERN
from oms_events.examples import eur
from oms_payments.domain.commands import IssueGiftCard, RequestRefund
from oms_payments.gift_card_tokens import GiftCardTokens, normalise
from oms_payments.handlers import issue_gift_card, request_refund
from oms_payments.settings import PaymentsSettings
from oms_payments.streams import payment_stream
from oms_platform.eventstore import START
from services.payments.tests.support import (
    TEST_GIFT_CARD_KEY,
    Payments,
    cancelled,
    dispatched,
    payment,
    placed,
    token,
)

OTHER_KEY = "ffeeddccbbaa99887766554433221100"
DSN = SecretStr("postgresql://nobody@127.0.0.1:9/none")


def test_the_token_is_a_keyed_hash_of_the_code() -> None:
    ours, theirs = GiftCardTokens(TEST_GIFT_CARD_KEY), GiftCardTokens(OTHER_KEY)
    assert ours.token("GC-7Q4M-2291") == ours.token("GC-7Q4M-2291")
    assert ours.token("GC-7Q4M-2291") != theirs.token("GC-7Q4M-2291")
    assert ours.token("GC-7Q4M-2291") != ours.token("GC-7Q4M-2292")
    minted = ours.token("GC-7Q4M-2291")
    assert re.fullmatch(GIFT_CARD_TOKEN_PATTERN, minted), minted
    assert "7Q4M" not in minted.upper() and "2291" not in minted


def test_codes_are_normalised_before_hashing() -> None:
    tokens = GiftCardTokens(TEST_GIFT_CARD_KEY)
    assert normalise(" gc-7q4m 2291 ") == "GC7Q4M2291"
    assert tokens.token("gc-7q4m 2291") == tokens.token("GC7Q4M2291")
    assert tokens.token("GIFT_1") != tokens.token("GIFT1")  # underscores are part of a code


@pytest.mark.parametrize("code", ["", "G-C", "GC\x001", "GÇ-12", "G" * 65, "GC/12"])
def test_a_malformed_code_is_refused_without_quoting_it(code: str) -> None:
    with pytest.raises(ValueError) as refused:
        GiftCardTokens(TEST_GIFT_CARD_KEY).token(code)
    assert "letters, digits or underscores" in str(refused.value)
    assert not code or code not in str(refused.value)


@pytest.mark.parametrize(("key", "why"), [("not hex", "hex"), ("00ff", "at least 16 bytes")])
def test_an_unusable_key_is_refused(key: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        GiftCardTokens(key)
    with pytest.raises(ValidationError) as refused:
        PaymentsSettings(database_dsn=DSN, gift_card_key=SecretStr(key))
    assert why in str(refused.value) and key not in str(refused.value)


def test_the_service_has_no_key_unless_given_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_PAYMENTS_GIFT_CARD_KEY", raising=False)
    with pytest.raises(ValidationError) as refused:
        PaymentsSettings(database_dsn=DSN)
    assert "gift_card_key" in str(refused.value)
    monkeypatch.setenv("OMS_PAYMENTS_GIFT_CARD_KEY", TEST_GIFT_CARD_KEY)
    settings = PaymentsSettings(database_dsn=DSN)
    assert settings.gift_card_tokens().token("GC-1") == token("GC-1")
    assert TEST_GIFT_CARD_KEY not in repr(settings) + repr(settings.gift_card_tokens())


async def test_a_decline_says_the_balance_is_short_but_not_what_it_is(service: Payments) -> None:
    await _issue(service, "GC-SHORT-1", "10.00")
    await service.run(placed(payment("pay-1", "gift_card", "57.35", "GC-SHORT-1")))
    [*_, declined] = await service.stream(payment_stream("pay-1"))
    assert isinstance(declined, PaymentDeclined)
    assert declined.reason is DeclineReason.INSUFFICIENT_FUNDS
    message = declined.provider_message or ""
    assert "does not cover" in message
    assert "10.00" not in message and "10" not in message, message
    assert "GC-SHORT-1" not in message and token("GC-SHORT-1") not in message


async def test_an_unknown_card_is_declined_without_naming_it(service: Payments) -> None:
    await service.run(placed(payment("pay-1", "gift_card", "57.35", "GC-NEVER-ISSUED")))
    [*_, declined] = await service.stream(payment_stream("pay-1"))
    assert isinstance(declined, PaymentDeclined) and declined.reason is DeclineReason.REFUSED
    assert token("GC-NEVER-ISSUED") not in (declined.provider_message or "")


async def test_no_code_is_recorded_anywhere_and_the_token_is(service: Payments) -> None:
    """Issue, pay, capture, refund; and a second order cancelled (a credit back)."""
    await _issue(service, "GC-SECRET-1", "100.00")
    await service.run(
        placed(
            payment("pay-1", "gift_card", "20.00", "GC-SECRET-1"), payment("pay-2", "card", "37.35")
        ),
        dispatched("shp-1", ("TSHIRT", 2), ("MUG", 1)),
    )
    async with service.store.unit_of_work() as uow:
        refund = RequestRefund("pay-1", "rfd-1", Decimal("5.00"), "goodwill", currency="EUR")
        await request_refund(uow, refund, actor="staff:test", cause=None)
    other = "ord-000000000002"
    await service.run(
        placed(payment("pay-9", "gift_card", "57.35", "GC-SECRET-1"), order_id=other),
        cancelled(other),
    )
    await service.pump()
    records = await service.store.read_all(START, limit=10_000)
    text = "\n".join(
        json.dumps(
            [r.envelope.stream_id, r.envelope.correlation_id, r.envelope.model_dump(mode="json")]
        )
        for r in records
    )
    types = {r.envelope.type for r in records}
    assert {"GiftCardIssued", "GiftCardDebited", "GiftCardCredited", "RefundIssued"} <= types
    for spelling in ("GC-SECRET-1", "GCSECRET1", "gc-secret-1"):
        assert spelling.lower() not in text.lower()
    assert f"giftcard-{token('GC-SECRET-1')}" in {r.envelope.stream_id for r in records}
    assert text.count(token("GC-SECRET-1")) >= 5


async def _issue(service: Payments, code: str, balance: str) -> None:
    async with service.store.unit_of_work() as uow:
        cmd = IssueGiftCard(token(code), eur(balance))
        await issue_gift_card(uow, cmd, actor="staff:test", cause=None)
