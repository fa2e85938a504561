"""Load streams -> decide -> append, one unit of work per message or request.

Streams: ``warehouses`` (all warehouses), ``stock-<sku>`` (one SKU in every warehouse),
``reservation-<order id>`` and ``promotion-<id>``. A reservation, release or shipment
appends to its reservation stream and to every SKU stream it touches in one append: if
another writer moved one of those SKUs meanwhile, the store raises
``ConcurrencyConflict`` and the caller (consumer runtime or ``run_command``) runs the
whole unit of work again on fresh stock. That is the no-oversell guarantee.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from oms_events.base import Event
from oms_events.contracts import PromotionPlanned
from oms_events.envelope import Envelope
from oms_events.registry import envelope_for, registry
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
from oms_platform.eventstore import RecordedEvent, UnitOfWork

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


class StreamReader(Protocol):
    """What loading needs: a unit of work or the store itself (for queries)."""

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]: ...


@dataclass(frozen=True, slots=True)
class Cause:
    """Who asked, and in reaction to what: goes into every envelope written."""

    correlation_id: str
    causation_id: str | None = None
    actor: str = ACTOR


@dataclass
class _Appends:
    """Envelopes for one append, numbered on from each stream's loaded version."""

    cause: Cause
    now: datetime
    envelopes: list[Envelope] = field(default_factory=list)

    def add(self, stream_id: str, version: int, events: Iterable[Event]) -> None:
        for offset, event in enumerate(events, start=1):
            self.envelopes.append(
                envelope_for(
                    event,
                    stream_id=stream_id,
                    stream_version=version + offset,
                    correlation_id=self.cause.correlation_id,
                    causation_id=self.cause.causation_id,
                    actor=self.cause.actor,
                    producer=PRODUCER,
                    occurred_at=self.now,
                )
            )


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

    # -- loading ----------------------------------------------------------------------------

    async def load_stock(self, reader: StreamReader, sku: str) -> tuple[SkuStock, int]:
        version, state = self._stock_cache.get(sku, (0, SkuStock(sku)))
        for rec in await reader.read_stream(stock_stream(sku), version + 1):
            state = stock.evolve(state, registry.parse(rec.envelope))
            version = rec.envelope.stream_version
        self._stock_cache[sku] = (version, state)
        return state, version

    async def load_warehouses(self, reader: StreamReader) -> tuple[Warehouses, int]:
        state, version = Warehouses(), 0
        for rec in await reader.read_stream(WAREHOUSES_STREAM):
            state = warehouses.evolve(state, registry.parse(rec.envelope))
            version = rec.envelope.stream_version
        return state, version

    async def load_reservation(
        self, reader: StreamReader, order_id: str
    ) -> tuple[Reservation, int]:
        recs = await reader.read_stream(reservation_stream(order_id))
        state = reservation.replay(order_id, (registry.parse(r.envelope) for r in recs))
        return state, len(recs)

    async def load_promotion(
        self, reader: StreamReader, promotion_id: str
    ) -> tuple[Promotion | None, int]:
        recs = await reader.read_stream(promotion_stream(promotion_id))
        found = None
        for rec in recs:
            event = registry.parse(rec.envelope)
            if isinstance(event, PromotionPlanned):
                found = Promotion.from_event(event)
        return found, len(recs)

    # -- warehouses, SKUs, stock movements ---------------------------------------------------

    async def register_warehouse(
        self, uow: UnitOfWork, cmd: RegisterWarehouse, cause: Cause
    ) -> list[Event]:
        state, version = await self.load_warehouses(uow)
        events = warehouses.decide(cmd, state)
        await self._append(uow, cause, [(WAREHOUSES_STREAM, version, events)])
        return events

    async def register_sku(self, uow: UnitOfWork, cmd: RegisterSku, cause: Cause) -> list[Event]:
        state, version = await self.load_stock(uow, cmd.sku)
        events = stock.register(cmd, state)
        await self._append(uow, cause, [(stock_stream(cmd.sku), version, events)])
        return events

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
        state, version = await self.load_stock(uow, sku)
        known, _ = await self.load_warehouses(uow)
        events = decide(state, known)
        await self._append(uow, cause, [(stock_stream(sku), version, events)])
        return events

    # -- reservations --------------------------------------------------------------------------

    async def reserve_stock(self, uow: UnitOfWork, cmd: ReserveStock, cause: Cause) -> list[Event]:
        """Reserve an order's lines (or record why not); a second attempt is a no-op."""
        state, version = await self.load_reservation(uow, cmd.order_id)
        if state.status is not reservation.ReservationStatus.NONE:
            return []
        known, _ = await self.load_warehouses(uow)
        skus = sorted({x.sku for x in cmd.lines})
        loaded = {sku: await self.load_stock(uow, sku) for sku in skus}
        stocks = {sku: s for sku, (s, _) in loaded.items()}
        decision = reservation.reserve(cmd, state, known, stocks)
        return await self._append_decision(uow, cause, cmd.order_id, version, decision, loaded)

    async def release_stock(self, uow: UnitOfWork, cmd: ReleaseStock, cause: Cause) -> list[Event]:
        """Release what the order holds; before any reservation, block the one to come."""
        state, version = await self.load_reservation(uow, cmd.order_id)
        decision = reservation.release(cmd, state)
        loaded = {sku: await self.load_stock(uow, sku) for sku in sorted(decision.stock)}
        return await self._append_decision(uow, cause, cmd.order_id, version, decision, loaded)

    async def ship_stock(self, uow: UnitOfWork, cmd: ShipStock, cause: Cause) -> list[Event]:
        """Book a dispatched shipment's reserved units out of its warehouse."""
        state, version = await self.load_reservation(uow, cmd.order_id)
        decision = reservation.ship(cmd, state)
        loaded = {sku: await self.load_stock(uow, sku) for sku in sorted(decision.stock)}
        return await self._append_decision(uow, cause, cmd.order_id, version, decision, loaded)

    async def _append_decision(
        self,
        uow: UnitOfWork,
        cause: Cause,
        order_id: str,
        version: int,
        decision: reservation.Decision,
        loaded: dict[str, tuple[SkuStock, int]],
    ) -> list[Event]:
        batches = [(reservation_stream(order_id), version, decision.reservation)]
        batches += [
            (stock_stream(sku), loaded[sku][1], events) for sku, events in decision.stock.items()
        ]
        await self._append(uow, cause, batches)
        return decision.reservation + [e for events in decision.stock.values() for e in events]

    async def book_return(
        self, uow: UnitOfWork, cmd: returns.BookReturn, cause: Cause
    ) -> list[Event]:
        """Restock resellable returned units, write off the rest; each return once."""
        version = len(await uow.read_stream(return_stream(cmd.return_id)))
        own, per_sku = returns.book(cmd, already_booked=version > 0)
        loaded = {sku: await self.load_stock(uow, sku) for sku in sorted(per_sku)}
        batches = [(return_stream(cmd.return_id), version, own)]
        batches += [(stock_stream(sku), loaded[sku][1], events) for sku, events in per_sku.items()]
        await self._append(uow, cause, batches)
        return own + [e for events in per_sku.values() for e in events]

    # -- promotions -------------------------------------------------------------------------------

    async def plan_promotion(
        self, uow: UnitOfWork, cmd: PlanPromotion, cause: Cause
    ) -> list[Event]:
        existing, version = await self.load_promotion(uow, cmd.promotion_id)
        known = set()
        for sku in cmd.skus:
            state, _ = await self.load_stock(uow, sku)
            if state.info is not None:
                known.add(sku)
        events = promotions.plan(cmd, existing, known)
        await self._append(uow, cause, [(promotion_stream(cmd.promotion_id), version, events)])
        return events

    # -- writing ----------------------------------------------------------------------------------

    async def _append(
        self, uow: UnitOfWork, cause: Cause, batches: Sequence[tuple[str, int, list[Event]]]
    ) -> None:
        appends = _Appends(cause, self.clock())
        for stream_id, version, events in batches:
            appends.add(stream_id, version, events)
        if appends.envelopes:
            await uow.append(appends.envelopes)
