"""Builders and an in-memory payments service for the unit tests (``payments_support``).

:class:`Payments` runs the real handlers and worker on the in-memory event store with a
scripted provider: events go in as the consumers would deliver them, and ``pump()``
plays the provider-work consumer over the service's own new events, in commit order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from oms_events.base import Event
from oms_events.contracts import (
    CancellationReason,
    CancelledBy,
    Customer,
    DeclineReason,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    Payment,
    PaymentMethod,
    ShipmentDelivered,
    ShipmentDispatched,
    SkuQuantity,
)
from oms_events.envelope import Envelope
from oms_events.examples import ADDRESS, eur
from oms_events.money import Money
from oms_events.registry import envelope_for, registry
from oms_payments.calls import MemoryProviderCalls
from oms_payments.gift_card_tokens import GiftCardTokens
from oms_payments.providers.base import (
    AuthorizationRequest,
    AuthorizationResult,
    OperationResult,
    ProviderDirectory,
    ProviderRefused,
    ProviderTimeout,
)
from oms_payments.routing import routes
from oms_payments.worker import ProviderWorker
from oms_platform.eventstore import START, InMemoryEventStore, Position
from oms_platform.failures import Unavailable
from oms_platform.testing.keys import TEST_CHAIN_KEY

ORDER_ID = "ord-000000000001"
LINES = (
    OrderLine(line_id="1", sku="TSHIRT", quantity=2, unit_price=eur("19.95")),
    OrderLine(line_id="2", sku="MUG", quantity=1, unit_price=eur("12.50")),
)
SHIPPING = eur("4.95")
TOTAL = eur("57.35")


TEST_GIFT_CARD_KEY = "00112233445566778899aabbccddeeff"
"""The unit tests' gift card key (the service refuses to start without one)."""
TOKENS = GiftCardTokens(TEST_GIFT_CARD_KEY)


def token(code: str) -> str:
    """The token the unit tests' key gives the card ``code``."""
    return TOKENS.token(code)


def payment(pid: str, method: str, amount: str, code: str | None = None) -> Payment:
    """A payment; with ``code``, paid by that gift card (as the platform sends it: its token)."""
    card = token(code) if code is not None else None
    return Payment(payment_id=pid, method=PaymentMethod(method), amount=eur(amount), gift_card=card)


def placed(
    *payments: Payment, email: str = "noor@example.com", order_id: str = ORDER_ID
) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        platform_order_ref=f"WEB-{order_id}",
        sales_channel="webshop-nl",
        customer=Customer(customer_id="cus-1", email=email),
        lines=LINES,
        shipping_address=ADDRESS,
        shipping_charge=SHIPPING,
        payments=payments or (payment("pay-1", "card", "57.35"),),
        placed_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )


def cancelled(order_id: str = ORDER_ID) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id,
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.CUSTOMER,
    )


def dispatched(
    shipment_id: str, *lines: tuple[str, int], order_id: str = ORDER_ID
) -> ShipmentDispatched:
    return ShipmentDispatched(
        shipment_id=shipment_id,
        order_id=order_id,
        fulfilment_id="ful-1",
        warehouse_id="wh-1",
        carrier="postnl",
        service="standard",
        tracking_number=f"TRK-{shipment_id}",
        weight_grams=500,
        shipping_cost=eur("3.85"),
        lines=tuple(SkuQuantity(sku=s, quantity=q) for s, q in lines),
    )


def delivered(shipment_id: str, order_id: str = ORDER_ID) -> ShipmentDelivered:
    return ShipmentDelivered(
        shipment_id=shipment_id,
        order_id=order_id,
        carrier="postnl",
        tracking_number=f"TRK-{shipment_id}",
        delivered_at=datetime(2026, 3, 3, 12, 0, tzinfo=UTC),
    )


@dataclass
class Auth:
    amount: Money
    captured: Decimal = Decimal(0)
    voided: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)


@dataclass
class FakeProvider:
    """A scripted provider: remembers keys, counts calls, times out or declines on demand.

    Like a real provider (and the sandbox), a call that times out was carried out: its
    answer is stored under the key and only the answer is lost.
    """

    name: str = "fake"
    remote: bool = True
    decline: DeclineReason | None = None
    approve_only: Money | None = None
    timeouts: int = 0
    sales: bool = True
    calls: list[tuple[str, str]] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    timed_out: dict[str, int] = field(default_factory=dict)
    auths: dict[str, Auth] = field(default_factory=dict)

    async def _once(self, op: str, key: str, act: Callable[[], Any]) -> Any:
        self.calls.append((op, key))
        if key not in self.answers:
            self.answers[key] = act()
        if self.timed_out.get(key, 0) < self.timeouts:
            self.timed_out[key] = self.timed_out.get(key, 0) + 1
            raise ProviderTimeout(f"{op} {key}")
        return self.answers[key]

    async def authorize(
        self, request: AuthorizationRequest, *, idempotency_key: str
    ) -> AuthorizationResult:
        def act() -> AuthorizationResult:
            if self.decline:
                zero = Money.zero(request.amount.currency)
                return AuthorizationResult(False, zero, decline_reason=self.decline, message="no")
            amount = self.approve_only or request.amount
            ref = f"REF-{request.payment_id}"
            captured = request.capture and self.sales
            self.auths[ref] = Auth(amount, amount.amount if captured else Decimal(0))
            return AuthorizationResult(True, amount, ref, captured=captured)

        result: AuthorizationResult = await self._once("authorize", idempotency_key, act)
        return result

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> OperationResult:
        def act() -> OperationResult:
            auth = self.auths[reference]
            if amount.amount > auth.amount.amount - auth.captured - auth.voided:
                raise ProviderRefused("capture exceeds authorization")
            auth.captured += amount.amount
            return OperationResult(f"CAP-{idempotency_key}", amount)

        result: OperationResult = await self._once("capture", idempotency_key, act)
        return result

    async def void(
        self, reference: str, *, idempotency_key: str, amount: Money | None = None
    ) -> OperationResult:
        def act() -> OperationResult:
            auth = self.auths[reference]
            left = auth.amount.amount - auth.captured - auth.voided
            released = left if amount is None else amount.amount
            if released > left:
                raise ProviderRefused("void exceeds authorization")
            auth.voided += released
            return OperationResult(f"VOID-{idempotency_key}", Money.of(released, "EUR"))

        result: OperationResult = await self._once("void", idempotency_key, act)
        return result

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> OperationResult:
        def act() -> OperationResult:
            auth = self.auths[reference]
            if amount.amount > auth.captured - auth.refunded:
                raise ProviderRefused("refund exceeds capture")
            auth.refunded += amount.amount
            return OperationResult(f"RFD-{idempotency_key}", amount)

        result: OperationResult = await self._once("refund", idempotency_key, act)
        return result

    def ops(self, op: str) -> list[str]:
        return [key for o, key in self.calls if o == op]


@dataclass
class FakeClock:
    """Time that moves only when a test (or the pump, between retries) moves it."""

    now: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


RECONCILE_AFTER = timedelta(minutes=15)


class Payments:
    """The payments service in memory: the real routing table, handlers and worker, a fake
    provider, the in-memory call log and a fake clock."""

    def __init__(self) -> None:
        self.store = InMemoryEventStore(TEST_CHAIN_KEY)
        self.provider = FakeProvider()
        self.calls = MemoryProviderCalls()
        self.clock = FakeClock()
        directory = ProviderDirectory(
            {m: self.provider for m in PaymentMethod if m is not PaymentMethod.GIFT_CARD}
        )
        self.worker = ProviderWorker(
            directory, self.calls, reconcile_after=RECONCILE_AFTER, clock=self.clock
        )
        self.routes = routes(self.worker)
        self.pumped: Position = START

    async def deliver(self, event: Event, order_id: str = ORDER_ID) -> None:
        """Hand ``event`` to its handler in a unit of work, as its consumer would."""
        env = envelope_for(
            event,
            stream_id=f"test-{uuid.uuid4().hex[:6]}",
            stream_version=1,
            correlation_id=order_id,
            causation_id=None,
            actor="test",
            producer="test",
        )
        await self.handle(env, event)

    async def handle(self, env: Envelope, event: Event) -> None:
        async with self.store.unit_of_work() as uow:
            await self.routes[type(event)].handle(uow, env, event)

    async def pump(self, *, waits: int = 10, wait_s: float = 5.0) -> None:
        """Run the provider worker over every new request, as the consumer would: a
        request that raises ``Unavailable`` is repeated in place (``waits`` times at most,
        ``wait_s`` apart on the fake clock) before the next one is taken."""
        while batch := await self.store.read_all(self.pumped):
            for rec in batch:
                if rec.envelope.type.endswith("Requested"):
                    await self._handle_waiting(rec.envelope, waits, wait_s)
                self.pumped = rec.commit_position

    async def _handle_waiting(self, env: Envelope, waits: int, wait_s: float) -> None:
        event = registry.parse(env)
        for wait in range(waits + 1):
            try:
                await self.handle(env, event)
                return
            except Unavailable:
                if wait == waits:
                    raise
                self.clock.advance(wait_s)

    async def run(self, *events: Event) -> None:
        for event in events:
            await self.deliver(event)
            await self.pump()

    async def stream(self, stream_id: str) -> list[Event]:
        return [registry.parse(r.envelope) for r in await self.store.read_stream(stream_id)]

    async def types(self, stream_id: str) -> list[str]:
        return [type(e).__name__ for e in await self.stream(stream_id)]
