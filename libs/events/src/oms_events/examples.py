"""One realistic, valid example instance of every registered contract.

For tests anywhere in the OMS: ``example(OrderPlaced)`` gives an :class:`OrderPlaced` that
validates and round-trips. All examples describe one consistent story: order
``ord-1001`` (platform ref ``WEB-55012``) paid with a gift card plus iDEAL, shipped from
Amsterdam, partly returned. Values are fixed, so examples are equal across calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar, cast

from oms_events.base import Event
from oms_events.contracts import (
    Address,
    Allocation,
    AllocationStrategy,
    BilledPayment,
    CancellationReason,
    CancelledBy,
    Customer,
    DeclineReason,
    FulfilmentRequested,
    GiftCardCredited,
    GiftCardDebited,
    GiftCardIssued,
    IntakeKeyKind,
    ItemCondition,
    OrderBillingCancelled,
    OrderBillingOpened,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderIntakeKeyClaimed,
    OrderLine,
    OrderPacked,
    OrderPaymentRecorded,
    OrderPaymentStatus,
    OrderPicked,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    OrderStockRecorded,
    OrderStockStatus,
    OrderSubmitted,
    OrderSubmittedV1,
    Payment,
    PaymentAuthorizationRequested,
    PaymentAuthorized,
    PaymentCancellationRequested,
    PaymentCancelled,
    PaymentCaptured,
    PaymentCaptureRequested,
    PaymentDeclined,
    PaymentMethod,
    PaymentRefundRequested,
    PaymentVoided,
    RefundIssued,
    RejectionCode,
    RejectionReason,
    ReturnAuthorized,
    ReturnedLine,
    ReturnReason,
    ReturnReceived,
    ReturnRequested,
    ReturnRequestLine,
    ShipmentBilled,
    ShipmentDelivered,
    ShipmentDispatched,
    Shortage,
    SkuQuantity,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    StockShipped,
    StockWrittenOff,
)
from oms_events.contracts.fulfilment import (
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
    FulfilmentCancelled,
    PackedParcel,
    ParcelsPacked,
    ShortPicked,
)
from oms_events.contracts.inventory import (
    LineDecision,
    LowStockDetected,
    LowStockThresholdSet,
    PromotionPlanned,
    SkuRegistered,
    StockAdjusted,
    StockAllocated,
    StockDeallocated,
    StockIssued,
    StockLost,
    StockReceived,
    StockReservationCancelled,
    StockTransferred,
    StockWrittenDown,
    WarehouseRegistered,
)
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancellationRefused,
    OrderCancellationRequested,
    OrderReturnRecorded,
    OrderShipmentFailed,
    OrderShortShipped,
    ShipmentFailure,
    ShortShipRemedy,
)
from oms_events.contracts.payments import (
    PaymentReleaseRequested,
    ShipmentBillingReversed,
    UnitsWaived,
)
from oms_events.contracts.returns import (
    MethodRefund,
    OrderReturnStatus,
    RefundLine,
    ReturnExpired,
    ReturnResolved,
)
from oms_events.contracts.shipping import (
    PassedOverCandidate,
    PassedOverReason,
    ReturnLabelBooked,
    ShipmentBooked,
    ShipmentDeliveryFailed,
    ShipmentInTransit,
    ShipmentLost,
    ShipmentReturnedToSender,
    ShippingMethod,
)
from oms_events.errors import RegistryError
from oms_events.money import Money
from oms_events.registry import Registry, registry

E = TypeVar("E", bound=Event)

ORDER_ID = "ord-1001"
PLATFORM_ORDER_REF = "WEB-55012"
SALES_CHANNEL = "webshop-nl"
WAREHOUSE_ID = "wh-ams-1"
PLACED_AT = datetime(2026, 3, 2, 9, 15, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    """``Money`` in euros, for brevity in examples and tests."""
    return Money.of(amount, "EUR")


CUSTOMER = Customer(customer_id="cus-778", email="noor.jansen@example.com")
ADDRESS = Address(
    recipient="Noor Jansen",
    line1="Prinsengracht 263",
    postal_code="1016 GV",
    city="Amsterdam",
    country="NL",
    phone="+31 20 555 0101",
)
LINES = (
    OrderLine(line_id="1", sku="TSHIRT-BLU-M", quantity=2, unit_price=eur("19.95")),
    OrderLine(line_id="2", sku="MUG-ENAMEL-WHT", quantity=1, unit_price=eur("12.50")),
)
SHIPPING_CHARGE = eur("4.95")
# 2 x 19.95 + 12.50 + 4.95 = 57.35: 20.00 on a gift card, the rest by iDEAL.
GIFT_CARD_TOKEN = "gc_k3v7q2m5xza4d6fqh2j4l6nyp2"
"""The card's token (the keyed hash of its code); the code itself is in no event."""
GIFT_CARD = Payment(
    payment_id="pay-1",
    method=PaymentMethod.GIFT_CARD,
    amount=eur("20.00"),
    gift_card=GIFT_CARD_TOKEN,
)
IDEAL = Payment(payment_id="pay-2", method=PaymentMethod.IDEAL, amount=eur("37.35"))
ALLOCATIONS = (
    Allocation(line_id="1", sku="TSHIRT-BLU-M", warehouse_id=WAREHOUSE_ID, quantity=2),
    Allocation(line_id="2", sku="MUG-ENAMEL-WHT", warehouse_id=WAREHOUSE_ID, quantity=1),
)
SHIPPED = (
    SkuQuantity(sku="TSHIRT-BLU-M", quantity=2),
    SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1),
)
_submitted = {
    "platform_order_ref": PLATFORM_ORDER_REF,
    "sales_channel": SALES_CHANNEL,
    "lines": LINES,
    "shipping_address": ADDRESS,
    "shipping_charge": SHIPPING_CHARGE,
    "payments": (GIFT_CARD, IDEAL),
    "placed_at": PLACED_AT,
}
_payment = {"order_id": ORDER_ID, "payment_id": "pay-2", "method": "ideal", "amount": eur("37.35")}
_fulfilment = {
    "fulfilment_id": "ful-1",
    "order_id": ORDER_ID,
    "warehouse_id": WAREHOUSE_ID,
    "lines": SHIPPED,
}
_fulfilment_ids = {"fulfilment_id": "ful-1", "order_id": ORDER_ID, "warehouse_id": WAREHOUSE_ID}
_returned = {"return_id": "ret-1", "order_id": ORDER_ID}
_scanned = {
    "shipment_id": "shp-1",
    "order_id": ORDER_ID,
    "carrier": "postnl",
    "tracking_number": "3SABCD0123456789",
}
_scan_at = datetime(2026, 3, 3, 8, 40, 0, tzinfo=UTC)

_BUILDERS: dict[type[Event], Callable[[], Event]] = {
    OrderSubmittedV1: lambda: OrderSubmittedV1(
        **_submitted, customer_id=CUSTOMER.customer_id, customer_email=CUSTOMER.email
    ),
    OrderSubmitted: lambda: OrderSubmitted(**_submitted, customer=CUSTOMER),
    OrderPlaced: lambda: OrderPlaced(**_submitted, order_id=ORDER_ID, customer=CUSTOMER),
    OrderRejected: lambda: OrderRejected(
        platform_order_ref="WEB-55013",
        sales_channel=SALES_CHANNEL,
        reasons=[
            RejectionReason(
                code=RejectionCode.UNKNOWN_SKU, detail="line 3: SKU 'POSTER-A2' is not sold"
            )
        ],
    ),
    OrderConfirmed: lambda: OrderConfirmed(
        order_id=ORDER_ID, allocations=ALLOCATIONS, shipping_address=ADDRESS
    ),
    OrderCancelled: lambda: OrderCancelled(
        order_id=ORDER_ID,
        reason=CancellationReason.PAYMENT_DECLINED,
        cancelled_by=CancelledBy.SYSTEM,
        detail="iDEAL payment pay-2 was declined",
    ),
    OrderIntakeKeyClaimed: lambda: OrderIntakeKeyClaimed(
        order_id=ORDER_ID,
        key_kind=IntakeKeyKind.PLATFORM_ORDER_REF,
        platform_order_ref=PLATFORM_ORDER_REF,
        sales_channel=SALES_CHANNEL,
        request_fingerprint="9f2c" * 16,
    ),
    OrderStockRecorded: lambda: OrderStockRecorded(
        order_id=ORDER_ID,
        status=OrderStockStatus.RESERVED,
        reservation_id="res-1",
        allocations=ALLOCATIONS,
    ),
    OrderPaymentRecorded: lambda: OrderPaymentRecorded(
        **_payment, status=OrderPaymentStatus.AUTHORIZED, provider_reference="PSP-8815403021"
    ),
    OrderShipped: lambda: OrderShipped(
        order_id=ORDER_ID,
        shipment_id="shp-1",
        warehouse_id=WAREHOUSE_ID,
        carrier="postnl",
        tracking_number="3SABCD0123456789",
        lines=SHIPPED,
    ),
    OrderCancellationRequested: lambda: OrderCancellationRequested(
        order_id=ORDER_ID,
        reason=CancellationReason.CUSTOMER_REQUEST,
        cancelled_by=CancelledBy.STAFF,
        detail="customer called: ordered the wrong size",
    ),
    OrderCancellationRefused: lambda: OrderCancellationRefused(
        order_id=ORDER_ID,
        reason="fulfilment ful-1 at wh-ams-1 is already packed; return the order instead",
    ),
    OrderShortShipped: lambda: OrderShortShipped(
        order_id=ORDER_ID,
        fulfilment_id="ful-1",
        warehouse_id=WAREHOUSE_ID,
        missing=(SkuQuantity(sku="TSHIRT-BLU-M", quantity=1),),
        remedy=ShortShipRemedy.REFUND,
    ),
    OrderShipmentFailed: lambda: OrderShipmentFailed(
        order_id=ORDER_ID,
        shipment_id="shp-1",
        failure=ShipmentFailure.LOST,
        detail="carrier reported the parcel lost in the sorting centre",
    ),
    OrderReturnRecorded: lambda: OrderReturnRecorded(
        order_id=ORDER_ID,
        return_id="RMA-7K3F-9QX2",
        lines=(SkuQuantity(sku="TSHIRT-BLU-M", quantity=1),),
        refund_amount=eur("24.90"),
        status=OrderReturnStatus.PARTIALLY_RETURNED,
    ),
    FeedbackReceived: lambda: FeedbackReceived(
        order_id=ORDER_ID, rating=4, comment="arrived a day late, but well packed"
    ),
    FulfilmentCancellationAccepted: lambda: FulfilmentCancellationAccepted(
        order_id=ORDER_ID, fulfilment_ids=("ful-1",)
    ),
    FulfilmentCancellationRefused: lambda: FulfilmentCancellationRefused(
        order_id=ORDER_ID,
        reason="fulfilment ful-1 at wh-ams-1 is already packed; return the order instead",
        packed=("ful-1",),
    ),
    OrderDelivered: lambda: OrderDelivered(
        order_id=ORDER_ID,
        shipment_id="shp-1",
        carrier="postnl",
        tracking_number="3SABCD0123456789",
        delivered_at=datetime(2026, 3, 3, 14, 2, 0, tzinfo=UTC),
    ),
    StockReserved: lambda: StockReserved(
        order_id=ORDER_ID,
        reservation_id="res-1",
        allocations=ALLOCATIONS,
        strategy=AllocationStrategy.SINGLE_WAREHOUSE,
        reasoning="wh-ams-1 holds every line and is 12 km from the delivery address",
        decisions=(
            LineDecision(line_id="1", sku="TSHIRT-BLU-M", reason="wh-ams-1 is in NL"),
            LineDecision(line_id="2", sku="MUG-ENAMEL-WHT", reason="wh-ams-1 is in NL"),
        ),
    ),
    StockReservationFailed: lambda: StockReservationFailed(
        order_id=ORDER_ID,
        shortages=[Shortage(sku="MUG-ENAMEL-WHT", requested=1, available=0)],
        reason="MUG-ENAMEL-WHT: 1 requested, 0 available in active warehouses",
    ),
    StockReleased: lambda: StockReleased(
        order_id=ORDER_ID, reservation_id="res-1", allocations=ALLOCATIONS
    ),
    StockShipped: lambda: StockShipped(
        order_id=ORDER_ID, shipment_id="shp-1", warehouse_id=WAREHOUSE_ID, lines=SHIPPED
    ),
    StockRestocked: lambda: StockRestocked(
        **_returned,
        warehouse_id=WAREHOUSE_ID,
        lines=[SkuQuantity(sku="TSHIRT-BLU-M", quantity=1)],
    ),
    StockWrittenOff: lambda: StockWrittenOff(
        **_returned,
        warehouse_id=WAREHOUSE_ID,
        lines=[ReturnedLine(sku="MUG-ENAMEL-WHT", quantity=1, condition=ItemCondition.DAMAGED)],
    ),
    WarehouseRegistered: lambda: WarehouseRegistered(
        warehouse_id=WAREHOUSE_ID, name="Amsterdam DC", country="NL", priority=1, active=True
    ),
    SkuRegistered: lambda: SkuRegistered(
        sku="TSHIRT-BLU-M",
        name="T-shirt blue M",
        weight_grams=180,
        length_mm=300,
        width_mm=250,
        height_mm=20,
    ),
    StockReceived: lambda: StockReceived(
        sku="TSHIRT-BLU-M", warehouse_id=WAREHOUSE_ID, quantity=40, reference="PO-2026-0042"
    ),
    StockAdjusted: lambda: StockAdjusted(
        sku="TSHIRT-BLU-M",
        warehouse_id=WAREHOUSE_ID,
        delta=-2,
        counted_quantity=38,
        reason="cycle count: two found damaged",
    ),
    StockTransferred: lambda: StockTransferred(
        sku="TSHIRT-BLU-M", from_warehouse_id=WAREHOUSE_ID, to_warehouse_id="wh-ber-1", quantity=10
    ),
    LowStockThresholdSet: lambda: LowStockThresholdSet(
        sku="TSHIRT-BLU-M", warehouse_id=WAREHOUSE_ID, threshold=5
    ),
    LowStockDetected: lambda: LowStockDetected(
        sku="TSHIRT-BLU-M", warehouse_id=WAREHOUSE_ID, available=4, threshold=5
    ),
    StockAllocated: lambda: StockAllocated(
        order_id=ORDER_ID, reservation_id="res-1", sku="TSHIRT-BLU-M", allocations=ALLOCATIONS[:1]
    ),
    StockDeallocated: lambda: StockDeallocated(
        order_id=ORDER_ID, reservation_id="res-1", sku="TSHIRT-BLU-M", allocations=ALLOCATIONS[:1]
    ),
    StockIssued: lambda: StockIssued(
        order_id=ORDER_ID,
        shipment_id="shp-1",
        sku="TSHIRT-BLU-M",
        warehouse_id=WAREHOUSE_ID,
        quantity=2,
    ),
    StockLost: lambda: StockLost(
        order_id=ORDER_ID,
        fulfilment_id="ful-1",
        warehouse_id=WAREHOUSE_ID,
        lines=(SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1),),
        unreserved=(SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1),),
    ),
    StockWrittenDown: lambda: StockWrittenDown(
        order_id=ORDER_ID,
        fulfilment_id="ful-1",
        sku="MUG-ENAMEL-WHT",
        warehouse_id=WAREHOUSE_ID,
        quantity=1,
        reserved=1,
        reason="short pick: not found at wh-ams-1",
    ),
    StockReservationCancelled: lambda: StockReservationCancelled(
        order_id=ORDER_ID, reason="order cancelled (payment_declined) before stock was reserved"
    ),
    PromotionPlanned: lambda: PromotionPlanned(
        promotion_id="promo-1",
        name="Spring sale",
        skus=("TSHIRT-BLU-M",),
        starts_at=datetime(2026, 4, 1, 0, 0, 0, tzinfo=UTC),
        ends_at=datetime(2026, 4, 8, 0, 0, 0, tzinfo=UTC),
        expected_uplift=Decimal("2.5"),
    ),
    PaymentAuthorized: lambda: PaymentAuthorized(
        **_payment, provider="adyen", provider_reference="PSP-8815403021"
    ),
    PaymentDeclined: lambda: PaymentDeclined(
        **_payment, reason=DeclineReason.AUTHENTICATION_FAILED, provider_message="cancelled"
    ),
    PaymentVoided: lambda: PaymentVoided(**_payment, provider_reference="PSP-8815403021"),
    PaymentCaptured: lambda: PaymentCaptured(
        **_payment, shipment_id="shp-1", provider_reference="PSP-8815403021"
    ),
    RefundIssued: lambda: RefundIssued(
        **{**_payment, "amount": eur("32.45")},
        refund_id="rfd-1",
        return_id="ret-1",
        provider_reference="PSP-8815409977",
    ),
    PaymentCancelled: lambda: PaymentCancelled(
        **_payment, reason="order cancelled (customer_request) before authorisation"
    ),
    PaymentAuthorizationRequested: lambda: PaymentAuthorizationRequested(
        **{**_payment, "payment_id": "pay-1", "method": "gift_card", "amount": eur("20.00")},
        customer_email=CUSTOMER.email,
        gift_card=GIFT_CARD_TOKEN,
    ),
    PaymentCaptureRequested: lambda: PaymentCaptureRequested(
        **{**_payment, "payment_id": "pay-1", "method": "gift_card", "amount": eur("20.00")},
        shipment_id="shp-1",
    ),
    PaymentCancellationRequested: lambda: PaymentCancellationRequested(
        **_payment, reason="order cancelled: customer_request"
    ),
    PaymentRefundRequested: lambda: PaymentRefundRequested(
        **{**_payment, "amount": eur("32.45")},
        refund_id="rfd-1",
        reason="return ret-1 received",
        return_id="ret-1",
    ),
    OrderBillingOpened: lambda: OrderBillingOpened(
        order_id=ORDER_ID,
        customer_email=CUSTOMER.email,
        lines=LINES,
        shipping_charge=SHIPPING_CHARGE,
        payments=(GIFT_CARD, IDEAL),
    ),
    OrderBillingCancelled: lambda: OrderBillingCancelled(
        order_id=ORDER_ID, reason="customer_request"
    ),
    ShipmentBilled: lambda: ShipmentBilled(
        order_id=ORDER_ID,
        shipment_id="shp-1",
        lines=SHIPPED,
        amount=eur("57.35"),
        shipping_charge=SHIPPING_CHARGE,
        payments=(
            BilledPayment(payment_id="pay-2", method=PaymentMethod.IDEAL, amount=eur("37.35")),
            BilledPayment(payment_id="pay-1", method=PaymentMethod.GIFT_CARD, amount=eur("20.00")),
        ),
    ),
    PaymentReleaseRequested: lambda: PaymentReleaseRequested(
        **{**_payment, "payment_id": "pay-3", "method": "card", "amount": eur("12.50")},
        release_id="short",
        reason="short-picked units not shipped",
    ),
    UnitsWaived: lambda: UnitsWaived(
        order_id=ORDER_ID,
        fulfilment_id="ful-1",
        lines=(SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1),),
        amount=eur("12.50"),
    ),
    ShipmentBillingReversed: lambda: ShipmentBillingReversed(
        order_id=ORDER_ID, shipment_id="shp-1", failure=ShipmentFailure.LOST
    ),
    GiftCardIssued: lambda: GiftCardIssued(card=GIFT_CARD_TOKEN, balance=eur("50.00")),
    GiftCardDebited: lambda: GiftCardDebited(
        card=GIFT_CARD_TOKEN,
        amount=eur("20.00"),
        balance=eur("30.00"),
        order_id=ORDER_ID,
        payment_id="pay-1",
    ),
    GiftCardCredited: lambda: GiftCardCredited(
        card=GIFT_CARD_TOKEN,
        amount=eur("20.00"),
        balance=eur("50.00"),
        order_id=ORDER_ID,
        payment_id="pay-1",
        reason="order cancelled: authorisation voided",
    ),
    FulfilmentRequested: lambda: FulfilmentRequested(**_fulfilment, shipping_address=ADDRESS),
    OrderPicked: lambda: OrderPicked(**_fulfilment),
    OrderPacked: lambda: OrderPacked(**_fulfilment, weight_grams=780, shipping_address=ADDRESS),
    ShortPicked: lambda: ShortPicked(
        **_fulfilment_ids, missing=(SkuQuantity(sku="TSHIRT-BLU-M", quantity=1),)
    ),
    ParcelsPacked: lambda: ParcelsPacked(
        **_fulfilment_ids,
        parcels=(
            PackedParcel(
                parcel_id="ful-1-1",
                box="BOX-M",
                lines=SHIPPED,
                weight_grams=780,
                packaging_cost=eur("0.95"),
            ),
        ),
        packaging_cost=eur("0.95"),
    ),
    FulfilmentCancelled: lambda: FulfilmentCancelled(
        **_fulfilment_ids, reason="order cancelled by customer service", lines=SHIPPED
    ),
    ShipmentDispatched: lambda: ShipmentDispatched(
        shipment_id="shp-1",
        order_id=ORDER_ID,
        fulfilment_id="ful-1",
        warehouse_id=WAREHOUSE_ID,
        carrier="postnl",
        service="standard",
        tracking_number="3SABCD0123456789",
        weight_grams=780,
        shipping_cost=eur("3.85"),
        lines=SHIPPED,
    ),
    ShipmentDelivered: lambda: ShipmentDelivered(
        shipment_id="shp-1",
        order_id=ORDER_ID,
        carrier="postnl",
        tracking_number="3SABCD0123456789",
        delivered_at=datetime(2026, 3, 3, 14, 2, 0, tzinfo=UTC),
    ),
    ShipmentBooked: lambda: ShipmentBooked(
        shipment_id="shp-1",
        order_id=ORDER_ID,
        fulfilment_id="ful-1",
        warehouse_id=WAREHOUSE_ID,
        carrier="postnl",
        service="standard",
        tracking_number="3SABCD0123456789",
        weight_grams=780,
        destination_country="NL",
        shipping_cost=eur("3.85"),
        shipping_charged=eur("4.95"),
        promised_method=ShippingMethod.STANDARD,
        promised_delivery_date=date(2026, 3, 4),
        estimated_delivery_date=date(2026, 3, 3),
        collection_date=date(2026, 3, 2),
        passed_over=(
            PassedOverCandidate(
                carrier="dpd",
                service="standard",
                reason=PassedOverReason.MORE_EXPENSIVE,
                cost=eur("4.72"),
                estimated_delivery=date(2026, 3, 3),
                explanation="dpd/standard: 4.72 EUR against 3.85 EUR",
            ),
        ),
        explanation="postnl/standard: cheapest of 2 services that keep the standard promise",
    ),
    ShipmentInTransit: lambda: ShipmentInTransit(
        **_scanned, update_id="upd-1", reported_at=_scan_at, location="Nieuwegein hub"
    ),
    ShipmentDeliveryFailed: lambda: ShipmentDeliveryFailed(
        **_scanned, update_id="upd-2", reported_at=_scan_at, attempt=1, reason="nobody at home"
    ),
    ShipmentReturnedToSender: lambda: ShipmentReturnedToSender(
        **_scanned, update_id="upd-3", reported_at=_scan_at, reason="address unknown"
    ),
    ShipmentLost: lambda: ShipmentLost(**_scanned, update_id="upd-4", reported_at=_scan_at),
    ReturnLabelBooked: lambda: ReturnLabelBooked(
        return_id="RMA-7K3F-9QX2",
        order_id=ORDER_ID,
        warehouse_id=WAREHOUSE_ID,
        carrier="postnl",
        service="standard",
        tracking_number="3SOMSN000000123",
        from_country="BE",
        weight_grams=1000,
        label_cost=eur("6.95"),
        explanation="postnl standard is the cheapest of 3 services collecting in BE",
    ),
    ReturnRequested: lambda: ReturnRequested(
        **_returned,
        lines=[
            ReturnRequestLine(sku="TSHIRT-BLU-M", quantity=1, reason=ReturnReason.NO_LONGER_NEEDED),
            ReturnRequestLine(
                sku="MUG-ENAMEL-WHT",
                quantity=1,
                reason=ReturnReason.DAMAGED,
                comment="chipped on arrival",
            ),
        ],
    ),
    ReturnAuthorized: lambda: ReturnAuthorized(
        **_returned,
        warehouse_id=WAREHOUSE_ID,
        lines=[
            SkuQuantity(sku="TSHIRT-BLU-M", quantity=1),
            SkuQuantity(sku="MUG-ENAMEL-WHT", quantity=1),
        ],
        expires_at=datetime(2026, 4, 4, 9, 30, 0, tzinfo=UTC),
        label_cost=eur("3.10"),
    ),
    ReturnReceived: lambda: ReturnReceived(
        **_returned,
        warehouse_id=WAREHOUSE_ID,
        lines=[
            ReturnedLine(sku="TSHIRT-BLU-M", quantity=1, condition=ItemCondition.RESELLABLE),
            ReturnedLine(sku="MUG-ENAMEL-WHT", quantity=1, condition=ItemCondition.DAMAGED),
        ],
        refund_amount=eur("32.45"),
    ),
    # This shop refunds shipping only when the whole order comes back.
    ReturnResolved: lambda: ReturnResolved(
        **_returned,
        refund_lines=[
            RefundLine(
                sku="TSHIRT-BLU-M", quantity=1, unit_price=eur("19.95"), amount=eur("19.95")
            ),
            RefundLine(
                sku="MUG-ENAMEL-WHT", quantity=1, unit_price=eur("12.50"), amount=eur("12.50")
            ),
        ],
        shipping_refund=eur("0.00"),
        refund_amount=eur("32.45"),
        refunds=[MethodRefund(payment_id="pay-2", method=PaymentMethod.IDEAL, amount=eur("32.45"))],
        unallocated=eur("0.00"),
        order_status=OrderReturnStatus.PARTIALLY_RETURNED,
    ),
    ReturnExpired: lambda: ReturnExpired(
        return_id="ret-2",
        order_id=ORDER_ID,
        lines=[SkuQuantity(sku="TSHIRT-BLU-M", quantity=1)],
        expired_at=datetime(2026, 4, 4, 9, 30, 0, tzinfo=UTC),
    ),
}


def example(cls: type[E]) -> E:
    """A valid instance of contract ``cls`` (raises :class:`RegistryError` if there is none)."""
    try:
        builder = _BUILDERS[cls]
    except KeyError:
        raise RegistryError(f"no example for {cls.__qualname__}") from None
    return cast(E, builder())


def all_examples(of: Registry = registry) -> list[Event]:
    """One example per contract registered in ``of``, in registry order.

    Raises :class:`RegistryError` naming any registered contract without an example, so a
    new contract cannot silently escape the round-trip tests.
    """
    missing = [f"{c.event_type} v{c.event_version}" for c in of if c not in _BUILDERS]
    if missing:
        raise RegistryError(f"oms_events.examples has no example for: {', '.join(missing)}")
    return [_BUILDERS[c]() for c in of]
