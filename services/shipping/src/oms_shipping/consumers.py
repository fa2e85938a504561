"""What shipping reacts to: one routing table, keyed by event class.

``OrderPlaced`` (order events) keeps the order's destination and shipping charge;
``ParcelsPacked`` (fulfilment events) books each parcel with a carrier, deciding
``ShipmentBooked`` + ``ShipmentDispatched``; ``ReturnAuthorized`` (returns events) books
the return label (``ReturnLabelBooked``). Each consumer has its own group and inbox,
so a redelivered message is dropped by the inbox; a parcel booked already decides nothing.

A refusal (no carrier service keeps the promise, an unknown warehouse) cannot get better
on retry: the runtime dead-letters the message at once with its code and reason. A parcel
of an order not seen yet (``OrderNotYetKnown``) is retried, then dead-lettered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from oms_events.base import Event
from oms_events.contracts import OrderPlaced
from oms_events.contracts.fulfilment import ParcelsPacked
from oms_events.contracts.returns import ReturnAuthorized
from oms_events.envelope import Envelope
from oms_events.topics import topic_for
from oms_platform.consumer import Handler
from oms_platform.eventstore import UnitOfWork
from oms_platform.service import ServiceHost
from oms_shipping.handlers import Shipping

Reaction = Callable[[Shipping, UnitOfWork, Envelope, Event], Awaitable[None]]


async def remember_order(shipping: Shipping, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    assert isinstance(event, OrderPlaced)
    await shipping.remember_order(uow, event)


async def book_parcels(shipping: Shipping, uow: UnitOfWork, env: Envelope, event: Event) -> None:
    assert isinstance(event, ParcelsPacked)
    await shipping.book_parcels(uow, env, event)


async def book_return_label(
    shipping: Shipping, uow: UnitOfWork, env: Envelope, event: Event
) -> None:
    assert isinstance(event, ReturnAuthorized)
    await shipping.book_return_label(uow, env, event)


ROUTES: Mapping[type[Event], Reaction] = {
    OrderPlaced: remember_order,
    ParcelsPacked: book_parcels,
    ReturnAuthorized: book_return_label,
}
"""The one routing table: which handler each consumed event class goes to."""

CONSUMERS: Mapping[str, tuple[type[Event], ...]] = {
    "orders": (OrderPlaced,),
    "parcels": (ParcelsPacked,),
    "returns": (ReturnAuthorized,),
}
"""Consumer name -> the events of :data:`ROUTES` it handles (one group and inbox each)."""


def handler(shipping: Shipping, event_class: type[Event]) -> Handler:
    reaction = ROUTES[event_class]

    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        await reaction(shipping, uow, env, event)

    return handle


def subscribe(host: ServiceHost, shipping: Shipping) -> None:
    """Register shipping's consumers on ``host`` (streams are per parcel: not exclusive)."""
    for consumer, classes in CONSUMERS.items():
        topics = sorted({topic_for(cls.event_type) for cls in classes})
        handlers = {cls.event_type: handler(shipping, cls) for cls in classes}
        host.subscribe(consumer, topics, handlers)
