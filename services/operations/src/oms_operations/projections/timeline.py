"""``ops_timeline``: one row per event that concerns an order, from every topic consumed.

The customer-service console and ``oms audit`` show an order's whole life across the
services from it: type, time, actor, producer, correlation and cause, and a short line
naming the event's key facts (:func:`summary`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oms_events.base import Event
from oms_events.contracts import fulfilment as ful
from oms_events.contracts import inventory as inv
from oms_events.contracts import order as od
from oms_events.contracts import payments as pay
from oms_events.contracts import returns as ret
from oms_events.contracts import shipping as shp
from oms_events.envelope import Envelope
from oms_events.money import Money
from oms_events.registry import registry


def _order_events() -> tuple[type[Event], ...]:
    """The latest contract of every registered event type that names an order."""
    latest = (registry.latest(name) for name in registry.types())
    return tuple(sorted((c for c in latest if "order_id" in c.model_fields), key=_name))


def _name(cls: type[Event]) -> str:
    return cls.event_type


HANDLED: tuple[type[Event], ...] = _order_events()


@dataclass(frozen=True)
class TimelineRow:
    event_id: uuid.UUID
    order_id: str
    type: str
    occurred_at: datetime
    actor: str
    producer: str
    correlation_id: str
    causation_id: str | None
    summary: str


def keys(env: Envelope, _event: Event) -> Sequence[tuple[Any, ...]]:
    return [(env.event_id,)]


def apply(row: TimelineRow | None, env: Envelope, event: Event) -> TimelineRow:
    """The event's row; the same envelope always gives the same row."""
    return TimelineRow(
        event_id=env.event_id,
        order_id=str(getattr(event, "order_id")),  # noqa: B009 - every handled event has it
        type=env.type,
        occurred_at=env.occurred_at,
        actor=env.actor,
        producer=env.producer,
        correlation_id=env.correlation_id,
        causation_id=env.causation_id,
        summary=summary(event),
    )


def _money(m: Money) -> str:
    return f"{m.amount} {m.currency}"


def _units(lines: Iterable[Any]) -> str:
    """``2 x TEE, 1 x MUG`` for lines with ``sku`` and ``quantity``."""
    return ", ".join(f"{line.quantity} x {line.sku}" for line in lines) or "no units"


MAX_SUMMARY = 300


def summary(event: Event) -> str:
    """A short line with the event's key facts (at most ``MAX_SUMMARY`` characters)."""
    return _summary(event)[:MAX_SUMMARY]


def _summary(e: Event) -> str:
    match e:
        case od.OrderPlaced():
            total = sum((line.line_total for line in e.lines), e.shipping_charge)
            return (
                f"placed on {e.sales_channel} as {e.platform_order_ref}: "
                f"{_units(e.lines)}, {_money(total)}"
            )
        case od.OrderConfirmed():
            where = sorted({a.warehouse_id for a in e.allocations})
            return f"confirmed, allocated to {', '.join(where)}"
        case od.OrderCancelled():
            return f"cancelled by {e.cancelled_by.value}: {e.reason.value}"
        case od.OrderCancellationRequested():
            return f"cancellation requested by {e.cancelled_by.value}: {e.reason.value}"
        case od.OrderCancellationRefused():
            return f"cancellation refused: {e.reason}"
        case od.OrderShipped():
            return f"{e.carrier} parcel {e.tracking_number} shipped from {e.warehouse_id}"
        case od.OrderDelivered():
            return f"{e.carrier} parcel {e.tracking_number} delivered"
        case od.OrderShortShipped():
            missing = _units(e.missing)
            return f"short shipped from {e.warehouse_id}: {missing} missing, {e.remedy.value}"
        case od.OrderShipmentFailed():
            return f"parcel {e.shipment_id} failed: {e.failure.value}"
        case od.OrderReturnRecorded():
            status = f", order {e.status.value}" if e.status is not None else ""
            return f"return {e.return_id} recorded: {_money(e.refund_amount)}{status}"
        case od.OrderPaymentRecorded():
            return f"payment {e.payment_id} ({e.method.value}) {e.status.value}: {_money(e.amount)}"
        case od.OrderStockRecorded():
            return f"stock {e.status.value}"
        case od.FeedbackReceived():
            return f"rated {e.rating}/5"
        case od.OrderIntakeKeyClaimed():
            return f"intake of {e.platform_order_ref} on {e.sales_channel} ({e.key_kind.value})"
        case inv.StockReserved():
            return f"stock reserved: {_allocated(e.allocations)}"
        case inv.StockReservationFailed():
            short = ", ".join(f"{s.sku}" for s in e.shortages)
            return f"stock reservation failed: short of {short}"
        case inv.StockAllocated():
            return f"{_allocated(e.allocations)} reserved ({e.reservation_id})"
        case inv.StockDeallocated():
            return f"{_allocated(e.allocations)} released ({e.reservation_id})"
        case inv.StockIssued():
            return f"{e.quantity} x {e.sku} issued from {e.warehouse_id} for {e.shipment_id}"
        case inv.StockWrittenDown():
            return f"{e.quantity} x {e.sku} written down at {e.warehouse_id}: {e.reason}"
        case inv.StockReservationCancelled():
            return f"reservation cancelled: {e.reason}"
        case inv.StockReleased():
            return f"stock released: {_allocated(e.allocations)}"
        case inv.StockShipped():
            return f"stock shipped from {e.warehouse_id}: {_units(e.lines)}"
        case inv.StockLost():
            return f"stock lost at {e.warehouse_id}: {_units(e.lines)}"
        case inv.StockRestocked():
            return f"return {e.return_id} restocked at {e.warehouse_id}: {_units(e.lines)}"
        case inv.StockWrittenOff():
            return f"return {e.return_id} written off at {e.warehouse_id}: {_units(e.lines)}"
        case pay.PaymentAuthorizationRequested():
            return f"{e.method.value} {_money(e.amount)} to authorise on {e.payment_id}"
        case pay.PaymentAuthorized():
            return f"{_money(e.amount)} authorised by {e.provider} on {e.payment_id}"
        case pay.PaymentDeclined():
            return f"{_money(e.amount)} declined on {e.payment_id}: {e.reason.value}"
        case pay.PaymentCaptured():
            return f"{_money(e.amount)} captured on {e.payment_id}" + (
                f" for parcel {e.shipment_id}" if e.shipment_id else ""
            )
        case pay.PaymentVoided():
            return f"{_money(e.amount)} voided on {e.payment_id}"
        case pay.RefundIssued():
            return f"refund {_money(e.amount)} on {e.payment_id}"
        case pay.PaymentCancelled():
            return f"payment {e.payment_id} cancelled: {e.reason}"
        case pay.PaymentRefundRequested():
            return f"refund of {_money(e.amount)} requested on {e.payment_id}: {e.reason}"
        case pay.OrderBillingOpened():
            methods = ", ".join(p.method.value for p in e.payments)
            return f"billing opened: {_units(e.lines)}, paid by {methods}"
        case pay.OrderBillingCancelled():
            return f"billing cancelled: {e.reason}"
        case pay.PaymentCaptureRequested():
            return f"capture of {_money(e.amount)} on {e.payment_id} for parcel {e.shipment_id}"
        case pay.PaymentReleaseRequested():
            return f"release of {_money(e.amount)} on {e.payment_id}: {e.reason}"
        case pay.PaymentCancellationRequested():
            return f"payment {e.payment_id} to cancel: {e.reason}"
        case pay.UnitsWaived():
            return f"{_units(e.lines)} waived: {_money(e.amount)}"
        case pay.ShipmentBillingReversed():
            return f"billing of parcel {e.shipment_id} reversed: {e.failure.value}"
        case pay.GiftCardDebited():
            return f"gift card debited {_money(e.amount)} for {e.payment_id}"
        case pay.GiftCardCredited():
            return f"gift card credited {_money(e.amount)} on {e.payment_id}: {e.reason}"
        case pay.ShipmentBilled():
            return f"parcel {e.shipment_id} billed: {_money(e.amount)}"
        case ful.FulfilmentRequested():
            return f"fulfilment {e.fulfilment_id} at {e.warehouse_id}: {_units(e.lines)}"
        case ful.OrderPicked():
            return f"picked at {e.warehouse_id}: {_units(e.lines)}"
        case ful.ShortPicked():
            return f"short pick at {e.warehouse_id}: {_units(e.missing)} missing"
        case ful.OrderPacked():
            return f"packed at {e.warehouse_id}: {_units(e.lines)}, {e.weight_grams} g"
        case ful.ParcelsPacked():
            return f"{len(e.parcels)} parcel(s) packed at {e.warehouse_id}"
        case ful.FulfilmentCancellationAccepted():
            return f"cancellation accepted: {len(e.fulfilment_ids)} fulfilment(s) cancelled"
        case ful.FulfilmentCancellationRefused():
            return f"cancellation refused: {e.reason}"
        case ful.FulfilmentCancelled():
            return f"fulfilment {e.fulfilment_id} at {e.warehouse_id} cancelled: {e.reason}"
        case shp.ShipmentBooked():
            return (
                f"{e.carrier} {e.service} parcel {e.tracking_number} booked from {e.warehouse_id}"
                f" to {e.destination_country}, {_money(e.shipping_cost)}"
            )
        case shp.ShipmentDispatched():
            return f"{e.carrier} parcel {e.tracking_number} dispatched from {e.warehouse_id}"
        case shp.ShipmentInTransit():
            seen = f" at {e.location}" if e.location else ""
            return f"{e.carrier} parcel {e.tracking_number} in transit{seen}"
        case shp.ShipmentDelivered():
            return f"{e.carrier} parcel {e.tracking_number} delivered"
        case shp.ShipmentDeliveryFailed():
            return f"{e.carrier} parcel {e.tracking_number} delivery attempt {e.attempt} failed"
        case shp.ShipmentLost():
            return f"{e.carrier} parcel {e.tracking_number} lost"
        case shp.ShipmentReturnedToSender():
            return f"{e.carrier} parcel {e.tracking_number} returned to sender"
        case shp.ReturnLabelBooked():
            return f"{e.carrier} return label {e.tracking_number} for {e.return_id}"
        case ret.ReturnRequested():
            return f"return {e.return_id} requested: {_units(e.lines)}"
        case ret.ReturnAuthorized():
            return f"return {e.return_id} authorised to {e.warehouse_id}: {_units(e.lines)}"
        case ret.ReturnReceived():
            return f"return {e.return_id} received at {e.warehouse_id}: {_units(e.lines)}"
        case ret.ReturnResolved():
            return f"return {e.return_id} resolved: refund {_money(e.refund_amount)}"
        case ret.ReturnExpired():
            return f"return {e.return_id} expired"
    return _generic(e)


def _allocated(allocations: Iterable[Any]) -> str:
    return ", ".join(f"{a.quantity} x {a.sku} at {a.warehouse_id}" for a in allocations)


def _generic(e: Event) -> str:
    """The type and the ids it carries, for a contract without its own line (one added
    later); never a code or an address, only ``*_id`` fields."""
    ids = [
        f"{name.removesuffix('_id')} {value}"
        for name, value in e
        if name.endswith("_id") and name != "order_id" and isinstance(value, str)
    ]
    return " ".join([e.event_type, *ids])
