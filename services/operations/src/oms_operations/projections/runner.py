"""The projection runner: each consumed event goes through the pure ``apply`` of every
read model that takes it, in the consumer's unit of work, so the rows and the inbox row
commit together (a redelivery is a duplicate for the inbox and changes nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_events.topics import topic_for
from oms_operations.projections.tables import (
    DISPATCH_HOURS,
    FEEDBACK,
    ORDERS,
    PAYMENTS,
    PROMOTIONS,
    RETURNS,
    SHIPMENTS,
    STOCK,
    STOCK_DAILY,
    TIMELINE,
    ReadModel,
)
from oms_platform.consumer import Handler
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.service import ServiceHost

CONSUMERS: Mapping[str, Sequence[ReadModel]] = {
    "orders": (ORDERS, FEEDBACK),
    "shipments": (SHIPMENTS,),
    "returns": (RETURNS,),
    "payments": (PAYMENTS,),
    "timeline": (TIMELINE,),
    "stock": (STOCK, STOCK_DAILY, PROMOTIONS),
    "dispatch": (DISPATCH_HOURS,),
}
"""Consumer name -> the read models it writes. Each table is written by one consumer
only, so two consumers never contend for a row."""

EXCLUSIVE: frozenset[str] = frozenset({"stock", "dispatch"})
"""Consumers whose rows are shared across Kafka keys (orders): their batches run one at
a time, so two partitions' batches never lock the same rows in different orders."""


async def project(
    models: Sequence[ReadModel], uow: UnitOfWork, env: Envelope, event: Event
) -> None:
    """Load, apply and save the row of every model in ``models`` that takes ``event``."""
    for model in models:
        if not isinstance(event, model.handled):
            continue
        for key in model.keys_of(env, event):
            before = await model.load(uow.connection, key)
            start = model.initial(key) if before is None else before
            after = model.apply(start, env, event)
            if after is not None and after != before:
                await model.save(uow.connection, after)


def handler(models: Sequence[ReadModel]) -> Handler:
    async def handle(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        await project(models, uow, env, event)

    return handle


def subscribe(host: ServiceHost, generation: int) -> None:
    """Register the projection consumers on ``host``; ``generation`` is part of each
    consumer's name (group and inbox): a new one reads every topic from its beginning."""
    for name, models in CONSUMERS.items():
        classes = [cls for model in models for cls in model.handled]
        topics = sorted({topic_for(cls.event_type) for cls in classes})
        run = handler(models)
        host.subscribe(
            f"{name}-g{generation}",
            topics,
            {cls.event_type: run for cls in classes},
            exclusive=name in EXCLUSIVE,
        )
