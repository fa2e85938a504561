"""Units of work of the order service: load the stream(s), decide, append, update tables.

Every public method here runs inside one ``UnitOfWork`` given by the caller (a consumer
message or an HTTP request) and appends through one :class:`StreamSession`, so its events
and table rows commit together or not at all, and a concurrency conflict makes the caller
run it again from scratch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from oms_events.base import Event
from oms_events.contracts import (
    OrderDelivered,
    OrderIntakeKeyClaimed,
    OrderPaymentRecorded,
    OrderShipped,
    OrderStockRecorded,
    OrderSubmitted,
)
from oms_events.contracts.order import (
    OrderCancellationRefused,
    OrderReturnRecorded,
    OrderShipmentFailed,
    OrderShortShipped,
    ShortShipRemedy,
)
from oms_events.envelope import Envelope
from oms_events.topics import Service
from oms_order.domain.commands import CancelOrder, Fact, GiveFeedback, PlaceOrder
from oms_order.domain.intake import (
    Problem,
    claim,
    claimed,
    fingerprint,
    key_reused,
    rejection,
    review,
)
from oms_order.domain.order import order_decider
from oms_order.domain.state import OrderState
from oms_order.projections.read_models import ReadModels
from oms_order.streams import idempotency_stream, order_stream, platform_order_stream
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.logging import get_logger
from oms_platform.session import StateCache, StreamSession

log = get_logger(__name__)

PRODUCER = Service.ORDER.value
SERVICE_ACTOR = f"service:{PRODUCER}"
FACT_TYPES = (
    OrderStockRecorded,
    OrderPaymentRecorded,
    OrderShipped,
    OrderDelivered,
    OrderShortShipped,
    OrderShipmentFailed,
    OrderReturnRecorded,
    OrderCancellationRefused,
)
"""The order-side records of what other services reported (they keep the source's actor)."""


@dataclass(frozen=True, slots=True)
class Intake:
    """How a submission reached us: who sent it, what caused it, its idempotency key."""

    actor: str
    causation_id: str | None
    idempotency_key: str | None = None


class Outcome(StrEnum):
    CREATED = "created"
    EXISTING = "existing"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Submitted:
    """The result of a submission: a new order, the existing one, or a rejection."""

    outcome: Outcome
    order_id: str | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Source:
    """The event a fact about an order came from (its actor, time and id)."""

    event_id: str
    actor: str
    occurred_at: datetime

    @classmethod
    def of(cls, env: Envelope) -> Source:
        return cls(str(env.event_id), env.actor, env.occurred_at)


class OrderHandlers:
    """The order service's units of work, given its read models and an order id source.

    ``short_pick_remedy`` is what the shop offers for units a warehouse could not find
    (the ``short_pick_remedy`` setting), recorded with each short pick.
    """

    def __init__(
        self,
        read_models: ReadModels,
        new_order_id: Callable[[], str],
        *,
        short_pick_remedy: ShortShipRemedy = ShortShipRemedy.REFUND,
    ) -> None:
        self.read_models = read_models
        self.new_order_id = new_order_id
        self.short_pick_remedy = short_pick_remedy
        # Each order's state as last committed. Trusted: a fact about an order reads
        # nothing (its events come on partitions keyed by the order, so this process is
        # its usual writer); a stale state ends in a conflict and a read (StateCache).
        self.orders: StateCache[OrderState] = StateCache(trusted=True)

    # -- intake -------------------------------------------------------------------------

    async def submit(self, uow: UnitOfWork, sub: OrderSubmitted, intake: Intake) -> Submitted:
        """Place ``sub`` once per platform reference and per idempotency key, or reject it.

        Raises the ``idempotency_key_reused`` refusal for a key first used for another body.
        """
        print_ = fingerprint(sub)
        s = _session(uow, sub.platform_order_ref, intake.causation_id, intake.actor)
        key = intake.idempotency_key
        key_stream = idempotency_stream(key) if key is not None else None
        if key_stream is not None:
            by_key = await s.load(key_stream, None, claimed)
            if by_key is not None:
                if by_key.request_fingerprint != print_:
                    raise key_reused(by_key.order_id)
                return Submitted(Outcome.EXISTING, by_key.order_id)
        ref_stream = platform_order_stream(sub.sales_channel, sub.platform_order_ref)
        by_ref = await s.load(ref_stream, None, claimed)
        if by_ref is not None:
            return await self._existing(s, by_ref, sub, print_, key)
        unknown = await self.read_models.unknown_skus(uow, {line.sku for line in sub.lines})
        problems = review(sub, unknown)
        if problems:
            await self._reject(s, sub.platform_order_ref, sub.sales_channel, problems)
            return Submitted(Outcome.REJECTED, problems=problems)
        order_id = self.new_order_id()
        s.correlation_id = order_id
        stream = order_stream(order_id)
        state = s.create(
            stream, order_decider.initial_state(), order_decider.evolve, cache=self.orders
        )
        s.record(stream, order_decider.decide(PlaceOrder(order_id, sub), state))
        s.record(ref_stream, [claim(order_id, sub, print_)])
        if key_stream is not None:
            s.record(key_stream, [claim(order_id, sub, print_, key)])
        await s.flush()
        await self.read_models.save_order(uow, await self._order(s, stream))
        log.debug("order.placed", order_id=order_id, platform_order_ref=sub.platform_order_ref)
        return Submitted(Outcome.CREATED, order_id)

    async def _existing(
        self,
        s: StreamSession,
        by_ref: OrderIntakeKeyClaimed,
        sub: OrderSubmitted,
        print_: str,
        key: str | None,
    ) -> Submitted:
        """The order a platform reference already belongs to; a new key now points at it."""
        if by_ref.request_fingerprint != print_:
            log.warning(
                "order.resubmitted_with_changes",
                order_id=by_ref.order_id,
                platform_order_ref=sub.platform_order_ref,
            )
        if key is not None:
            s.correlation_id = by_ref.order_id
            s.record(idempotency_stream(key), [claim(by_ref.order_id, sub, print_, key)])
            await s.flush()
        return Submitted(Outcome.EXISTING, by_ref.order_id)

    async def reject(
        self, uow: UnitOfWork, ref: str, channel: str, problems: list[Problem], intake: Intake
    ) -> None:
        """Record a rejection found before the submission became a contract (an empty order)."""
        await self._reject(
            _session(uow, ref, intake.causation_id, intake.actor), ref, channel, problems
        )

    async def _reject(
        self, s: StreamSession, ref: str, channel: str, problems: list[Problem]
    ) -> None:
        stream = platform_order_stream(channel, ref)
        await s.load(stream, None, claimed)
        s.record(stream, [rejection(ref, channel, problems)])
        await s.flush()
        log.debug(
            "order.rejected", platform_order_ref=ref, reasons=[p.code.value for p in problems]
        )

    # -- the order ------------------------------------------------------------------------

    async def record(self, uow: UnitOfWork, fact: Fact, source: Source) -> list[Event]:
        """Record what another service reported; confirm or cancel the order if due.

        Raises the ``order_not_found`` refusal for an order this service never placed.
        """
        s = _session(uow, fact.order_id, source.event_id, source.actor, source.occurred_at)
        stream = order_stream(fact.order_id)
        events = order_decider.decide(fact, await self._order(s, stream))
        # A recorded fact keeps its source's actor and time; what the order service decided
        # in reaction is its own, at the moment it decided. The session reads actor and
        # time when it records, so one session (one atomic append) carries both.
        facts, decided = _facts_first(events)
        s.record(stream, facts)
        s.actor, s.occurred_at = SERVICE_ACTOR, None
        s.record(stream, decided)
        await self._flush(s, stream)
        return events

    async def cancel(
        self, uow: UnitOfWork, command: CancelOrder, actor: str, cause: str
    ) -> OrderState:
        """Cancel (a placed order) or ask fulfilment to (a confirmed one); raises the
        ``order_not_found`` or ``cancellation_refused`` refusal."""
        return await self._command(uow, command, actor, cause)

    async def give_feedback(
        self, uow: UnitOfWork, command: GiveFeedback, actor: str, cause: str
    ) -> OrderState:
        """Record the customer's feedback; raises ``order_not_found``,
        ``feedback_not_allowed`` or ``feedback_exists``."""
        return await self._command(uow, command, actor, cause)

    async def _command(
        self, uow: UnitOfWork, command: CancelOrder | GiveFeedback, actor: str, cause: str
    ) -> OrderState:
        s = _session(uow, command.order_id, cause, actor)
        stream = order_stream(command.order_id)
        s.record(stream, order_decider.decide(command, await self._order(s, stream)))
        return await self._flush(s, stream)

    async def _flush(self, s: StreamSession, stream: str) -> OrderState:
        """Append what was recorded and bring the ``orders`` row up to date with it."""
        state = await self._order(s, stream)
        if await s.flush():
            await self.read_models.save_order(s.uow, state)
        return state

    async def _order(self, s: StreamSession, stream: str) -> OrderState:
        return await s.load(
            stream, order_decider.initial_state(), order_decider.evolve, cache=self.orders
        )

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None:
        await self.read_models.register_sku(uow, sku, name)


def _session(
    uow: UnitOfWork,
    correlation_id: str,
    causation_id: str | None,
    actor: str,
    occurred_at: datetime | None = None,
) -> StreamSession:
    return StreamSession(
        uow,
        producer=PRODUCER,
        correlation_id=correlation_id,
        causation_id=causation_id,
        actor=actor,
        occurred_at=occurred_at,
    )


def _facts_first(events: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    """Split a decision into the leading recorded facts and what was decided on them."""
    count = 0
    while count < len(events) and isinstance(events[count], FACT_TYPES):
        count += 1
    return list(events[:count]), list(events[count:])
