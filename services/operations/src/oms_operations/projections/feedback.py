"""``ops_feedback``: the customer's rating of an order (the latest, if rated again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oms_events.base import Event
from oms_events.contracts.order import FeedbackReceived
from oms_events.envelope import Envelope

HANDLED: tuple[type[Event], ...] = (FeedbackReceived,)


@dataclass(frozen=True)
class FeedbackRow:
    order_id: str
    rating: int
    comment: str | None
    received_at: datetime


def apply(row: FeedbackRow | None, env: Envelope, event: Event) -> FeedbackRow | None:
    if not isinstance(event, FeedbackReceived):
        return row
    return FeedbackRow(event.order_id, int(event.rating), event.comment, env.occurred_at)
