"""Load the shipment -> decide -> record through one ``StreamSession`` -> one atomic append.

Every command runs inside the caller's unit of work (the consumer runtime's for a message,
``run_command``'s for a webhook). A booking draws its tracking sequence number, claims the
order's shipping charge for the order's first shipment and registers the tracking number
in the same transaction as its events, and puts the dispatched shipment on its carrier's
manifest; a carrier update moves the manifest entry on, and off at the end (see
``directory``). An authorised return gets its label booked (``domain.return_labels``),
drawing its tracking number from the same sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from oms_events.base import Event
from oms_events.contracts import OrderPlaced
from oms_events.contracts.fulfilment import ParcelsPacked
from oms_events.contracts.returns import ReturnAuthorized
from oms_events.contracts.shipping import ShipmentDispatched, ShippingMethod
from oms_events.envelope import Envelope
from oms_events.money import Money
from oms_events.topics import Service
from oms_platform.eventstore import UnitOfWork
from oms_platform.refusal import Refusal
from oms_platform.session import StreamSession
from oms_shipping.directory import Directory, ManifestEntry, OrderInfo, Tracked
from oms_shipping.domain import return_labels
from oms_shipping.domain.commands import BookShipment, RecordCarrierUpdate
from oms_shipping.domain.rates import Parcel, Promise
from oms_shipping.domain.return_labels import RETURN_LABEL
from oms_shipping.domain.shipment import SHIPMENT, Shipment, ShipmentStatus, stream_id
from oms_shipping.domain.webhooks import CarrierUpdate

PRODUCER = Service.SHIPPING.value
ACTOR = f"service:{PRODUCER}"


class OrderNotYetKnown(Exception):
    """A parcel of an order whose ``OrderPlaced`` shipping has not seen (yet).

    Not a refusal: the order event may still be on its way (another topic). The runtime
    retries it as a bug (``OMS_RETRY_MAX_ATTEMPTS`` with backoff), then dead-letters it,
    from where ``oms dlq replay`` books it once the order is known.
    """


@dataclass(frozen=True, slots=True)
class Cause:
    correlation_id: str
    causation_id: str | None = None
    actor: str = ACTOR


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Shipping:
    """The shipping service's command handlers."""

    def __init__(
        self,
        directory: Directory,
        warehouse_countries: Mapping[str, str],
        promised_method: ShippingMethod = ShippingMethod.STANDARD,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.directory = directory
        self.warehouse_countries = dict(warehouse_countries)
        self.promised_method = promised_method
        self.clock = clock

    async def remember_order(self, uow: UnitOfWork, event: OrderPlaced) -> None:
        """Keep what a later booking needs of the order: destination and shipping charge."""
        address = event.shipping_address
        info = OrderInfo(
            event.order_id, address.country, address.postal_code, event.shipping_charge
        )
        await self.directory.remember_order(uow, info)

    async def book_parcels(
        self, uow: UnitOfWork, env: Envelope, event: ParcelsPacked
    ) -> list[Event]:
        """Book each parcel of a packed fulfilment as its own shipment (id: the parcel's id).

        A parcel booked already decides nothing (a redelivery) and draws no number.
        """
        order = await self.directory.order(uow, event.order_id)
        if order is None:
            raise OrderNotYetKnown(f"no OrderPlaced seen for order {event.order_id!r}")
        origin = self.warehouse_countries.get(event.warehouse_id)
        if origin is None:
            raise Refusal.invalid(
                "unknown_warehouse",
                f"no country is configured for warehouse {event.warehouse_id!r} "
                "(OMS_SHIPPING_WAREHOUSE_COUNTRIES)",
                "warehouse_id",
            )
        now = self.clock()
        s = self._session(uow, Cause(env.correlation_id, str(env.event_id)), now)
        decided: list[Event] = []
        zero = Money.zero(order.shipping_charge.currency)
        for parcel in event.parcels:
            shipment_id = parcel.parcel_id
            own = stream_id(shipment_id)
            state = await s.load(own, SHIPMENT.initial_state(), SHIPMENT.evolve)
            new = state.status is ShipmentStatus.NONE
            charged = zero
            if new and await self.directory.claim_charge(uow, order.order_id, shipment_id):
                charged = order.shipping_charge
            cmd = BookShipment(
                shipment_id=shipment_id,
                order_id=event.order_id,
                fulfilment_id=event.fulfilment_id,
                warehouse_id=event.warehouse_id,
                parcel=Parcel(parcel.weight_grams, origin, order.country, order.postal_code),
                lines=parcel.lines,
                promise=Promise(self.promised_method),
                shipping_charged=charged,
                ready_at=env.occurred_at,
                tracking_sequence=await self.directory.next_sequence(uow) if new else 0,
            )
            events = SHIPMENT.decide(cmd, state)
            s.record(own, events)
            for e in events:
                if isinstance(e, ShipmentDispatched):
                    tracked = Tracked(shipment_id, e.order_id)
                    await self.directory.add_tracking(uow, e.carrier, e.tracking_number, tracked)
                    await self.directory.add_to_manifest(uow, _manifest_entry(e, now))
            decided.extend(events)
        await s.flush()
        return decided

    async def book_return_label(
        self, uow: UnitOfWork, env: Envelope, event: ReturnAuthorized
    ) -> list[Event]:
        """Book the label an authorised return travels back on (once per return)."""
        order = await self.directory.order(uow, event.order_id)
        if order is None:
            raise Refusal.not_found(
                "order_not_known",
                f"shipping has no OrderPlaced for order {event.order_id!r}; replay this "
                "message once it has",
                "order_id",
            )
        destination = self.warehouse_countries.get(event.warehouse_id)
        if destination is None:
            raise Refusal.invalid(
                "unknown_warehouse",
                f"no country is configured for warehouse {event.warehouse_id!r} "
                "(OMS_SHIPPING_WAREHOUSE_COUNTRIES)",
                "warehouse_id",
            )
        s = self._session(uow, Cause(env.correlation_id, str(env.event_id)), self.clock())
        own = return_labels.stream_id(event.return_id)
        state = await s.load(own, RETURN_LABEL.initial_state(), RETURN_LABEL.evolve)
        if state.booked is not None:
            return []
        cmd = return_labels.BookReturnLabel(
            return_id=event.return_id,
            order_id=event.order_id,
            warehouse_id=event.warehouse_id,
            from_country=order.country,
            warehouse_country=destination,
            units=sum(ln.quantity for ln in event.lines),
            ready_at=env.occurred_at,
            tracking_sequence=await self.directory.next_sequence(uow),
        )
        events = RETURN_LABEL.decide(cmd, state)
        s.record(own, events)
        await s.flush()
        return events

    async def record_update(
        self, uow: UnitOfWork, update: CarrierUpdate, cause: Cause
    ) -> tuple[str, Shipment, list[Event]]:
        """Record a verified carrier update on the shipment its tracking number names."""
        found = await self.directory.find(uow, update.carrier, update.tracking_number)
        if found is None:
            raise Refusal.not_found(
                "unknown_tracking_number",
                f"no {update.carrier} shipment has tracking number {update.tracking_number!r}",
                "tracking_number",
            )
        now = self.clock()
        s = self._session(uow, Cause(found.order_id, cause.causation_id, cause.actor), now)
        own = stream_id(found.shipment_id)
        state = await s.load(own, SHIPMENT.initial_state(), SHIPMENT.evolve)
        events = SHIPMENT.decide(RecordCarrierUpdate(found.shipment_id, update), state)
        s.record(own, events)
        await s.flush()
        after = await s.load(own, state, SHIPMENT.evolve)
        if events:
            status = after.status
            await self.directory.update_manifest(
                uow, found.shipment_id, status.value, now, open=not status.final
            )
        return found.shipment_id, after, events

    def _session(self, uow: UnitOfWork, cause: Cause, occurred_at: datetime) -> StreamSession:
        return StreamSession(
            uow,
            producer=PRODUCER,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
            actor=cause.actor,
            occurred_at=occurred_at,
        )


def _manifest_entry(event: ShipmentDispatched, at: datetime) -> ManifestEntry:
    return ManifestEntry(
        shipment_id=event.shipment_id,
        carrier=event.carrier,
        tracking_number=event.tracking_number,
        order_id=event.order_id,
        service=event.service,
        dispatched_at=at,
        status=ShipmentStatus.DISPATCHED.value,
        updated_at=at,
    )
