"""The pure half of a projection needs no database: given events, then document."""

from typing import Any

from oms_events.envelope import Envelope
from oms_platform.testing.builders import envelope


def summary(doc: dict[str, Any] | None, env: Envelope) -> dict[str, Any] | None:
    doc = doc or {"events": 0}
    return {"events": doc["events"] + 1, "last": env.type}


def test_documents_fold_over_events() -> None:
    doc = None
    for v, kind in enumerate(["OrderPlaced", "OrderConfirmed", "ShipmentDispatched"], start=1):
        doc = summary(doc, envelope("order-1", v, type=kind))
    assert doc == {"events": 3, "last": "ShipmentDispatched"}
