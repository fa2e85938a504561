"""Load what a return is decided against -> decide -> record through one ``StreamSession``.

Every command runs inside the caller's unit of work (the consumer runtime's for a message,
``run_command``'s for a request or an expiry sweep). A request and a receipt first lock
the order's row in ``returns_orders`` (``tables``), then load the order's other returns
from their streams (what they took back, what shipping and which payments they refunded),
so decisions on one order's returns never race each other.

What the decider is given:

- ``Delivered``: per SKU the units of the order's delivered shipments, the lowest unit
  price of the SKU's order lines and the *latest* delivery of the SKU (a SKU delivered in
  two parcels on two days has its window counted from the second); ``already_returned``:
  units of the order's other returns that are authorised, or were accepted;
- ``OrderAccount``: the same deliveries, the order's shipping charge, and per payment of
  ``OrderPlaced`` its amount as captured, minus what earlier returns' ``ReturnResolved``
  allocated to it (see the README: captures from the payments topic are not read yet).

The return goes to the warehouse that dispatched the first requested SKU; no label is
booked yet (``label_cost`` stays absent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from oms_events.base import Event
from oms_events.contracts import OrderPlaced
from oms_events.contracts.returns import ReturnAuthorized, ReturnExpired, ReturnResolved
from oms_events.contracts.shipping import ShipmentDelivered, ShipmentDispatched
from oms_events.money import Money
from oms_events.registry import registry
from oms_events.topics import Service
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.refusal import Refusal
from oms_platform.session import StreamReader, StreamSession
from oms_returns.domain.commands import (
    CapturedPayment,
    Delivered,
    DeliveredSku,
    ExpireReturn,
    OrderAccount,
    ReceivedLine,
    ReceiveReturn,
    RequestedLine,
    RequestReturn,
)
from oms_returns.domain.policy import RefundRules, ReturnWindow
from oms_returns.domain.resolution import per_sku
from oms_returns.domain.returns import RETURN, Return, ReturnStatus
from oms_returns.domain.rma import rma_number, stream_id
from oms_returns.tables import Delivery, OrderFacts, PaidWith, Tables

PRODUCER = Service.RETURNS.value
ACTOR = f"service:{PRODUCER}"


@dataclass(frozen=True, slots=True)
class Cause:
    causation_id: str | None = None
    actor: str = ACTOR


def _utc_now() -> datetime:
    return datetime.now(UTC)


def request_seed(order_id: str, key: str) -> str:
    """The seed of a request's RMA: the order and the caller's key, so the same key used
    for two orders names two returns."""
    return f"{order_id}\x1f{key}"


@dataclass
class History:
    """What the order's other returns took back and refunded."""

    returned: dict[str, int] = field(default_factory=dict)
    """Authorised (not expired) or accepted units per SKU."""
    accepted: dict[str, int] = field(default_factory=dict)
    shipping_refunded: Money | None = None
    refunded: dict[str, Money] = field(default_factory=dict)
    """Payment id -> refunded to it."""


def delivered_skus(facts: OrderFacts, deliveries: Sequence[Delivery]) -> tuple[DeliveredSku, ...]:
    """Per SKU: delivered units, its lowest unit price, its latest delivery."""
    units: dict[str, int] = {}
    last: dict[str, datetime] = {}
    for d in deliveries:
        for ln in d.lines:
            units[ln.sku] = units.get(ln.sku, 0) + ln.quantity
            last[ln.sku] = max(last.get(ln.sku, d.delivered_at), d.delivered_at)
    return tuple(
        DeliveredSku(sku, q, facts.prices[sku], last[sku])
        for sku, q in units.items()
        if sku in facts.prices
    )


class Returns:
    """The returns service's command handlers, and the loading its queries share."""

    def __init__(
        self,
        tables: Tables,
        window: ReturnWindow | None = None,
        rules: RefundRules | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.tables = tables
        self.window = window or ReturnWindow()
        self.rules = rules or RefundRules()
        self.clock = clock

    # -- reactions to other services' events -----------------------------------------------

    async def remember_order(self, uow: UnitOfWork, event: OrderPlaced) -> None:
        prices: dict[str, Money] = {}
        for ln in event.lines:
            known = prices.get(ln.sku)
            prices[ln.sku] = ln.unit_price if known is None else min(known, ln.unit_price)
        payments = tuple(PaidWith(p.payment_id, p.method, p.amount) for p in event.payments)
        facts = OrderFacts(event.order_id, event.shipping_charge, prices, payments)
        await self.tables.remember_order(uow, facts)

    async def record_dispatch(self, uow: UnitOfWork, event: ShipmentDispatched) -> None:
        await self.tables.dispatched(
            uow, event.shipment_id, event.order_id, event.warehouse_id, event.lines
        )

    async def record_delivery(self, uow: UnitOfWork, event: ShipmentDelivered) -> None:
        await self.tables.delivered(uow, event.shipment_id, event.order_id, event.delivered_at)

    # -- loading ---------------------------------------------------------------------------

    async def load(self, reader: StreamReader, rma: str) -> tuple[Return, list[Event]]:
        """The return as its stream says, and its events (none: no such return)."""
        state = RETURN.initial_state()
        events = []
        for rec in await reader.read_stream(stream_id(rma)):
            event = registry.parse(rec.envelope)
            state = RETURN.evolve(state, event)
            events.append(event)
        return state, events

    async def history(self, uow: UnitOfWork, order_id: str, exclude: str) -> History:
        h = History()
        for rma in await self.tables.returns_of(uow, order_id):
            if rma == exclude:
                continue
            state, events = await self.load(uow, rma)
            if state.status is ReturnStatus.AUTHORIZED:
                units = state.authorized_units()
            elif state.status is ReturnStatus.RESOLVED:
                units = per_sku((ln.sku, ln.quantity) for ln in state.received)
                h.accepted = per_sku([*h.accepted.items(), *units.items()])
            else:
                continue
            h.returned = per_sku([*h.returned.items(), *units.items()])
            for e in events:
                if isinstance(e, ReturnResolved):
                    before = h.shipping_refunded
                    h.shipping_refunded = (
                        e.shipping_refund if before is None else before + e.shipping_refund
                    )
                    for part in e.refunds:
                        paid = h.refunded.get(part.payment_id)
                        h.refunded[part.payment_id] = (
                            part.amount if paid is None else paid + part.amount
                        )
        return h

    # -- the customer's and the warehouse's commands -----------------------------------------

    async def request(
        self,
        uow: UnitOfWork,
        order_id: str,
        key: str,
        lines: tuple[RequestedLine, ...],
        cause: Cause,
    ) -> tuple[str, list[Event]]:
        """Decide a return request of ``order_id``; ``key`` names it (idempotency)."""
        seed = request_seed(order_id, key)
        rma = rma_number(seed)
        facts = await self.tables.order(uow, order_id, lock=True)
        if facts is None:
            raise Refusal.not_found(
                "order_not_found", f"no order {order_id} is known to returns", "order_id"
            )
        deliveries = await self.tables.deliveries(uow, order_id)
        history = await self.history(uow, order_id, exclude=rma)
        delivered = Delivered(delivered_skus(facts, deliveries), history.returned)
        first = lines[0].sku if lines else None
        warehouse = next(
            (d.warehouse_id for d in deliveries if d.warehouse_id and first in _skus(d)),
            next((d.warehouse_id for d in deliveries if d.warehouse_id), "unknown"),
        )
        now = self.clock()
        cmd = RequestReturn(
            request_id=seed,
            order_id=order_id,
            lines=lines,
            warehouse=warehouse,
            delivered=delivered,
            now=now,
            window=self.window,
        )
        s = self._session(uow, order_id, cause, now)
        own = stream_id(rma)
        state = await s.load(own, RETURN.initial_state(), RETURN.evolve)
        events = RETURN.decide(cmd, state)
        s.record(own, events)
        for e in events:
            if isinstance(e, ReturnAuthorized):
                await self.tables.add_return(uow, rma, order_id, now, e.expires_at)
        await s.flush()
        return rma, events

    async def receive(
        self, uow: UnitOfWork, rma: str, lines: tuple[ReceivedLine, ...], cause: Cause
    ) -> list[Event]:
        """Record what arrived of ``rma`` and resolve it against the order's account."""
        now = self.clock()
        own = stream_id(rma)
        s = self._session(uow, rma, cause, now)
        state = await s.load(own, RETURN.initial_state(), RETURN.evolve)
        account = OrderAccount(delivered=(), shipping_charge=Money.zero("EUR"), payments=())
        if state.order_id is not None:
            s.correlation_id = state.order_id
            facts = await self.tables.order(uow, state.order_id, lock=True)
            if facts is None:  # a return is only authorised for a known order
                raise Refusal("order_not_known", f"order {state.order_id} is unknown", "rma")
            deliveries = await self.tables.deliveries(uow, state.order_id)
            history = await self.history(uow, state.order_id, exclude=rma)
            account = OrderAccount(
                delivered=delivered_skus(facts, deliveries),
                shipping_charge=facts.shipping_charge,
                payments=tuple(
                    CapturedPayment(
                        p.payment_id, p.method, p.amount, history.refunded.get(p.payment_id)
                    )
                    for p in facts.payments
                ),
                accepted_before=history.accepted,
                shipping_refunded=history.shipping_refunded,
            )
        events = RETURN.decide(ReceiveReturn(rma, lines, account, self.rules), state)
        s.record(own, events)
        if any(isinstance(e, ReturnResolved) for e in events):
            await self.tables.close_return(uow, rma)
        await s.flush()
        return events

    async def expire(self, uow: UnitOfWork, rma: str, cause: Cause) -> list[Event]:
        """Lapse ``rma`` if it is authorised and due (a received one decides nothing)."""
        now = self.clock()
        own = stream_id(rma)
        s = self._session(uow, rma, cause, now)
        state = await s.load(own, RETURN.initial_state(), RETURN.evolve)
        s.correlation_id = state.order_id or rma
        events = RETURN.decide(ExpireReturn(rma, now), state)
        s.record(own, events)
        if state.status is not ReturnStatus.AUTHORIZED or any(
            isinstance(e, ReturnExpired) for e in events
        ):
            await self.tables.close_return(uow, rma)
        await s.flush()
        return events

    def _session(
        self, uow: UnitOfWork, correlation_id: str, cause: Cause, now: datetime
    ) -> StreamSession:
        return StreamSession(
            uow,
            producer=PRODUCER,
            correlation_id=correlation_id,
            causation_id=cause.causation_id,
            actor=cause.actor,
            occurred_at=now,
        )


def _skus(d: Delivery) -> set[str]:
    return {ln.sku for ln in d.lines}
