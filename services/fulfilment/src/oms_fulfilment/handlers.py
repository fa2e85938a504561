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
from oms_events.contracts.order import OrderConfirmed
from oms_events.topics import Service
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
from oms_fulfilment.sizes import ItemSizes
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.session import StreamReader, StreamSession, read_state

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


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Fulfilments:
    """The fulfilment service's command handlers, and the loading its queries share."""

    def __init__(
        self,
        sizes: ItemSizes,
        *,
        catalogue: tuple[Box, ...] = BOXES,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.item_sizes = sizes
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
        """One fulfilment per warehouse of a confirmed order; each one once."""
        s = self._session(uow, cause)
        decided: list[Event] = []
        for cmd in requests_for(confirmed):
            own = stream_id(cmd.fulfilment_id)
            state = await s.load(own, FULFILMENT.initial_state(), FULFILMENT.evolve)
            events = FULFILMENT.decide(cmd, state)
            s.record(own, events)
            decided += events
        await s.flush()
        return decided

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


async def _record(s: StreamSession, own: str, events: list[Event]) -> list[Event]:
    s.record(own, events)
    await s.flush()
    return events
