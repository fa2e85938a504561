"""Hostile inputs for the order intake, as raw bytes: one set for HTTP, the same for Kafka.

Each is built as text, not through ``json.dumps`` of Python values, so that it is exactly
what a hostile client would send: a 310-digit number, nesting 5,000 levels deep, a NUL
escaped inside a string, bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from tests.e2e.shop import money, order_body
from tests.e2e.test_order_flow import ingress_envelope

DEPTH = 5_000
HUGE = 10**309
"""A quantity with 310 digits: above every float, infinity to a float-based decoder."""
MIB = 1 << 20


@dataclass(frozen=True)
class Hostile:
    """One hostile input: its name, the bytes, and the platform ref it would create."""

    name: str
    body: bytes
    ref: str | None = None
    field: str | None = None
    """A word the per-field error should name (``quantity``), when there is one field at fault."""


def nested(depth: int = DEPTH) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def nested_array(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


def _body(sku: str, channel: str, tag: str, **kw: Any) -> dict[str, Any]:
    return order_body(
        [(sku, 1, "10.00")], ref=f"HOSTILE-{tag}-{uuid.uuid4().hex[:8]}", channel=channel, **kw
    )


def huge_quantity_free_line(sku: str, channel: str) -> dict[str, Any]:
    """The issue's order: quantity 10**309 at 0.00 each, 5.00 shipping, a 5.00 payment."""
    body = _body(sku, channel, "HUGEQTY")
    body["lines"][0]["quantity"] = HUGE
    body["lines"][0]["unit_price"] = money("0.00")
    body["shipping_charge"] = money("5.00")
    body["payments"][0]["amount"] = money("5.00")
    return body


def order_payloads(sku: str, channel: str) -> list[tuple[str, dict[str, Any] | str, str | None]]:
    """``(name, body, field)``: order bodies that must be refused, as dicts or raw JSON text."""
    cases: list[tuple[str, dict[str, Any] | str, str | None]] = []
    cases.append(
        (
            "quantity 10**309, unit price 0.00, payment 5.00",
            huge_quantity_free_line(sku, channel),
            "quantity",
        )
    )

    body = _body(sku, channel, "HUGEQTYPRICED")
    body["lines"][0]["quantity"] = HUGE
    cases.append(("quantity 10**309 at 10.00", body, "quantity"))

    body = _body(sku, channel, "EXPQTY")
    text = dumps(body).decode().replace('"quantity":1,', '"quantity":1e309,', 1)
    cases.append(("quantity 1e309 (infinity as a float)", text, "quantity"))

    body = _body(sku, channel, "MAXQTY")
    body["lines"][0]["quantity"] = 100_001
    cases.append(("quantity 100,001 (above the per-line bound)", body, "quantity"))

    body = _body(sku, channel, "LINES")
    body["lines"] = [
        {"line_id": f"l{i}", "sku": sku, "quantity": 1, "unit_price": money("0.01")}
        for i in range(12_000)
    ]
    body["payments"][0]["amount"] = money("124.95")
    cases.append(("12,000 lines", body, "lines"))

    body = _body(sku, channel, "LINES501")
    body["lines"] = [
        {"line_id": f"l{i}", "sku": sku, "quantity": 1, "unit_price": money("1.00")}
        for i in range(501)
    ]
    body["payments"][0]["amount"] = money("505.95")
    cases.append(("501 lines (above the per-order bound)", body, "lines"))

    body = _body(sku, channel, "NUL")
    body["shipping_address"]["line1"] = "Teststraat\u00001"
    cases.append(("NUL in the address", body, "line1"))

    body = _body(sku, channel, "BEL")
    body["shipping_address"]["recipient"] = "E2E\u0007Tester"
    cases.append(("control character in the recipient", body, "recipient"))

    for amount in ("NaN", "Infinity", "1e3", "5.001"):
        body = _body(sku, channel, "MONEY")
        body["payments"][0]["amount"] = {"amount": amount, "currency": "EUR"}
        cases.append((f"payment amount {amount!r}", body, "amount"))

    body = _body(sku, channel, "NESTED")
    text = dumps({**body, "customer": "@@"}).decode().replace('"@@"', nested(), 1)
    cases.append(("5,000-deep nested JSON in the order", text, None))
    return cases


def _raw(body: dict[str, Any] | str) -> bytes:
    return body.encode() if isinstance(body, str) else dumps(body)


def _ref(body: dict[str, Any] | str) -> str | None:
    if isinstance(body, dict):
        return str(body["platform_order_ref"])
    marker = '"platform_order_ref":"'
    start = body.find(marker)
    return body[start + len(marker) :].split('"', 1)[0] if start >= 0 else None


def http_inputs(sku: str, channel: str) -> list[Hostile]:
    """Request bodies for ``POST /v1/orders`` that must each get a 4xx problem."""
    found = [
        Hostile(name, _raw(body), _ref(body), field)
        for name, body, field in order_payloads(sku, channel)
    ]
    padded = _body(sku, channel, "BIG")
    padded["shipping_address"]["line2"] = "x" * (MIB + 1024)
    found += [
        Hostile("5,000-deep nested JSON", nested().encode()),
        Hostile("5,000-deep nested array", nested_array().encode()),
        Hostile("not JSON", b"this is not JSON {"),
        Hostile("not UTF-8", b'{"platform_order_ref":"\xff\xfe\xfd"}'),
        Hostile("JSON but not an object", b"[1, 2, 3]"),
        Hostile("body over 1 MiB", dumps(padded), str(padded["platform_order_ref"])),
    ]
    return found


def envelope_of(body: dict[str, Any] | str, channel: str = "webshop-hostile") -> bytes:
    """An OrderSubmitted v2 envelope carrying ``body`` as its payload, whatever it holds.

    The envelope is that of a valid order (ids, type, version, actor), with the payload
    swapped in as text, so that only the payload is hostile.
    """
    ref = _ref(body) or f"HOSTILE-{uuid.uuid4().hex[:8]}"
    template = order_body([("TEMPLATE", 1, "1.00")], ref=ref, channel=channel)
    envelope = json.loads(ingress_envelope(template))
    envelope["payload"] = "@@PAYLOAD@@"
    return dumps(envelope).replace(b'"@@PAYLOAD@@"', _raw(body), 1)


def kafka_inputs(sku: str, channel: str) -> list[Hostile]:
    """Messages for the ingress topic that must each be dead-lettered with a reason."""
    found = [
        Hostile(f"envelope: {name}", envelope_of(body, channel), _ref(body), field)
        for name, body, field in order_payloads(sku, channel)
    ]
    padded = _body(sku, channel, "BIG")
    padded["shipping_address"]["line2"] = "x" * (MIB + 1024)
    utf8 = _body(sku, channel, "UTF8")
    valid = envelope_of(utf8, channel)
    found += [
        Hostile(
            "envelope: payload over 1 MiB",
            envelope_of(padded, channel),
            padded["platform_order_ref"],
        ),
        Hostile("5,000-deep nested message", nested().encode()),
        Hostile("5,000-deep nested array message", nested_array().encode()),
        Hostile("envelope nested 5,000 deep in its payload", envelope_of(nested(), channel)),
        Hostile("not JSON", b"\x00\x01this is not JSON {"),
        Hostile("not UTF-8", b"\xff\xfe\xfd\xfc not UTF-8 at all"),
        Hostile(
            "envelope with a non-UTF-8 byte",
            valid.replace(b"Teststraat", b"Test\xffstraat"),
            utf8["platform_order_ref"],
        ),
    ]
    # Messages over 1 MiB last: should one of them wedge its partition, every other input
    # has been judged on its own before it.
    return sorted(found, key=lambda h: len(h.body) > MIB)
