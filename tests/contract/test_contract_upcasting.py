"""OrderSubmitted v1 (customer fields at top level) is read as v2 (nested Customer)."""

from __future__ import annotations

import copy

from oms_events import decode_envelope, encode_envelope
from oms_events.contracts import Customer, OrderSubmitted, OrderSubmittedV1
from oms_events.examples import example
from oms_events.registry import envelope_for, payload_of, registry, upcast


def test_v1_payload_is_upcast_to_v2_with_the_same_data() -> None:
    v1 = payload_of(example(OrderSubmittedV1))
    original = copy.deepcopy(v1)
    assert v1["customer_id"] == "cus-778" and "customer" not in v1

    version, v2 = upcast("OrderSubmitted", 1, v1)

    assert version == 2
    assert v2["customer"] == {"customer_id": "cus-778", "email": "noor.jansen@example.com"}
    assert "customer_id" not in v2 and "customer_email" not in v2
    rest_v1 = {k: v for k, v in v1.items() if k not in ("customer_id", "customer_email")}
    rest_v2 = {k: v for k, v in v2.items() if k != "customer"}
    assert rest_v1 == rest_v2, "every other field is carried over unchanged"
    assert v1 == original, "upcasting does not modify its input"


def test_a_v1_message_parses_as_the_v2_model() -> None:
    old = example(OrderSubmittedV1)
    env = envelope_for(
        old,
        stream_id="webshop-nl/WEB-55012",
        stream_version=1,
        correlation_id="webshop-nl/WEB-55012",
        causation_id=None,
        actor="platform:webshop-nl",
        producer="platform-adapter",
    )
    assert (env.type, env.version) == ("OrderSubmitted", 1)

    event = registry.parse_as(decode_envelope(encode_envelope(env)), OrderSubmitted)

    assert event.customer == Customer(customer_id=old.customer_id, email=old.customer_email)
    assert event == example(OrderSubmitted)
    assert event.total == old.total
    assert registry.latest("OrderSubmitted") is OrderSubmitted


def test_a_v1_payload_written_by_hand_parses() -> None:
    # Exactly what a v1-era platform adapter put on the wire, independent of today's models.
    v1 = {
        "platform_order_ref": "BOL-1200034",
        "sales_channel": "bol-com",
        "customer_id": "bol-cus-9",
        "customer_email": "anon-9@customers.example",
        "lines": [
            {
                "line_id": "a",
                "sku": "MUG-1",
                "quantity": 3,
                "unit_price": {"amount": "7.00", "currency": "EUR"},
            }
        ],
        "shipping_address": {
            "recipient": "J. de Vries",
            "line1": "Dorpsstraat 1",
            "postal_code": "9999 AA",
            "city": "Ergens",
            "country": "NL",
        },
        "shipping_charge": {"amount": "0.00", "currency": "EUR"},
        "payments": [
            {
                "payment_id": "p",
                "method": "invoice",
                "amount": {"amount": "21.00", "currency": "EUR"},
            }
        ],
        "placed_at": "2025-11-30T23:59:59+01:00",
    }
    env = envelope_for(
        example(OrderSubmitted),
        stream_id="s",
        stream_version=1,
        correlation_id="c",
        causation_id=None,
        actor="a",
        producer="p",
    ).model_copy(update={"version": 1, "payload": v1})

    event = registry.parse_as(env, OrderSubmitted)

    assert event.customer.email == "anon-9@customers.example"
    assert event.lines[0].quantity == 3
    assert str(event.total) == "21.00 EUR"
