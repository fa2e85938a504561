"""Contract events in envelopes at chosen times, for the projection tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for

E = TypeVar("E", bound=Event)
T0 = datetime(2026, 5, 3, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def make(cls: type[E], **changes: Any) -> E:
    """The contract's example with ``changes``, validated again."""
    return cls.model_validate({**example(cls).model_dump(), **changes})


def at(event: Event, when: datetime) -> tuple[Envelope, Event]:
    env = envelope_for(
        event,
        stream_id="s",
        stream_version=1,
        correlation_id=str(getattr(event, "order_id", "x")),
        causation_id=None,
        actor="service:test",
        producer="test",
        occurred_at=when,
    )
    return env, event
