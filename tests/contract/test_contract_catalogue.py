"""The catalogue of contracts is complete and consistent: topics, examples, upcasters."""

from __future__ import annotations

from oms_events import topics
from oms_events.examples import all_examples
from oms_events.registry import registry

EXPECTED_TYPES = {
    "OrderSubmitted",
    "OrderPlaced",
    "OrderRejected",
    "OrderConfirmed",
    "OrderCancelled",
    "OrderIntakeKeyClaimed",
    "OrderStockRecorded",
    "OrderPaymentRecorded",
    "OrderShipped",
    "OrderDelivered",
    "StockReserved",
    "StockReservationFailed",
    "StockReleased",
    "StockShipped",
    "StockRestocked",
    "StockWrittenOff",
    "WarehouseRegistered",
    "SkuRegistered",
    "StockReceived",
    "StockAdjusted",
    "StockTransferred",
    "LowStockThresholdSet",
    "LowStockDetected",
    "StockAllocated",
    "StockDeallocated",
    "StockIssued",
    "StockReservationCancelled",
    "StockLost",
    "StockWrittenDown",
    "PromotionPlanned",
    "PaymentAuthorized",
    "PaymentDeclined",
    "PaymentVoided",
    "PaymentCaptured",
    "RefundIssued",
    "PaymentCancelled",
    "PaymentAuthorizationRequested",
    "PaymentCaptureRequested",
    "PaymentCancellationRequested",
    "PaymentRefundRequested",
    "OrderBillingOpened",
    "OrderBillingCancelled",
    "ShipmentBilled",
    "PaymentReleaseRequested",
    "UnitsWaived",
    "ShipmentBillingReversed",
    "GiftCardIssued",
    "GiftCardDebited",
    "GiftCardCredited",
    "FulfilmentRequested",
    "OrderPicked",
    "OrderPacked",
    "ShortPicked",
    "ParcelsPacked",
    "FulfilmentCancelled",
    "FulfilmentCancellationAccepted",
    "FulfilmentCancellationRefused",
    "OrderCancellationRequested",
    "OrderCancellationRefused",
    "OrderShortShipped",
    "OrderShipmentFailed",
    "OrderReturnRecorded",
    "FeedbackReceived",
    "ShipmentDispatched",
    "ShipmentDelivered",
    "ShipmentBooked",
    "ShipmentInTransit",
    "ShipmentDeliveryFailed",
    "ShipmentReturnedToSender",
    "ShipmentLost",
    "ReturnLabelBooked",
    "ReturnRequested",
    "ReturnAuthorized",
    "ReturnReceived",
    "ReturnResolved",
    "ReturnExpired",
}


def test_the_expected_contracts_are_registered() -> None:
    assert set(registry.types()) == EXPECTED_TYPES
    assert registry.versions("OrderSubmitted") == [1, 2]


def test_every_registered_type_has_exactly_one_topic() -> None:
    assert set(topics.TOPIC_BY_EVENT_TYPE) == set(registry.types())


def test_every_old_version_can_be_upcast_to_the_latest() -> None:
    assert registry.missing_upcasters() == []


def test_every_contract_has_an_example() -> None:
    examples = all_examples()
    assert [type(e) for e in examples] == list(registry)
