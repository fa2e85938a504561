"""Stream ids of the order service's event store.

``order-<order_id>`` holds the order aggregate. The intake keys each get a stream of their
own whose first event claims the key for an order: ``platform-order-<channel>/<ref>`` (the
platform's order reference is unique per sales channel; rejected submissions are recorded
there too) and ``idempotency-<key>`` for HTTP ``Idempotency-Key`` headers. The parts are
percent-encoded so that no two (channel, ref) pairs can share a stream id; over-long ids
are replaced by a digest, as stream ids are limited to 200 characters.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

ORDER_STREAM_PREFIX = "order-"
_MAX_STREAM_ID = 200


def new_order_id() -> str:
    """A fresh order id: ``ord-`` and 12 hex digits."""
    return f"ord-{uuid.uuid4().hex[:12]}"


def order_stream(order_id: str) -> str:
    return f"{ORDER_STREAM_PREFIX}{order_id}"


def platform_order_stream(sales_channel: str, platform_order_ref: str) -> str:
    return _bounded(
        "platform-order-", f"{quote(sales_channel, safe='')}/{quote(platform_order_ref, safe='')}"
    )


def idempotency_stream(key: str) -> str:
    return _bounded("idempotency-", quote(key, safe=""))


def _bounded(prefix: str, rest: str) -> str:
    stream_id = prefix + rest
    if len(stream_id) <= _MAX_STREAM_ID:
        return stream_id
    return f"{prefix}sha256-{hashlib.sha256(rest.encode()).hexdigest()}"
