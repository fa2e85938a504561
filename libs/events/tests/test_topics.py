"""Unit tests for topic names and routing."""

from __future__ import annotations

import pytest

from oms_events import topics
from oms_events.errors import UnknownEventType


def test_topic_names() -> None:
    assert topics.ORDER_EVENTS == "oms.order.events"
    assert topics.PAYMENTS_EVENTS == "oms.payments.events"
    assert topics.PLATFORM_INGRESS == "oms.platform.ingress"
    assert [topics.events_topic(s) for s in topics.Service] == [
        "oms.order.events",
        "oms.inventory.events",
        "oms.payments.events",
        "oms.fulfilment.events",
        "oms.shipping.events",
        "oms.returns.events",
    ]
    assert len(set(topics.ALL_TOPICS)) == 7


def test_dlq() -> None:
    assert topics.dlq(topics.ORDER_EVENTS) == "oms.order.events.dlq"


def test_routing() -> None:
    assert topics.topic_for("OrderSubmitted") == topics.PLATFORM_INGRESS
    assert topics.topic_for("ShipmentDispatched") == topics.SHIPPING_EVENTS
    assert "StockReserved" in topics.types_on(topics.INVENTORY_EVENTS)
    assert set(topics.TOPIC_BY_EVENT_TYPE.values()) <= set(topics.ALL_TOPICS)
    with pytest.raises(UnknownEventType, match="'Nope'"):
        topics.topic_for("Nope")
