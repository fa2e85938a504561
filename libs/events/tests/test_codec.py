"""Unit tests for encoding envelopes to Kafka message values and back."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from oms_events.codec import decode_envelope, encode_envelope
from oms_events.envelope import Envelope
from oms_events.errors import EventContractError, MalformedMessage


def make_envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = {
        "type": "OrderPlaced",
        "version": 1,
        "stream_id": "ord-1",
        "stream_version": 1,
        "occurred_at": datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        "correlation_id": "ord-1",
        "causation_id": "evt-0",
        "actor": "platform:webshop-nl",
        "producer": "order",
        "payload": {"order_id": "ord-1", "note": "Grüße 🎁", "amount": "12.50"},
    }
    fields.update(overrides)
    return Envelope.model_validate(fields)


def test_encoding_is_compact_utf8_json() -> None:
    raw = encode_envelope(make_envelope())
    text = raw.decode("utf-8")
    assert ", " not in text and ": " not in text
    assert "Grüße 🎁" in text, "non-ASCII is kept as UTF-8, not escaped"
    assert json.loads(text)["payload"]["amount"] == "12.50"


def test_round_trip() -> None:
    env = make_envelope(
        occurred_at=datetime(2026, 3, 2, 9, 15, tzinfo=timezone(timedelta(hours=1)))
    )
    again = decode_envelope(encode_envelope(env))
    assert again == env
    assert again.event_id == env.event_id and isinstance(again.event_id, uuid.UUID)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"[1, 2]", "JSON list, not an envelope object"),
        (b'"OrderPlaced"', "JSON str, not an envelope object"),
        (b"{}", "invalid envelope: type: Field required"),
    ],
)
def test_undecodable_messages_are_malformed(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason) as caught:
        decode_envelope(raw)
    assert isinstance(caught.value, EventContractError)
    assert caught.value.headers()["oms-error-code"] == "malformed_message"


def test_invalid_envelope_fields_are_named() -> None:
    data = json.loads(encode_envelope(make_envelope()))
    data["stream_version"] = 0
    data["occurred_at"] = "2026-03-02T09:15:00"  # naive: no offset
    data["surprise"] = 1
    with pytest.raises(MalformedMessage) as caught:
        decode_envelope(json.dumps(data).encode())
    reason = caught.value.reason
    assert "stream_version: Input should be greater than or equal to 1" in reason
    assert "occurred_at:" in reason
    assert "surprise: Extra inputs are not permitted" in reason


def test_encoding_a_non_json_payload_is_refused() -> None:
    env = make_envelope(payload={"thing": object()})
    with pytest.raises(MalformedMessage, match="not JSON-serialisable"):
        encode_envelope(env)
