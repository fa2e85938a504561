"""Realistic orders for the end-to-end load benchmark, and how they are put on the wire.

Like ``tests/e2e/shop.py`` and ``oms demo``: one to three lines from a small catalogue,
one card payment of the exact total, a shipping address in a supported country. The
platform order reference names the run, the step and the order's place in the step's
schedule (``LT<run>-<step>-<seq>``), so the observer can tell, from an ``OrderPlaced``
alone, which order of which step it is and when it was meant to be sent.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from oms_events.codec import encode_envelope
from oms_events.contracts import OrderSubmitted
from oms_events.registry import envelope_for
from oms_platform.relay import message_headers

WAREHOUSES = [
    {"code": "AMS", "name": "Amsterdam DC", "country": "NL", "priority": 1, "active": True},
    {"code": "BER", "name": "Berlin DC", "country": "DE", "priority": 2, "active": True},
    {"code": "MAD", "name": "Madrid DC", "country": "ES", "priority": 3, "active": True},
]
# sku -> unit price; every SKU is stocked in every warehouse (see STOCK_PER_WAREHOUSE).
CATALOGUE: dict[str, str] = {
    "TSHIRT-BLU-M": "19.95",
    "MUG-ENAMEL-WHT": "12.50",
    "SNEAKER-42": "89.00",
    "BACKPACK-20L": "59.00",
    "HEADPHONES-BT": "129.00",
    "LAMP-DESK": "45.00",
    "YOGA-MAT": "35.00",
    "COFFEE-1KG": "24.90",
}
# A full run offers about 60,000 orders of at most 3 lines x 2 units: far below this, so
# no order is ever cancelled for want of stock and every order takes the same path.
STOCK_PER_WAREHOUSE = 10_000_000
CUSTOMERS = [
    ("NL", "Amsterdam", "1012 AB", "Sanne de Vries"),
    ("DE", "Berlin", "10115", "Lena Schmidt"),
    ("BE", "Antwerpen", "2000", "Lotte Peeters"),
    ("FR", "Lyon", "69001", "Camille Martin"),
    ("ES", "Madrid", "28001", "Lucía García"),
]
SHIPPING = Decimal("4.95")
CHANNEL = "webshop-bench"

_REF = re.compile(r"^LT(?P<run>[0-9a-f]+)-(?P<step>\d+)-(?P<seq>\d+)$")


def ref_for(run: str, step: int, seq: int) -> str:
    return f"LT{run}-{step:03d}-{seq:07d}"


def parse_ref(ref: str) -> tuple[str, int, int] | None:
    """``(run, step, seq)`` of a benchmark order's reference; None for any other order."""
    match = _REF.match(ref)
    if match is None:
        return None
    return match["run"], int(match["step"]), int(match["seq"])


def _money(amount: Decimal | str) -> dict[str, str]:
    return {"amount": f"{Decimal(amount):.2f}", "currency": "EUR"}


def order_body(rng: random.Random, ref: str) -> dict[str, Any]:
    """An ``OrderSubmitted`` v2 body (also the ``POST /v1/orders`` body)."""
    country, city, postal, name = rng.choice(CUSTOMERS)
    skus = rng.sample(sorted(CATALOGUE), rng.choice((1, 1, 2, 3)))
    lines = []
    total = SHIPPING
    for i, sku in enumerate(skus, start=1):
        qty = rng.randint(1, 2)
        total += Decimal(CATALOGUE[sku]) * qty
        lines.append(
            {"line_id": f"l{i}", "sku": sku, "quantity": qty, "unit_price": _money(CATALOGUE[sku])}
        )
    return {
        "platform_order_ref": ref,
        "sales_channel": CHANNEL,
        "customer": {
            "customer_id": f"cus-{rng.randrange(100_000):05d}",
            "email": f"{name.split()[0].lower()}.{rng.randrange(100_000)}@example.com",
        },
        "lines": lines,
        "shipping_address": {
            "recipient": name,
            "line1": "Hoofdstraat 1",
            "postal_code": postal,
            "city": city,
            "country": country,
        },
        "shipping_charge": _money(SHIPPING),
        "payments": [{"payment_id": f"{ref}-p1", "method": "card", "amount": _money(total)}],
        "placed_at": datetime.now(UTC).isoformat(),
    }


@dataclass(frozen=True, slots=True)
class IngressMessage:
    """One ``OrderSubmitted`` as a sales platform puts it on ``oms.platform.ingress``."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def ingress_message(body: dict[str, Any]) -> IngressMessage:
    """The Kafka message ``oms demo`` sends for ``body``: validated, enveloped, encoded."""
    submitted = OrderSubmitted.model_validate(body)
    ref = body["platform_order_ref"]
    env = envelope_for(
        submitted,
        stream_id=f"platform-{CHANNEL}-{ref}",
        stream_version=1,
        correlation_id=ref,
        causation_id=None,
        actor=f"platform:{CHANNEL}",
        producer="platform",
    )
    return IngressMessage(ref.encode(), encode_envelope(env), message_headers(env))


def http_request(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """``POST /v1/orders`` content and headers; the reference doubles as idempotency key."""
    headers = {"content-type": "application/json", "idempotency-key": body["platform_order_ref"]}
    return orjson.dumps(body), headers
