"""What returns reacts to: one routing table, keyed by event class.

* ``orders`` (order events): ``OrderPlaced`` -> the order's prices, shipping charge and
  payments (``returns_orders``);
* ``shipments`` (shipping events): ``ShipmentDispatched`` -> the parcel's lines and
  warehouse, ``ShipmentDelivered`` -> its ``delivered_at`` (``returns_shipments``).

Each consumer has its own group and inbox and writes its table in the inbox's
transaction, so a redelivered message changes nothing; every write is an upsert that
does not depend on the order the two shipping events arrive in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from oms_events.base import Event
from oms_events.contracts import OrderPlaced
from oms_events.contracts.shipping import ShipmentDelivered, ShipmentDispatched
from oms_events.envelope import Envelope
from oms_events.topics import topic_for
from oms_platform.consumer import Handler
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.service import ServiceHost
from oms_returns.handlers import Returns

Reaction = Callable[[Returns, UnitOfWork, Envelope, Event], Awaitable[None]]


async def remember_order(returns: Returns, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    assert isinstance(event, OrderPlaced)
    await returns.remember_order(uow, event)


async def record_dispatch(returns: Returns, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    assert isinstance(event, ShipmentDispatched)
    await returns.record_dispatch(uow, event)


async def record_delivery(returns: Returns, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    assert isinstance(event, ShipmentDelivered)
    await returns.record_delivery(uow, event)


ROUTES: Mapping[type[Event], Reaction] = {
    OrderPlaced: remember_order,
    ShipmentDispatched: record_dispatch,
    ShipmentDelivered: record_delivery,
}
"""The one routing table: which handler each consumed event class goes to."""

CONSUMERS: Mapping[str, tuple[type[Event], ...]] = {
    "orders": (OrderPlaced,),
    "shipments": (ShipmentDispatched, ShipmentDelivered),
}
"""Consumer name -> the events of :data:`ROUTES` it handles (one group and inbox each)."""


def handler(returns: Returns, event_class: type[Event]) -> Handler:
    reaction = ROUTES[event_class]

    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        await reaction(returns, uow, env, event)

    return handle


def subscribe(host: ServiceHost, returns: Returns) -> None:
    """Register the returns service's consumers on ``host``."""
    for consumer, classes in CONSUMERS.items():
        topics = sorted({topic_for(cls.event_type) for cls in classes})
        handlers = {cls.event_type: handler(returns, cls) for cls in classes}
        host.subscribe(consumer, topics, handlers)
