"""Units of work of the order service: load the stream(s), decide, append, update tables.

Every public method here runs inside one ``UnitOfWork`` given by the caller (a consumer
message or an HTTP request), so its events and table rows commit together or not at all,
and a concurrency conflict makes the caller run it again from scratch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from oms_events.base import Event
from oms_events.contracts import (
    IntakeKeyKind,
    OrderDelivered,
    OrderIntakeKeyClaimed,
    OrderPaymentRecorded,
    OrderShipped,
    OrderStockRecorded,
    OrderSubmitted,
)
from oms_events.envelope import Envelope
from oms_events.registry import envelope_for, registry
from oms_order.domain.commands import CancelOrder, Fact, PlaceOrder
from oms_order.domain.decide import decide
from oms_order.domain.evolve import evolve
from oms_order.domain.intake import Problem, fingerprint, rejection, review
from oms_order.domain.state import OrderState
from oms_order.projections.order_view import Recorded
from oms_order.projections.tables import ReadModels
from oms_order.streams import idempotency_stream, order_stream, platform_order_stream
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.eventstore.model import RecordedEvent
from oms_platform.logging import get_logger

log = get_logger(__name__)

PRODUCER = "order"
SERVICE_ACTOR = "service:order"
_FACT_TYPES = (OrderStockRecorded, OrderPaymentRecorded, OrderShipped, OrderDelivered)


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


class IdempotencyKeyReused(Exception):
    """The ``Idempotency-Key`` was first used for a different request body."""

    def __init__(self, key: str, order_id: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different order "
            f"(order {order_id}); use a new key for a new request"
        )
        self.order_id = order_id


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
    """The order service's units of work, given its read models and an order id source."""

    def __init__(self, read_models: ReadModels, new_order_id: Callable[[], str]) -> None:
        self.read_models = read_models
        self.new_order_id = new_order_id

    # -- intake -------------------------------------------------------------------------

    async def submit(self, uow: UnitOfWork, sub: OrderSubmitted, intake: Intake) -> Submitted:
        """Place ``sub`` once per platform reference and per idempotency key, or reject it."""
        print_ = fingerprint(sub)
        key_stream = idempotency_stream(intake.idempotency_key) if intake.idempotency_key else None
        if key_stream is not None:
            claimed = _claim(await uow.read_stream(key_stream))
            if claimed is not None:
                if claimed.request_fingerprint != print_:
                    raise IdempotencyKeyReused(intake.idempotency_key or "", claimed.order_id)
                return Submitted(Outcome.EXISTING, claimed.order_id)
        ref_stream = platform_order_stream(sub.sales_channel, sub.platform_order_ref)
        ref_records = await uow.read_stream(ref_stream)
        claimed = _claim(ref_records)
        if claimed is not None:
            if claimed.request_fingerprint != print_:
                log.warning(
                    "order.resubmitted_with_changes",
                    order_id=claimed.order_id,
                    platform_order_ref=sub.platform_order_ref,
                )
            if key_stream is not None:
                await uow.append(
                    [self._claim_envelope(claimed.order_id, sub, intake, print_, key_stream, 1)]
                )
            return Submitted(Outcome.EXISTING, claimed.order_id)
        unknown = await self.read_models.unknown_skus(uow, {line.sku for line in sub.lines})
        problems = review(sub, unknown)
        if problems:
            await self._reject(uow, sub.platform_order_ref, sub.sales_channel, problems, intake)
            return Submitted(Outcome.REJECTED, problems=problems)
        order_id = self.new_order_id()
        [placed] = decide(PlaceOrder(order_id, sub), OrderState())
        envelopes = [
            self._envelope(
                placed, order_stream(order_id), 1, order_id, intake.causation_id, intake.actor
            ),
            self._claim_envelope(order_id, sub, intake, print_, ref_stream, len(ref_records) + 1),
        ]
        if key_stream is not None:
            envelopes.append(self._claim_envelope(order_id, sub, intake, print_, key_stream, 1))
        await uow.append(envelopes)
        await self.read_models.save_order(uow, evolve(OrderState(), placed))
        log.info("order.placed", order_id=order_id, platform_order_ref=sub.platform_order_ref)
        return Submitted(Outcome.CREATED, order_id)

    async def reject(
        self, uow: UnitOfWork, ref: str, channel: str, problems: list[Problem], intake: Intake
    ) -> None:
        """Record a rejection found before the submission could be parsed (an empty order)."""
        await self._reject(uow, ref, channel, problems, intake)

    async def _reject(
        self, uow: UnitOfWork, ref: str, channel: str, problems: list[Problem], intake: Intake
    ) -> None:
        stream = platform_order_stream(channel, ref)
        version = len(await uow.read_stream(stream)) + 1
        event = rejection(ref, channel, problems)
        await uow.append(
            [self._envelope(event, stream, version, ref, intake.causation_id, intake.actor)]
        )
        log.info("order.rejected", platform_order_ref=ref, reasons=[p.code.value for p in problems])

    def _claim_envelope(
        self,
        order_id: str,
        sub: OrderSubmitted,
        intake: Intake,
        print_: str,
        stream: str,
        version: int,
    ) -> Envelope:
        by_key = stream.startswith("idempotency-")
        claim = OrderIntakeKeyClaimed(
            order_id=order_id,
            key_kind=IntakeKeyKind.IDEMPOTENCY_KEY if by_key else IntakeKeyKind.PLATFORM_ORDER_REF,
            platform_order_ref=sub.platform_order_ref,
            sales_channel=sub.sales_channel,
            idempotency_key=intake.idempotency_key if by_key else None,
            request_fingerprint=print_,
        )
        return self._envelope(claim, stream, version, order_id, intake.causation_id, intake.actor)

    # -- the order ------------------------------------------------------------------------

    async def load(self, uow: UnitOfWork, order_id: str) -> tuple[OrderState, list[Recorded]]:
        """The order's state and its recorded events (empty state if there is no order)."""
        records = [
            Recorded(r.envelope, registry.parse(r.envelope), r.recorded_at)
            for r in await uow.read_stream(order_stream(order_id))
        ]
        state = OrderState()
        for rec in records:
            state = evolve(state, rec.event)
        return state, records

    async def record(
        self, uow: UnitOfWork, order_id: str, fact: Fact, source: Source
    ) -> list[Event]:
        """Record what another service reported; confirm or cancel the order if due.

        Raises ``OrderNotFound`` for an order this service never placed.
        """
        state, _ = await self.load(uow, order_id)
        events = decide(fact, state)
        await self._append(uow, state, events, source)
        return events

    async def cancel(
        self, uow: UnitOfWork, order_id: str, command: CancelOrder, actor: str, cause: str
    ) -> OrderState:
        """Cancel on request; raises ``OrderNotFound`` or ``CancellationRefused``."""
        state, _ = await self.load(uow, order_id)
        events = decide(command, state)
        source = Source(cause, actor, datetime.now(UTC))
        return await self._append(uow, state, events, source, decided_by=actor)

    async def _append(
        self,
        uow: UnitOfWork,
        state: OrderState,
        events: Sequence[Event],
        source: Source,
        decided_by: str = SERVICE_ACTOR,
    ) -> OrderState:
        if not events:
            return state
        order_id = state.order_id
        envelopes = []
        for event in events:
            # A recorded fact keeps its source's actor and time; what the order service
            # decided in reaction is its own, at the time it decided.
            is_fact = isinstance(event, _FACT_TYPES)
            envelopes.append(
                self._envelope(
                    event,
                    order_stream(order_id),
                    state.version + 1,
                    order_id,
                    source.event_id,
                    source.actor if is_fact else decided_by,
                    occurred_at=source.occurred_at if is_fact else None,
                )
            )
            state = evolve(state, event)
        await uow.append(envelopes)
        await self.read_models.save_order(uow, state)
        return state

    async def register_sku(self, uow: UnitOfWork, sku: str, name: str) -> None:
        await self.read_models.register_sku(uow, sku, name)

    @staticmethod
    def _envelope(
        event: Event,
        stream: str,
        version: int,
        correlation_id: str,
        causation_id: str | None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return envelope_for(
            event,
            stream_id=stream,
            stream_version=version,
            correlation_id=correlation_id,
            causation_id=causation_id,
            actor=actor,
            producer=PRODUCER,
            occurred_at=occurred_at,
        )


def _claim(records: Sequence[RecordedEvent]) -> OrderIntakeKeyClaimed | None:
    """The claim in an intake key's stream, if the key already belongs to an order."""
    for rec in records:
        env = rec.envelope
        if env.type == OrderIntakeKeyClaimed.event_type:
            return registry.parse_as(env, OrderIntakeKeyClaimed)
    return None
