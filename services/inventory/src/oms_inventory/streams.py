"""The inventory's streams, and which stream each decided event belongs to."""

from __future__ import annotations

from oms_events.base import Event
from oms_inventory.domain.stock import STOCK_EVENTS

WAREHOUSES_STREAM = "warehouses"


def stock_stream(sku: str) -> str:
    return f"stock-{sku}"


def reservation_stream(order_id: str) -> str:
    return f"reservation-{order_id}"


def return_stream(return_id: str) -> str:
    return f"return-{return_id}"


def promotion_stream(promotion_id: str) -> str:
    return f"promotion-{promotion_id}"


def stream_for(event: Event, own: str) -> str:
    """The stream ``event`` is recorded on: a per-SKU event on its SKU's stock stream, any
    other on ``own`` (the stream of the aggregate that decided it)."""
    if isinstance(event, STOCK_EVENTS):
        return stock_stream(event.sku)
    return own
