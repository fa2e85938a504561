"""Subscriptions of the payments service, built from its routing table.

Failures are left to the consumer runtime's classes: a :class:`Refusal` (a message that
can never succeed) is dead-lettered at once with its code; a provider timeout is raised
as :class:`~oms_platform.failures.Unavailable` and waited out, never dead-lettered.
"""

from __future__ import annotations

from collections import defaultdict

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_payments.routing import PROVIDER_WORK, Route, Routes
from oms_platform.consumer import Handler
from oms_platform.eventstore import UnitOfWork
from oms_platform.refusal import Refusal
from oms_platform.service import ServiceHost


def subscribe(host: ServiceHost, routes: Routes, *, remote_providers: bool = True) -> None:
    """Register one consumer per routing-table consumer name on ``host``."""
    topics: dict[str, set[str]] = defaultdict(set)
    handlers: dict[str, dict[str, Handler]] = defaultdict(dict)
    for cls, r in routes.items():
        topics[r.consumer].add(r.topic)
        handlers[r.consumer][cls.event_type] = typed(cls, r)
    for consumer, by_type in handlers.items():
        # The provider worker calls providers: no batch may hold a transaction across
        # calls to a provider's web API, so then its requests keep a unit of work each.
        # (Provider calls carry idempotency keys: a failed batch running again one by
        # one asks again and gets the first answer.)
        batch = consumer != PROVIDER_WORK or not remote_providers
        host.subscribe(consumer, sorted(topics[consumer]), by_type, batch=batch)


def typed(cls: type[Event], r: Route) -> Handler:
    """``r.handle`` as a runtime handler, given only events of ``cls``."""

    async def run(uow: UnitOfWork, env: Envelope, event: Event) -> None:
        if not isinstance(event, cls):
            raise Refusal("unexpected_type", f"expected {cls.event_type}, got {env.type}")
        await r.handle(uow, env, event)

    return run
