"""``ops_returns``: one row per return (RMA), from the returns service's events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from oms_events.base import Event
from oms_events.contracts.returns import (
    ReturnAuthorized,
    ReturnExpired,
    ReturnReceived,
    ReturnRequested,
    ReturnResolved,
)
from oms_events.envelope import Envelope

HANDLED: tuple[type[Event], ...] = (
    ReturnRequested,
    ReturnAuthorized,
    ReturnReceived,
    ReturnResolved,
    ReturnExpired,
)

RANK = {"requested": 0, "authorized": 1, "received": 2, "resolved": 3, "expired": 3}


@dataclass(frozen=True)
class ReturnLine:
    sku: str
    quantity: int
    reason: str | None = None
    condition: str | None = None
    """As inspected on receipt (``resellable``, ``damaged``, ``defective``)."""


@dataclass(frozen=True)
class ReturnRow:
    return_id: str
    order_id: str
    status: str = "requested"
    warehouse_id: str | None = None
    lines: tuple[ReturnLine, ...] = ()
    currency: str | None = None
    refund_amount: Decimal | None = None
    requested_at: datetime | None = None
    authorized_at: datetime | None = None
    received_at: datetime | None = None
    resolved_at: datetime | None = None


def _advance(row: ReturnRow, status: str) -> ReturnRow:
    return replace(row, status=status) if RANK[status] > RANK[row.status] else row


def _received(lines: tuple[ReturnLine, ...], event: ReturnReceived) -> tuple[ReturnLine, ...]:
    """The requested lines with their condition on receipt. A SKU received in several
    conditions becomes one line per condition, keeping the requested reason."""
    reasons = {line.sku: line.reason for line in lines}
    return tuple(
        ReturnLine(r.sku, r.quantity, reasons.get(r.sku), r.condition.value) for r in event.lines
    )


def apply(row: ReturnRow | None, env: Envelope, event: Event) -> ReturnRow:
    return_id: str = getattr(event, "return_id")  # noqa: B009 - every handled event has it
    order_id: str = getattr(event, "order_id")  # noqa: B009
    row = row or ReturnRow(return_id=return_id, order_id=order_id)
    match event:
        case ReturnRequested():
            lines = tuple(ReturnLine(x.sku, x.quantity, x.reason.value) for x in event.lines)
            return replace(row, lines=row.lines or lines, requested_at=env.occurred_at)
        case ReturnAuthorized():
            if not row.lines:  # requested before this consumer existed
                row = replace(row, lines=tuple(ReturnLine(x.sku, x.quantity) for x in event.lines))
            row = replace(row, warehouse_id=event.warehouse_id, authorized_at=env.occurred_at)
            return _advance(row, "authorized")
        case ReturnReceived():
            row = replace(
                row,
                warehouse_id=event.warehouse_id,
                lines=_received(row.lines, event),
                currency=event.refund_amount.currency,
                refund_amount=event.refund_amount.amount,
                received_at=env.occurred_at,
            )
            return _advance(row, "received")
        case ReturnResolved():
            row = replace(
                row,
                currency=event.refund_amount.currency,
                refund_amount=event.refund_amount.amount,
                resolved_at=env.occurred_at,
            )
            return _advance(row, "resolved")
        case ReturnExpired():
            return _advance(replace(row, resolved_at=event.expired_at), "expired")
    return row
