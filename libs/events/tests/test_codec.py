"""Unit tests for encoding envelopes to Kafka message values and back."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

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
        (b"[" * 5_000 + b"]" * 5_000, "message is nested deeper than 32 arrays and objects"),
        (b'{"payload": ' * 80_000, "message is nested deeper than 32 arrays and objects"),
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "message is nested deeper than 32 arrays and objects"),
        (
            b'{"payload": {"lines": [{"quantity": 1' + b"0" * 309 + b"}]}}",
            "message is out of range: a number is outside the signed 64-bit range "
            "at payload.lines.0.quantity",
        ),
        (b" " * (1_048_576 + 1), "message is larger than 1048576 bytes"),
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


def test_a_deep_payload_inside_a_valid_envelope_is_malformed() -> None:
    raw = encode_envelope(make_envelope(payload={"note": "DEEP"}))
    for depth in [31, 5_000]:  # with the envelope and payload objects: 33 and 5002 levels
        deep = b'{"x": ' * depth + b"1" + b"}" * depth
        with pytest.raises(MalformedMessage, match="message is nested deeper than 32 arrays"):
            decode_envelope(raw.replace(b'"DEEP"', deep))
    assert decode_envelope(raw.replace(b'"DEEP"', b'{"x": ' * 30 + b"1" + b"}" * 30))


@pytest.mark.parametrize(
    "field", ["type", "stream_id", "correlation_id", "causation_id", "actor", "producer"]
)
@pytest.mark.parametrize("control", ["\x00", "\n", "\x1b", "\x7f", "\x85"])
def test_envelope_strings_refuse_control_characters(field: str, control: str) -> None:
    data = json.loads(encode_envelope(make_envelope()))
    data[field] = f"ord{control}1"
    with pytest.raises(MalformedMessage, match=f"{field}: String should match pattern"):
        decode_envelope(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        *[("type", 200), ("stream_id", 200), ("correlation_id", 200)],
        *[("causation_id", 200), ("actor", 200), ("producer", 100)],
    ],
)
def test_envelope_strings_are_bounded(field: str, limit: int) -> None:
    assert getattr(make_envelope(**{field: "é" * limit}), field) == "é" * limit
    with pytest.raises(ValidationError, match=f"at most {limit} characters"):
        make_envelope(**{field: "é" * (limit + 1)})


@pytest.mark.parametrize("field", ["version", "stream_version"])
def test_envelope_versions_fit_a_postgresql_integer(field: str) -> None:
    assert getattr(make_envelope(**{field: 2**31 - 1}), field) == 2**31 - 1
    with pytest.raises(ValidationError, match="less than or equal to 2147483647"):
        make_envelope(**{field: 2**31})
