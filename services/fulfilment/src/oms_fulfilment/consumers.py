"""What the fulfilment service reacts to: one routing table, keyed by event class.

* ``orders`` (order events): ``OrderConfirmed`` -> one fulfilment per warehouse of the
  order's allocation (``domain.fulfilment.requests_for``). A redelivered message is a
  duplicate for the inbox; the same order confirmed again under another event id asks
  for the same fulfilments (their ids follow from order and warehouse), which the
  decider answers with nothing.
  ``OrderCancellationRequested`` -> the order's fulfilments cancelled if none is packed
  (``FulfilmentCancellationAccepted``), else ``FulfilmentCancellationRefused``
  (``domain.cancellation``). The same consumer as the confirmation: one group, one topic,
  the order id as key, so a request is always handled after its order's confirmation.
* ``catalogue`` (inventory events): ``SkuRegistered`` -> the size of each SKU, which
  packing needs (``sizes``).

A refusal (a fulfilment already requested with other lines) cannot get better on retry:
the runtime dead-letters the message at once with its code and reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from oms_events.base import Event
from oms_events.contracts.inventory import SkuRegistered
from oms_events.contracts.order import OrderCancellationRequested, OrderConfirmed
from oms_events.envelope import Envelope
from oms_events.topics import topic_for
from oms_fulfilment.handlers import Cause, Fulfilments
from oms_platform.consumer import Handler
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.service import ServiceHost

Reaction = Callable[[Fulfilments, UnitOfWork, Envelope, Event], Awaitable[None]]


async def request_fulfilments(
    fulfilments: Fulfilments, uow: UnitOfWork, env: Envelope, event: Event
) -> None:
    assert isinstance(event, OrderConfirmed)
    cause = Cause(correlation_id=env.correlation_id, causation_id=str(env.event_id))
    await fulfilments.request(uow, event, cause)


async def answer_cancellation(
    fulfilments: Fulfilments, uow: UnitOfWork, env: Envelope, event: Event
) -> None:
    assert isinstance(event, OrderCancellationRequested)
    cause = Cause(correlation_id=env.correlation_id, causation_id=str(env.event_id))
    await fulfilments.answer_cancellation(uow, event, cause)


async def register_size(
    fulfilments: Fulfilments, uow: UnitOfWork, env: Envelope, event: Event
) -> None:
    assert isinstance(event, SkuRegistered)
    await fulfilments.register_size(uow, event, env.occurred_at)


ROUTES: Mapping[type[Event], Reaction] = {
    OrderConfirmed: request_fulfilments,
    OrderCancellationRequested: answer_cancellation,
    SkuRegistered: register_size,
}
"""The one routing table: which handler each consumed event class goes to."""

CONSUMERS: Mapping[str, tuple[type[Event], ...]] = {
    "orders": (OrderConfirmed, OrderCancellationRequested),
    "catalogue": (SkuRegistered,),
}
"""Consumer name -> the events of :data:`ROUTES` it handles (one group and inbox each)."""


def handler(fulfilments: Fulfilments, event_class: type[Event]) -> Handler:
    """The runtime's handler for ``event_class``: its route, bound to ``fulfilments``."""
    reaction = ROUTES[event_class]

    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        await reaction(fulfilments, uow, env, event)

    return handle


def subscribe(host: ServiceHost, fulfilments: Fulfilments) -> None:
    """Register the fulfilment service's consumers on ``host``."""
    for consumer, classes in CONSUMERS.items():
        topics = sorted({topic_for(cls.event_type) for cls in classes})
        handlers = {cls.event_type: handler(fulfilments, cls) for cls in classes}
        host.subscribe(consumer, topics, handlers)
