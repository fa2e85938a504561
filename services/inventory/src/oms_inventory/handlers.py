"""Load streams -> decide -> record through one ``StreamSession`` -> one atomic append.

Every command runs inside the caller's unit of work (the consumer runtime's for a message,
``run_command``'s for a request). The handler loads what the command's decider decides on,
asks the decider, records each decided event on its stream (``streams.stream_for``) and
flushes once. A reservation, release or shipment records on its reservation stream and on
every SKU stream it touches in that one append: if another writer moved one of those SKUs
meanwhile, the store raises ``ConcurrencyConflict`` and the caller runs the whole unit of
work again on fresh stock. That is the no-oversell guarantee.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from oms_events.base import Event
from oms_events.contracts import AllocationStrategy
from oms_events.topics import Service
from oms_inventory.domain import promotions, reservation, stock, warehouses
from oms_inventory.domain.commands import (
    BookReturn,
    BookShortPick,
    PlanPromotion,
    ReleaseStock,
    ReservationCommand,
    ReserveStock,
    RestockReturnedShipment,
    ShipStock,
    StockCommand,
    WarehouseCommand,
)
from oms_inventory.domain.promotions import PROMOTION, Promotion, PromotionView
from oms_inventory.domain.reservation import RESERVATION, Reservation, ReservationView
from oms_inventory.domain.returns import RETURN_BOOKING, restocked
from oms_inventory.domain.stock import SKU_STOCK, SkuStock, StockView
from oms_inventory.domain.warehouses import WAREHOUSES, Warehouses
from oms_inventory.streams import (
    WAREHOUSES_STREAM,
    promotion_stream,
    reservation_stream,
    return_stream,
    stock_stream,
    stream_for,
)
from oms_platform.decider import Decision
from oms_platform.eventstore import UnitOfWork
from oms_platform.session import StateCache, StreamReader, StreamSession, read_state

PRODUCER = Service.INVENTORY.value
ACTOR = f"service:{PRODUCER}"


@dataclass(frozen=True, slots=True)
class Cause:
    """Who asked, and in reaction to what: goes into every envelope written."""

    correlation_id: str
    causation_id: str | None = None
    actor: str = ACTOR


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Inventory:
    """The inventory's command handlers, and the loading its queries share.

    ``strategy`` is how orders are allocated unless a request says otherwise. Keeps the
    last state read of each SKU stream in memory, so a hot SKU is not replayed from its
    first event on every reservation: only the events after the cached version are read.
    A stale cache costs nothing but a conflict and a retry, because appends are checked
    against the stream's real version; a state is cached only once its unit of work has
    committed (see ``StateCache``).
    """

    def __init__(
        self,
        clock: Callable[[], datetime] = _utc_now,
        strategy: AllocationStrategy = AllocationStrategy.NEAREST,
    ) -> None:
        self.clock = clock
        self.strategy = strategy
        self._stock_cache: StateCache[SkuStock] = StateCache()

    # -- loading for queries (a unit of work or the store itself) ---------------------------

    async def load_stock(self, reader: StreamReader, sku: str) -> tuple[SkuStock, int]:
        known = self._stock_cache.get(stock_stream(sku))
        state, version = await read_state(
            reader, stock_stream(sku), SkuStock(), stock.evolve, known=known
        )
        self._stock_cache.put(stock_stream(sku), version, state)
        return state, version

    async def load_warehouses(self, reader: StreamReader) -> Warehouses:
        return (await read_state(reader, WAREHOUSES_STREAM, Warehouses(), warehouses.evolve))[0]

    async def load_reservation(
        self, reader: StreamReader, order_id: str
    ) -> tuple[Reservation, int]:
        stream_id = reservation_stream(order_id)
        return await read_state(reader, stream_id, Reservation(), reservation.evolve)

    async def load_promotion(self, reader: StreamReader, promotion_id: str) -> Promotion | None:
        stream_id = promotion_stream(promotion_id)
        return (await read_state(reader, stream_id, None, promotions.evolve))[0]

    # -- commands ---------------------------------------------------------------------------------

    async def register_warehouse(
        self, uow: UnitOfWork, cmd: WarehouseCommand, cause: Cause
    ) -> list[Event]:
        """Register or change a warehouse."""
        s = self._session(uow, cause)
        events = WAREHOUSES.decide(cmd, await self._warehouses(s))
        return await _record(s, WAREHOUSES_STREAM, events)

    async def change_stock(self, uow: UnitOfWork, cmd: StockCommand, cause: Cause) -> list[Event]:
        """Register or change a SKU, receive, count, transfer, set a threshold."""
        s = self._session(uow, cause)
        view = StockView(await self._stock(s, cmd.sku), await self._warehouses(s))
        return await _record(s, stock_stream(cmd.sku), SKU_STOCK.decide(cmd, view))

    async def reserve_stock(self, uow: UnitOfWork, cmd: ReserveStock, cause: Cause) -> list[Event]:
        """Reserve an order's lines (or record why not); a second attempt is a no-op."""
        # An order already decided needs no stock read: the decider decides nothing.
        return await self._reservation_command(
            uow, cmd, cause, lambda held: () if held.decided else (ln.sku for ln in cmd.lines)
        )

    async def release_stock(self, uow: UnitOfWork, cmd: ReleaseStock, cause: Cause) -> list[Event]:
        """Release what the order holds; before any reservation, block the one to come."""
        return await self._reservation_command(uow, cmd, cause, Reservation.skus)

    async def ship_stock(self, uow: UnitOfWork, cmd: ShipStock, cause: Cause) -> list[Event]:
        """Book a dispatched shipment's reserved units out of its warehouse."""
        return await self._reservation_command(
            uow, cmd, cause, lambda _held: (sku for sku, _ in cmd.lines)
        )

    async def book_short_pick(
        self, uow: UnitOfWork, cmd: BookShortPick, cause: Cause
    ) -> list[Event]:
        """Book a short pick's missing units lost (and out of the order's reservation)."""
        return await self._reservation_command(
            uow, cmd, cause, lambda _held: (sku for sku, _ in cmd.missing)
        )

    async def restock_returned_shipment(
        self, uow: UnitOfWork, cmd: RestockReturnedShipment, cause: Cause
    ) -> list[Event]:
        """Put the units of a parcel returned to sender back into its warehouse's stock."""
        return await self._reservation_command(
            uow,
            cmd,
            cause,
            lambda held: (ln.sku for ln in held.shipped_from.get(cmd.shipment_id, ("", ()))[1]),
        )

    async def _reservation_command(
        self,
        uow: UnitOfWork,
        cmd: ReservationCommand,
        cause: Cause,
        skus_of: Callable[[Reservation], Iterable[str]],
    ) -> list[Event]:
        """Load the reservation, the warehouses and the stock of the SKUs concerned
        (``skus_of`` the reservation), decide, record all on their streams at once."""
        s = self._session(uow, cause)
        own = reservation_stream(cmd.order_id)
        held = await s.load(own, Reservation(), reservation.evolve)
        stocks = {sku: await self._stock(s, sku) for sku in sorted(set(skus_of(held)))}
        view = ReservationView(held, await self._warehouses(s), stocks)
        return await _record(s, own, RESERVATION.decide(cmd, view))

    async def book_return(self, uow: UnitOfWork, cmd: BookReturn, cause: Cause) -> list[Event]:
        """Restock resellable returned units, write off the rest; each return once."""
        s = self._session(uow, cause)
        own = return_stream(cmd.return_id)
        booking = await s.load(own, RETURN_BOOKING.initial_state(), RETURN_BOOKING.evolve)
        # The SKU streams restocked are read so that they are appended at their version.
        for sku in sorted(restocked(cmd)):
            await self._stock(s, sku)
        return await _record(s, own, RETURN_BOOKING.decide(cmd, booking))

    async def plan_promotion(
        self, uow: UnitOfWork, cmd: PlanPromotion, cause: Cause
    ) -> list[Event]:
        s = self._session(uow, cause)
        own = promotion_stream(cmd.promotion_id)
        planned = await s.load(own, None, promotions.evolve)
        registered = {sku for sku in cmd.skus if (await self._stock(s, sku)).info is not None}
        view = PromotionView(planned, frozenset(registered))
        return await _record(s, own, PROMOTION.decide(cmd, view))

    # -- loading in a command's session ---------------------------------------------------------

    def _session(self, uow: UnitOfWork, cause: Cause) -> StreamSession:
        return StreamSession(
            uow,
            producer=PRODUCER,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
            actor=cause.actor,
            occurred_at=self.clock(),
        )

    async def _stock(self, s: StreamSession, sku: str) -> SkuStock:
        # The cache gets the stream's state when the unit of work commits, including
        # what it recorded: the next reservation of a hot SKU reads nothing.
        return await s.load(stock_stream(sku), SkuStock(), stock.evolve, cache=self._stock_cache)

    async def _warehouses(self, s: StreamSession) -> Warehouses:
        return await s.load(WAREHOUSES_STREAM, Warehouses(), warehouses.evolve)


async def _record(s: StreamSession, own: str, events: Decision) -> list[Event]:
    """Record each event on its stream (``own`` or a SKU's) and append them all at once."""
    for event in events:
        s.record(stream_for(event, own), [event])
    await s.flush()
    return events
