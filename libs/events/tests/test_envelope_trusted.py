"""``Envelope.trusted`` builds the same envelope as validation does, only cheaper."""

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from oms_events.codec import encode_envelope
from oms_events.envelope import Envelope


def fields() -> dict[str, object]:
    return {
        "event_id": uuid.uuid4(),
        "type": "OrderPlaced",
        "version": 2,
        "stream_id": "order-ord-1",
        "stream_version": 7,
        "occurred_at": datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        "correlation_id": "ord-1",
        "causation_id": None,
        "actor": "platform:webshop-nl",
        "producer": "order",
        "payload": {"order_id": "ord-1", "lines": [{"sku": "A", "quantity": 2}]},
    }


def test_trusted_equals_validated() -> None:
    data = fields()
    trusted = Envelope.trusted(**dict(data))
    validated = Envelope.model_validate(data)
    assert trusted == validated
    assert trusted.model_dump() == validated.model_dump()
    assert encode_envelope(trusted) == encode_envelope(validated)
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted.model_copy(update={"stream_version": 8}).stream_version == 8


def test_trusted_is_frozen_like_any_envelope() -> None:
    trusted = Envelope.trusted(**fields())
    with pytest.raises(ValidationError):
        trusted.type = "Other"  # type: ignore[misc]
