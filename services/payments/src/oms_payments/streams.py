"""The payments service's streams, and a session that loads them and appends to them.

* ``payment-<payment id>``: one payment (requested, authorized, captured, voided, refunded);
* ``payments-order-<order id>``: the order's billing (lines, payments, shipments billed,
  units waived after a short pick, shipments reversed, cancellation);
* ``giftcard-<token>``: a gift card's balance (the token is the keyed hash of its code,
  :mod:`oms_payments.gift_card_tokens`; a code is never part of a stream id).

A :class:`Session` is the load -> decide -> append cycle of one unit of work, run by the
platform's :class:`~oms_platform.session.StreamSession`: it loads each stream once, keeps
its version, evolves the loaded state as decided events are recorded (so a later decision
in the same unit of work sees them), and appends all of them in one atomic append, each
stream checked against the version it was loaded at.
"""

from __future__ import annotations

from collections.abc import Iterable

from oms_events.base import Event
from oms_events.contracts import (
    GiftCardCredited,
    GiftCardDebited,
    GiftCardIssued,
    OrderBillingCancelled,
    OrderBillingOpened,
    ShipmentBilled,
)
from oms_events.contracts.payments import ShipmentBillingReversed, UnitsWaived
from oms_events.envelope import Envelope
from oms_payments.domain import giftcard, payment
from oms_payments.domain.billing_state import Billing, OrderBilling, evolve_billing
from oms_payments.domain.giftcard import GiftCard
from oms_payments.domain.payment import PaymentState
from oms_platform.eventstore import UnitOfWork
from oms_platform.session import StreamSession

PRODUCER = "payments"
ACTOR = "service:payments"


def payment_stream(payment_id: str) -> str:
    return f"payment-{payment_id}"


def billing_stream(order_id: str) -> str:
    return f"payments-order-{order_id}"


def gift_card_stream(card: str) -> str:
    """The stream of the card whose token is ``card``."""
    return f"giftcard-{card}"


def stream_for(event: Event) -> str:
    """The stream an event of this service belongs to."""
    match event:
        case (
            OrderBillingOpened()
            | OrderBillingCancelled()
            | ShipmentBilled()
            | UnitsWaived()
            | ShipmentBillingReversed()
        ):
            return billing_stream(event.order_id)
        case GiftCardIssued() | GiftCardDebited() | GiftCardCredited():
            if event.card is None:
                raise TypeError(f"{type(event).__name__} names no card token")
            return gift_card_stream(event.card)
    payment_id = getattr(event, "payment_id", None)
    if not isinstance(payment_id, str):
        raise TypeError(f"{type(event).__name__} belongs to no payments stream")
    return payment_stream(payment_id)


class Session:
    """Streams read in one unit of work and the events decided on them.

    The payments face of :class:`~oms_platform.session.StreamSession`: loaders that know
    each stream's initial state and fold, and :meth:`record` that routes each event to
    its stream with :func:`stream_for`.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        correlation_id: str,
        causation_id: str | None,
        actor: str = ACTOR,
    ) -> None:
        self._streams = StreamSession(
            uow,
            producer=PRODUCER,
            correlation_id=correlation_id,
            causation_id=causation_id,
            actor=actor,
        )

    @property
    def correlation_id(self) -> str:
        return self._streams.correlation_id

    @correlation_id.setter
    def correlation_id(self, value: str) -> None:
        # A refund asked for over HTTP learns its order (the correlation) only once the
        # payment is loaded; envelopes recorded from then on carry it.
        self._streams.correlation_id = value

    # Each loader starts from its decider's empty state named after the stream, so that
    # a refusal about a stream with no events can still say which one it means.

    async def payment(self, payment_id: str) -> PaymentState:
        initial = PaymentState(payment_id=payment_id)
        return await self._streams.load(payment_stream(payment_id), initial, payment.evolve)

    async def billing(self, order_id: str) -> Billing:
        initial = Billing(order_id=order_id)
        return await self._streams.load(billing_stream(order_id), initial, evolve_billing)

    async def gift_card(self, card: str) -> GiftCard:
        initial = GiftCard(card=card)
        return await self._streams.load(gift_card_stream(card), initial, giftcard.evolve)

    async def order_billing(self, order_id: str, extra: Iterable[str] = ()) -> OrderBilling:
        """The billing decider's state: the order's billing and every payment of it (and
        of the ``extra`` payment ids, e.g. those an ``OrderPlaced`` names)."""
        order = await self.billing(order_id)
        ids = dict.fromkeys([*order.payment_ids, *extra])
        return OrderBilling(order, {pid: await self.payment(pid) for pid in ids})

    def record(self, events: Iterable[Event]) -> None:
        """Stage decided events; the state of their (loaded) streams moves on at once."""
        for event in events:
            self._streams.record(stream_for(event), [event])

    async def flush(self) -> list[Envelope]:
        """Append everything staged in one atomic append (a no-op when nothing was)."""
        return await self._streams.flush()
