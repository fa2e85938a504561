"""Messages that break their contract raise the right EventContractError, readably.

Each case goes through the consumer's path: Kafka bytes -> decode_envelope -> parse.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from oms_events import (
    ContractViolation,
    EventContractError,
    MalformedMessage,
    UnknownEventType,
    UnknownEventVersion,
    decode_envelope,
    encode_envelope,
    parse,
)
from oms_events.base import Event
from oms_events.contracts import OrderPlaced
from oms_events.examples import example
from oms_events.registry import envelope_for


def consume(raw: bytes) -> Event:
    return parse(decode_envelope(raw))


def message(type_name: str = "OrderPlaced", version: int = 1, **payload_edits: Any) -> bytes:
    env = envelope_for(
        example(OrderPlaced),
        stream_id="ord-1001",
        stream_version=1,
        correlation_id="ord-1001",
        causation_id=None,
        actor="test",
        producer="order",
    )
    data = json.loads(encode_envelope(env))
    data["type"], data["version"] = type_name, version
    for key, value in payload_edits.items():
        if value is _DELETE:
            del data["payload"][key]
        else:
            data["payload"][key] = value
    return json.dumps(data).encode()


_DELETE = object()


def reason_of(raw: bytes, expected: type[EventContractError]) -> str:
    with pytest.raises(expected) as caught:
        consume(raw)
    assert isinstance(caught.value, EventContractError)
    headers = caught.value.headers()
    assert headers["oms-error-code"] == expected.code
    assert headers["oms-error-reason"] == caught.value.reason == str(caught.value)
    return caught.value.reason


def test_a_valid_message_is_consumed() -> None:
    assert consume(message()) == example(OrderPlaced)


def test_unknown_type() -> None:
    reason = reason_of(message("OrderTeleported"), UnknownEventType)
    assert reason == "unknown event type 'OrderTeleported'"


def test_unknown_newer_version() -> None:
    reason = reason_of(message(version=2), UnknownEventVersion)
    assert reason == (
        "OrderPlaced v2 is newer than the latest known v1; this consumer needs the newer contracts"
    )


def test_missing_field() -> None:
    reason = reason_of(message(order_id=_DELETE), ContractViolation)
    assert reason == "OrderPlaced v1: order_id: Field required"


def test_extra_field() -> None:
    reason = reason_of(message(loyalty_points=120), ContractViolation)
    assert reason == "OrderPlaced v1: loyalty_points: Extra inputs are not permitted"


def test_float_money() -> None:
    charge = {"amount": 4.95, "currency": "EUR"}
    reason = reason_of(message(shipping_charge=charge), ContractViolation)
    assert reason.startswith("OrderPlaced v1: shipping_charge.amount: Value error, float amounts")


def test_bad_currency() -> None:
    charge = {"amount": "4.95", "currency": "euro"}
    reason = reason_of(message(shipping_charge=charge), ContractViolation)
    assert reason == (
        "OrderPlaced v1: shipping_charge.currency: String should match pattern '^[A-Z]{3}$'"
    )


def test_mixed_currencies_in_one_order() -> None:
    charge = {"amount": "4.95", "currency": "USD"}
    reason = reason_of(message(shipping_charge=charge), ContractViolation)
    assert "all amounts must be in one currency, got ['EUR', 'USD']" in reason


def test_nested_errors_are_located() -> None:
    lines = json.loads(message())["payload"]["lines"]
    lines[1]["quantity"] = 0
    lines[0]["quantity"] = "2"
    reason = reason_of(message(lines=lines), ContractViolation)
    assert "lines.0.quantity: Input should be a valid integer" in reason
    assert "lines.1.quantity: Input should be greater than 0" in reason


def test_malformed_json() -> None:
    reason = reason_of(b'{"type": "OrderPlaced", ', MalformedMessage)
    assert reason.startswith("message is not valid JSON: ")


def test_valid_json_but_not_an_envelope() -> None:
    reason = reason_of(json.dumps({"type": "OrderPlaced"}).encode(), MalformedMessage)
    assert reason.startswith("invalid envelope: ")
    assert "stream_id: Field required" in reason
