"""Round trips: event -> envelope -> Kafka bytes -> envelope -> event gives the same event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from oms_events import decode_envelope, encode_envelope
from oms_events.base import Event
from oms_events.contracts import (
    Address,
    Customer,
    OrderLine,
    OrderPlaced,
    Payment,
    PaymentMethod,
)
from oms_events.envelope import Envelope
from oms_events.examples import all_examples
from oms_events.limits import MAX_PG_INTEGER, SINGLE_LINE_PATTERN
from oms_events.money import Money
from oms_events.registry import envelope_for, payload_of, registry
from oms_events.schemas import load_committed

LATEST = [e for e in all_examples() if registry.latest(e.event_type) is type(e)]


def wrap(event: Event, **overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "stream_id": "ord-1001",
        "stream_version": 1,
        "correlation_id": "ord-1001",
        "causation_id": None,
        "actor": "test",
        "producer": "test",
    }
    fields.update(overrides)
    return envelope_for(event, **fields)


@pytest.mark.parametrize("event", LATEST, ids=lambda e: e.event_type)
def test_every_contract_round_trips_through_kafka_bytes(event: Event) -> None:
    env = wrap(event)
    received = decode_envelope(encode_envelope(env))
    assert received == env
    parsed = registry.parse(received)
    assert type(parsed) is type(event)
    assert parsed == event
    assert payload_of(parsed) == payload_of(event)


@pytest.mark.parametrize(
    "event", all_examples(), ids=lambda e: f"{e.event_type}.v{e.event_version}"
)
def test_payloads_are_plain_json_valid_against_the_committed_schema(event: Event) -> None:
    payload = payload_of(event)
    # What the event store hashes and stores: must survive json without custom encoders.
    assert json.loads(json.dumps(payload)) == payload
    schema = load_committed(type(event))
    assert schema is not None
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        payload
    )


# --- property-based: generated orders and envelopes --------------------------------------

# Straight from the contracts' own pattern, as a schema-driven generator would do it.
ids = st.from_regex(SINGLE_LINE_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 30)
skus = st.from_regex(r"[A-Z0-9]{2,10}(-[A-Z0-9]{1,6}){0,3}", fullmatch=True)
prices = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(2000, 1, 2),
    max_value=datetime(2099, 12, 30),
    timezones=st.builds(
        lambda minutes: timezone(timedelta(minutes=minutes)),
        st.integers(min_value=-12 * 60, max_value=14 * 60),
    ),
)


@st.composite
def orders(draw: st.DrawFn) -> OrderPlaced:
    currency = draw(st.sampled_from(["EUR", "USD", "GBP", "SEK"]))
    lines = [
        OrderLine(
            line_id=str(n),
            sku=draw(skus),
            quantity=draw(st.integers(min_value=1, max_value=500)),
            unit_price=Money(amount=draw(prices), currency=currency),
        )
        for n in range(1, draw(st.integers(min_value=1, max_value=6)) + 1)
    ]
    shipping = Money(amount=draw(prices), currency=currency)
    total = Money.total((line.line_total for line in lines), currency) + shipping
    gift = Money(amount=min(draw(prices), total.amount), currency=currency)
    payments = [Payment(payment_id="p1", method=PaymentMethod.GIFT_CARD, amount=gift)]
    if total > gift:
        method = draw(st.sampled_from([m for m in PaymentMethod if m != PaymentMethod.GIFT_CARD]))
        payments.append(Payment(payment_id="p2", method=method, amount=total - gift))
    return OrderPlaced(
        order_id=draw(ids),
        platform_order_ref=draw(ids),
        sales_channel=draw(ids),
        customer=Customer(customer_id=draw(ids), email="buyer@example.com"),
        lines=lines,
        shipping_address=Address(
            recipient=draw(ids),
            line1=draw(ids),
            postal_code="1016 GV",
            city=draw(ids),
            country=draw(st.sampled_from(["NL", "BE", "DE", "FR", "US"])),
        ),
        shipping_charge=shipping,
        payments=payments,
        placed_at=draw(timestamps),
    )


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=orders(), occurred_at=timestamps, stream_version=st.integers(1, MAX_PG_INTEGER))
def test_generated_orders_round_trip_exactly(
    order: OrderPlaced, occurred_at: datetime, stream_version: int
) -> None:
    env = wrap(order, occurred_at=occurred_at, stream_version=stream_version)
    parsed = registry.parse_as(decode_envelope(encode_envelope(env)), OrderPlaced)
    assert parsed == order
    assert parsed.total == order.total
    assert sum((p.amount.amount for p in parsed.payments), Decimal(0)) == order.total.amount


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(deadline=None)
@given(
    payload=st.dictionaries(st.text(), json_values, max_size=5),
    stream_id=ids,
    correlation_id=ids,
    causation_id=st.none() | ids,
    occurred_at=timestamps,
    event_id=st.uuids(),
)
def test_generated_envelopes_round_trip_exactly(
    payload: dict[str, Any],
    stream_id: str,
    correlation_id: str,
    causation_id: str | None,
    occurred_at: datetime,
    event_id: uuid.UUID,
) -> None:
    env = Envelope(
        event_id=event_id,
        type="AnyType",
        version=7,
        stream_id=stream_id,
        stream_version=3,
        occurred_at=occurred_at,
        correlation_id=correlation_id,
        causation_id=causation_id,
        actor="actor",
        producer="producer",
        payload=payload,
    )
    assert decode_envelope(encode_envelope(env)) == env
