"""Shared builders for the order service's unit tests."""

from __future__ import annotations

from oms_events.base import Event
from oms_events.contracts import (
    OrderPaymentStatus,
    OrderPlaced,
    OrderStockStatus,
    OrderSubmitted,
)
from oms_events.examples import ALLOCATIONS, example
from oms_order.domain.commands import Command, PlaceOrder, RecordPayment, RecordStock
from oms_order.domain.decide import decide
from oms_order.domain.evolve import rebuild
from oms_order.domain.state import OrderState

ORDER_ID = "ord-000000000001"


def submission(**changes: object) -> OrderSubmitted:
    return example(OrderSubmitted).model_copy(update=changes)


def placed() -> list[Event]:
    return decide(PlaceOrder(ORDER_ID, submission()), OrderState())


def given(*commands: Command) -> list[Event]:
    """The events of a freshly placed order after ``commands``, each decided in turn."""
    events = placed()
    for command in commands:
        events += decide(command, rebuild(events))
    return events


def when(history: list[Event], command: Command) -> list[Event]:
    return decide(command, rebuild(history))


def reserved() -> RecordStock:
    return RecordStock(OrderStockStatus.RESERVED, "res-1", allocations=ALLOCATIONS)


def authorized(payment_id: str) -> RecordPayment:
    payment = next(p for p in example(OrderPlaced).payments if p.payment_id == payment_id)
    return RecordPayment(payment_id, payment.method, payment.amount, OrderPaymentStatus.AUTHORIZED)


def types(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]
