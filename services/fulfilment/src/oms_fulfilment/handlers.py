"""Load a fulfilment stream -> decide -> record through one ``StreamSession`` -> one append.

Every command runs inside the caller's unit of work: the consumer runtime's for a message,
``run_command``'s for a request (which runs it again from scratch on a conflict). Each
fulfilment is its own stream (``fulfilment-<id>``) and every decision reads only it, so
two warehouse requests on different fulfilments never conflict; the same one twice
conflicts and the second is decided again on the first's outcome.

The envelopes' correlation id is the order id (the Kafka key of every order's events),
known from the fulfilment's state once it is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from oms_events.base import Event
from oms_events.contracts.inventory import SkuRegistered
from oms_events.contracts.order import OrderCancellationRequested, OrderConfirmed
from oms_events.topics import Service
from oms_fulfilment.domain import cancellation
from oms_fulfilment.domain.cancellation import (
    Answer,
    AnswerCancellation,
    OrderCancellation,
    answer_cancellation,
    cancellation_stream_id,
)
from oms_fulfilment.domain.commands import (
    CancelFulfilment,
    FulfilmentCommand,
    RecordPack,
    RecordPick,
)
from oms_fulfilment.domain.fulfilment import (
    FULFILMENT,
    Fulfilment,
    FulfilmentStatus,
    requests_for,
    stream_id,
)
from oms_fulfilment.domain.packaging import BOXES, Box, ItemSize
from oms_fulfilment.order_fulfilments import InMemoryOrderFulfilments, OrderFulfilments
from oms_fulfilment.sizes import ItemSizes
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.logging import get_logger
from oms_platform.session import StreamReader, StreamSession, read_state

log = get_logger(__name__)

PRODUCER = Service.FULFILMENT.value
ACTOR = f"service:{PRODUCER}"


@dataclass(frozen=True, slots=True)
class Cause:
    """Who asked, and in reaction to what: goes into every envelope written.

    ``correlation_id`` is used until the fulfilment is loaded; from then on its order id.
    """

    correlation_id: str
    causation_id: str | None = None
    actor: str = ACTOR


def utc_now() -> datetime:
    return datetime.now(UTC)


class Fulfilments:
    """The fulfilment service's command handlers, and the loading its queries share."""

    def __init__(
        self,
        sizes: ItemSizes,
        *,
        orders: OrderFulfilments | None = None,
        catalogue: tuple[Box, ...] = BOXES,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.item_sizes = sizes
        self.orders: OrderFulfilments = orders if orders is not None else InMemoryOrderFulfilments()
        self.catalogue = catalogue
        self.clock = clock

    async def load(self, reader: StreamReader, fulfilment_id: str) -> tuple[Fulfilment, int]:
        """The fulfilment as its stream says, and the stream's version (0: none)."""
        return await read_state(
            reader, stream_id(fulfilment_id), FULFILMENT.initial_state(), FULFILMENT.evolve
        )

    # -- reactions to other services' events ---------------------------------------------

    async def request(
        self, uow: UnitOfWork, confirmed: OrderConfirmed, cause: Cause
    ) -> list[Event]:
        """One fulfilment per warehouse of a confirmed order; each one once.

        The order's fulfilment ids are remembered in the same unit of work (a cancellation
        request needs them). An order whose cancellation was accepted already (a request
        that overtook its confirmation, which the partition order rules out) gets none.
        """
        s = self._session(uow, cause)
        answered = await self._cancellation(s, confirmed.order_id)
        if answered.answer is Answer.ACCEPTED:
            log.warning("fulfilment.confirmed_after_cancellation", order_id=confirmed.order_id)
            return []
        decided: list[Event] = []
        requests = requests_for(confirmed)
        for cmd in requests:
            own = stream_id(cmd.fulfilment_id)
            state = await s.load(own, FULFILMENT.initial_state(), FULFILMENT.evolve)
            events = FULFILMENT.decide(cmd, state)
            s.record(own, events)
            decided += events
        await self.orders.remember(uow, confirmed.order_id, (c.fulfilment_id for c in requests))
        await s.flush()
        return decided

    async def answer_cancellation(
        self, uow: UnitOfWork, requested: OrderCancellationRequested, cause: Cause
    ) -> list[Event]:
        """Cancel every fulfilment of the order if none is packed, else refuse; one append.

        Every fulfilment stream cancelled is checked against the version read, so a pack
        committed in between makes this unit of work conflict and run again (then it is
        refused); see :mod:`~oms_fulfilment.domain.cancellation`.
        """
        s = self._session(uow, cause)
        s.correlation_id = requested.order_id
        answered = await self._cancellation(s, requested.order_id)
        fulfilments = {
            fid: await s.load(stream_id(fid), FULFILMENT.initial_state(), FULFILMENT.evolve)
            for fid in await self.orders.of(uow, requested.order_id)
        }
        cmd = AnswerCancellation(requested.order_id, cancellation_reason(requested))
        decision = answer_cancellation(cmd, answered, fulfilments)
        decided: list[Event] = []
        for fid, events in decision.cancelled.items():
            s.record(stream_id(fid), events)
            decided += events
        s.record(cancellation_stream_id(requested.order_id), decision.answer)
        await s.flush()
        return decided + decision.answer

    async def _cancellation(self, s: StreamSession, order_id: str) -> OrderCancellation:
        return await s.load(
            cancellation_stream_id(order_id), OrderCancellation(), cancellation.evolve
        )

    async def register_size(self, uow: UnitOfWork, registered: SkuRegistered, at: datetime) -> None:
        """Keep the size of a SKU the inventory registered or changed."""
        await self.item_sizes.remember(uow, registered.sku, ItemSize.of(registered), at)

    # -- the warehouse's commands ------------------------------------------------------------

    async def pick(self, uow: UnitOfWork, cmd: RecordPick, cause: Cause) -> list[Event]:
        return await self._decide(uow, cmd, cause)

    async def cancel(self, uow: UnitOfWork, cmd: CancelFulfilment, cause: Cause) -> list[Event]:
        return await self._decide(uow, cmd, cause)

    async def pack(self, uow: UnitOfWork, fulfilment_id: str, cause: Cause) -> list[Event]:
        """Pack what was picked, in boxes of the catalogue chosen by the picked SKUs' sizes."""
        s = self._session(uow, cause)
        own = stream_id(fulfilment_id)
        state = await self._load(s, own)
        sizes = {}
        if state.status is FulfilmentStatus.PICKED:
            sizes = await self.item_sizes.sizes(uow, (line.sku for line in state.picked))
        cmd = RecordPack(fulfilment_id, sizes, self.catalogue)
        return await _record(s, own, FULFILMENT.decide(cmd, state))

    async def _decide(self, uow: UnitOfWork, cmd: FulfilmentCommand, cause: Cause) -> list[Event]:
        s = self._session(uow, cause)
        own = stream_id(cmd.fulfilment_id)
        state = await self._load(s, own)
        return await _record(s, own, FULFILMENT.decide(cmd, state))

    async def _load(self, s: StreamSession, own: str) -> Fulfilment:
        state = await s.load(own, FULFILMENT.initial_state(), FULFILMENT.evolve)
        if state.order_id:
            s.correlation_id = state.order_id
        return state

    def _session(self, uow: UnitOfWork, cause: Cause) -> StreamSession:
        return StreamSession(
            uow,
            producer=PRODUCER,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
            actor=cause.actor,
            occurred_at=self.clock(),
        )


def cancellation_reason(requested: OrderCancellationRequested) -> str:
    """The reason each cancelled fulfilment carries: why, by whom, and the detail given."""
    reason = f"order cancelled ({requested.reason.value}, by {requested.cancelled_by.value})"
    return f"{reason}: {requested.detail}" if requested.detail else reason


async def _record(s: StreamSession, own: str, events: list[Event]) -> list[Event]:
    s.record(own, events)
    await s.flush()
    return events
