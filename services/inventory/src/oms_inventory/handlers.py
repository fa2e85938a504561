"""Load streams -> decide -> append, one unit of work per message or request.

Streams: ``warehouses`` (all warehouses), ``stock-<sku>`` (one SKU in every warehouse),
``reservation-<order id>`` and ``promotion-<id>``. A reservation, release or shipment
appends to its reservation stream and to every SKU stream it touches in one append: if
another writer moved one of those SKUs meanwhile, the store raises
``ConcurrencyConflict`` and the caller (consumer runtime or ``run_command``) runs the
whole unit of work again on fresh stock. That is the no-oversell guarantee.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from oms_events.base import Event
from oms_events.contracts import PromotionPlanned
from oms_events.topics import Service
from oms_inventory.domain import promotions, reservation, returns, stock, warehouses
from oms_inventory.domain.commands import (
    AdjustStock,
    PlanPromotion,
    ReceiveStock,
    RegisterSku,
    RegisterWarehouse,
    ReleaseStock,
    ReserveStock,
    SetLowStockThreshold,
    ShipStock,
    TransferStock,
)
from oms_inventory.domain.promotions import Promotion
from oms_inventory.domain.reservation import Reservation
from oms_inventory.domain.stock import SkuStock
from oms_inventory.domain.warehouses import Warehouses
from oms_platform.eventstore import UnitOfWork
from oms_platform.session import StreamReader, StreamSession, read_state

PRODUCER = Service.INVENTORY.value
ACTOR = f"service:{PRODUCER}"
WAREHOUSES_STREAM = "warehouses"


def stock_stream(sku: str) -> str:
    return f"stock-{sku}"


def reservation_stream(order_id: str) -> str:
    return f"reservation-{order_id}"


def return_stream(return_id: str) -> str:
    return f"return-{return_id}"


def promotion_stream(promotion_id: str) -> str:
    return f"promotion-{promotion_id}"


@dataclass(frozen=True, slots=True)
class Cause:
    """Who asked, and in reaction to what: goes into every envelope written."""

    correlation_id: str
    causation_id: str | None = None
    actor: str = ACTOR


def _promotion(found: Promotion | None, event: Event) -> Promotion | None:
    return Promotion.from_event(event) if isinstance(event, PromotionPlanned) else found


def _booked(_booked: bool, _event: Event) -> bool:
    """A return's stream holds events only once the return is booked."""
    return True


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Inventory:
    """The inventory's command handlers; each method runs inside the caller's unit of work.

    Keeps the last state read of each SKU stream in memory, so a hot SKU is not replayed
    from its first event on every reservation: only the events after the cached version
    are read. A stale cache costs nothing but a conflict and a retry, because appends are
    checked against the stream's real version; only states read from the store (never
    ones this process is about to write) are cached.
    """

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock
        self._stock_cache: dict[str, tuple[int, SkuStock]] = {}

    # -- loading for queries (a unit of work or the store itself) ---------------------------

    async def load_stock(self, reader: StreamReader, sku: str) -> tuple[SkuStock, int]:
        known = self._stock_cache.get(sku)
        state, version = await read_state(
            reader, stock_stream(sku), SkuStock(sku), stock.evolve, known=known
        )
        self._stock_cache[sku] = (version, state)
        return state, version

    async def load_warehouses(self, reader: StreamReader) -> tuple[Warehouses, int]:
        return await read_state(reader, WAREHOUSES_STREAM, Warehouses(), warehouses.evolve)

    async def load_reservation(
        self, reader: StreamReader, order_id: str
    ) -> tuple[Reservation, int]:
        stream_id = reservation_stream(order_id)
        return await read_state(reader, stream_id, Reservation(order_id), reservation.evolve)

    async def load_promotion(
        self, reader: StreamReader, promotion_id: str
    ) -> tuple[Promotion | None, int]:
        return await read_state(reader, promotion_stream(promotion_id), None, _promotion)

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
        stream_id = stock_stream(sku)
        # Cache only a state just read from the store: once loaded, the session's state
        # may include events this unit of work has recorded but not yet committed.
        fresh = not s.loaded(stream_id)
        known = self._stock_cache.get(sku)
        state = await s.load(stream_id, SkuStock(sku), stock.evolve, known=known)
        if fresh:
            self._stock_cache[sku] = (s.version(stream_id), state)
        return state

    async def _warehouses(self, s: StreamSession) -> Warehouses:
        return await s.load(WAREHOUSES_STREAM, Warehouses(), warehouses.evolve)

    async def _reservation(self, s: StreamSession, order_id: str) -> Reservation:
        stream_id = reservation_stream(order_id)
        return await s.load(stream_id, Reservation(order_id), reservation.evolve)

    # -- warehouses, SKUs, stock movements ---------------------------------------------------

    async def register_warehouse(
        self, uow: UnitOfWork, cmd: RegisterWarehouse, cause: Cause
    ) -> list[Event]:
        s = self._session(uow, cause)
        events = warehouses.decide(cmd, await self._warehouses(s))
        return await self._write(s, WAREHOUSES_STREAM, events)

    async def register_sku(self, uow: UnitOfWork, cmd: RegisterSku, cause: Cause) -> list[Event]:
        s = self._session(uow, cause)
        events = stock.register(cmd, await self._stock(s, cmd.sku))
        return await self._write(s, stock_stream(cmd.sku), events)

    async def receive_stock(self, uow: UnitOfWork, cmd: ReceiveStock, cause: Cause) -> list[Event]:
        return await self._move(uow, cmd.sku, cause, lambda s, w: stock.receive(cmd, s, w))

    async def adjust_stock(self, uow: UnitOfWork, cmd: AdjustStock, cause: Cause) -> list[Event]:
        return await self._move(uow, cmd.sku, cause, lambda s, w: stock.adjust(cmd, s, w))

    async def transfer_stock(
        self, uow: UnitOfWork, cmd: TransferStock, cause: Cause
    ) -> list[Event]:
        return await self._move(uow, cmd.sku, cause, lambda s, w: stock.transfer(cmd, s, w))

    async def set_threshold(
        self, uow: UnitOfWork, cmd: SetLowStockThreshold, cause: Cause
    ) -> list[Event]:
        return await self._move(uow, cmd.sku, cause, lambda s, w: stock.set_threshold(cmd, s, w))

    async def _move(
        self,
        uow: UnitOfWork,
        sku: str,
        cause: Cause,
        decide: Callable[[SkuStock, Warehouses], list[Event]],
    ) -> list[Event]:
        s = self._session(uow, cause)
        state = await self._stock(s, sku)
        events = decide(state, await self._warehouses(s))
        return await self._write(s, stock_stream(sku), events)

    # -- reservations --------------------------------------------------------------------------

    async def reserve_stock(self, uow: UnitOfWork, cmd: ReserveStock, cause: Cause) -> list[Event]:
        """Reserve an order's lines (or record why not); a second attempt is a no-op."""
        s = self._session(uow, cause)
        state = await self._reservation(s, cmd.order_id)
        if state.status is not reservation.ReservationStatus.NONE:
            return []
        known = await self._warehouses(s)
        skus = sorted({x.sku for x in cmd.lines})
        stocks = {sku: await self._stock(s, sku) for sku in skus}
        decision = reservation.reserve(cmd, state, known, stocks)
        return await self._write_decision(s, cmd.order_id, decision)

    async def release_stock(self, uow: UnitOfWork, cmd: ReleaseStock, cause: Cause) -> list[Event]:
        """Release what the order holds; before any reservation, block the one to come."""
        s = self._session(uow, cause)
        decision = reservation.release(cmd, await self._reservation(s, cmd.order_id))
        return await self._write_decision(s, cmd.order_id, decision)

    async def ship_stock(self, uow: UnitOfWork, cmd: ShipStock, cause: Cause) -> list[Event]:
        """Book a dispatched shipment's reserved units out of its warehouse."""
        s = self._session(uow, cause)
        decision = reservation.ship(cmd, await self._reservation(s, cmd.order_id))
        return await self._write_decision(s, cmd.order_id, decision)

    async def _write_decision(
        self, s: StreamSession, order_id: str, decision: reservation.Decision
    ) -> list[Event]:
        return await self._write(
            s, reservation_stream(order_id), decision.reservation, decision.stock
        )

    async def book_return(
        self, uow: UnitOfWork, cmd: returns.BookReturn, cause: Cause
    ) -> list[Event]:
        """Restock resellable returned units, write off the rest; each return once."""
        s = self._session(uow, cause)
        stream_id = return_stream(cmd.return_id)
        own, per_sku = returns.book(cmd, already_booked=await s.load(stream_id, False, _booked))
        return await self._write(s, stream_id, own, per_sku)

    # -- promotions -------------------------------------------------------------------------------

    async def plan_promotion(
        self, uow: UnitOfWork, cmd: PlanPromotion, cause: Cause
    ) -> list[Event]:
        s = self._session(uow, cause)
        stream_id = promotion_stream(cmd.promotion_id)
        existing = await s.load(stream_id, None, _promotion)
        known = set()
        for sku in cmd.skus:
            state = await self._stock(s, sku)
            if state.info is not None:
                known.add(sku)
        events = promotions.plan(cmd, existing, known)
        return await self._write(s, stream_id, events)

    # -- writing ----------------------------------------------------------------------------------

    async def _write(
        self,
        s: StreamSession,
        stream_id: str,
        own: list[Event],
        per_sku: dict[str, list[Event]] | None = None,
    ) -> list[Event]:
        """Append ``own`` events to ``stream_id`` and each SKU's events to its stock stream,
        all in one append; return the events, in that order."""
        per_sku = per_sku or {}
        # A stock stream is written at the version it was read at, so every SKU the
        # decision touches is read first (a no-op for those it already read).
        for sku in sorted(per_sku):
            await self._stock(s, sku)
        s.record(stream_id, own)
        for sku, events in per_sku.items():
            s.record(stock_stream(sku), events)
        await s.flush()
        return own + [e for events in per_sku.values() for e in events]
