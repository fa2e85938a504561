"""Reads of the HTTP API: the order (also as it was), order lookups, rejections.

The order document is folded from the order's own stream; lookups read the read models.
A missing order is the ``order_not_found`` refusal (404).
"""

from __future__ import annotations

from datetime import datetime

from oms_events.contracts import OrderRejected
from oms_events.registry import registry
from oms_order.projections.order_view import Doc, Recorded, order_document
from oms_order.streams import order_stream, platform_order_stream
from oms_platform.refusal import Refusal
from oms_platform.session import StreamReader


async def order_records(reader: StreamReader, order_id: str) -> list[Recorded]:
    """The order's events with their envelopes and the time each was recorded."""
    return [
        Recorded(r.envelope, registry.parse(r.envelope), r.recorded_at)
        for r in await reader.read_stream(order_stream(order_id))
    ]


async def order(reader: StreamReader, order_id: str, as_of: datetime | None = None) -> Doc:
    """The order document, as the order service knew it at ``as_of`` (default: now).

    ``as_of`` compares with the time each event was recorded by the order service.
    """
    records = await order_records(reader, order_id)
    if not records:
        raise Refusal.not_found("order_not_found", f"there is no order {order_id}")
    if as_of is None:
        return order_document(records)
    then = [r for r in records if r.recorded_at <= as_of]
    if not then:
        raise Refusal.not_found(
            "order_not_found", f"order {order_id} did not exist yet at {as_of.isoformat()}"
        )
    return {**order_document(then), "as_of": as_of.isoformat()}


async def rejections(
    reader: StreamReader, platform_order_ref: str, sales_channel: str
) -> list[Doc]:
    """The rejected submissions of one platform order, oldest first."""
    found = []
    for rec in await reader.read_stream(platform_order_stream(sales_channel, platform_order_ref)):
        if rec.envelope.type != OrderRejected.event_type:
            continue
        event = registry.parse_as(rec.envelope, OrderRejected)
        found.append(
            {
                **event.model_dump(mode="json"),
                "recorded_at": rec.recorded_at.isoformat(),
                "actor": rec.envelope.actor,
                "cause": rec.envelope.causation_id,
            }
        )
    return found
