"""Carrier webhooks: only a body signed with the carrier's secret is believed, and parsed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from oms_platform.refusal import Refusal
from oms_shipping.domain.webhooks import CarrierStatus, parse_update, sign, verify_signature

SECRET = b"postnl-webhook-secret"
BODY = json.dumps(
    {
        "update_id": "evt-81",
        "tracking_number": "3SOMSN000000042",
        "status": "delivery_failed",
        "occurred_at": "2026-03-03T14:05:00+01:00",
        "location": "Utrecht",
        "reason": "nobody at home",
    }
).encode()


def test_the_signature_is_hmac_sha256_in_hex() -> None:
    # RFC 4231, test case 2.
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"Jefe", b"what do ya want for nothing?") == expected
    assert verify_signature(b"Jefe", b"what do ya want for nothing?", expected)


def test_a_valid_signature_verifies() -> None:
    signature = sign(SECRET, BODY)
    assert len(signature) == 64
    assert verify_signature(SECRET, BODY, signature)
    assert verify_signature(SECRET, BODY, "sha256=" + signature)
    assert verify_signature(SECRET, BODY, signature.upper())


def test_a_tampered_body_fails() -> None:
    signature = sign(SECRET, BODY)
    tampered = BODY.replace(b"delivery_failed", b"delivered")
    assert not verify_signature(SECRET, tampered, signature)
    # Same meaning, other bytes: the raw body is what is signed.
    reformatted = json.dumps(json.loads(BODY), indent=1).encode()
    assert not verify_signature(SECRET, reformatted, signature)


def test_another_secret_a_missing_or_a_malformed_header_fails() -> None:
    signature = sign(SECRET, BODY)
    assert not verify_signature(b"dhl-webhook-secret", BODY, signature)
    assert not verify_signature(SECRET, BODY, None)
    assert not verify_signature(SECRET, BODY, "")
    assert not verify_signature(SECRET, BODY, signature[:-1])
    assert not verify_signature(SECRET, BODY, "not hex at all")
    assert not verify_signature(SECRET, BODY, "é" * 64)
    # No secret configured: nothing verifies, not even the HMAC under the empty key.
    assert not verify_signature(b"", BODY, sign(b"", BODY))


def test_a_status_update_is_parsed() -> None:
    update = parse_update("postnl", BODY)
    assert update.carrier == "postnl"
    assert update.update_id == "evt-81"
    assert update.tracking_number == "3SOMSN000000042"
    assert update.status is CarrierStatus.DELIVERY_FAILED
    assert update.occurred_at == datetime(2026, 3, 3, 13, 5, tzinfo=UTC)
    assert update.occurred_at.utcoffset() == timedelta(hours=1)
    assert (update.location, update.reason) == ("Utrecht", "nobody at home")
    assert not update.status.final
    assert CarrierStatus.LOST.final and CarrierStatus.DELIVERED.final


def _body(**changes: object) -> bytes:
    data = json.loads(BODY)
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (_body(status="teleported"), "status"),
        (_body(status=...), "status"),
        (_body(update_id=12), "update_id"),
        (_body(tracking_number=""), "tracking_number"),
        (_body(tracking_number="x" * 101), "tracking_number"),
        (_body(occurred_at="yesterday"), "occurred_at"),
        (_body(occurred_at="2026-03-03T14:05:00"), "occurred_at"),
        (_body(location="line\nbreak"), "location"),
    ],
)
def test_a_malformed_update_is_refused_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_update("postnl", body)
    assert refused.value.code == "invalid_carrier_update"
    assert refused.value.status == 422
    assert refused.value.field == field


def test_optional_fields_may_be_left_out() -> None:
    update = parse_update("dhl", _body(location=..., reason=..., status="in_transit"))
    assert update.location is None and update.reason is None
    assert update.status is CarrierStatus.IN_TRANSIT
    assert update.occurred_at.tzinfo == timezone(timedelta(hours=1))
