"""Event contracts, one module per producing service.

Importing this package registers every contract in :data:`oms_events.registry.registry`.
"""

from oms_events.contracts import (
    fulfilment,
    ingress,
    inventory,
    order,
    payments,
    returns,
    shipping,
)
from oms_events.contracts.common import (
    Address,
    Allocation,
    Customer,
    ItemCondition,
    OrderLine,
    Payment,
    PaymentMethod,
    ReturnedLine,
    SkuQuantity,
)
from oms_events.contracts.fulfilment import FulfilmentRequested, OrderPacked, OrderPicked
from oms_events.contracts.ingress import OrderSubmitted, OrderSubmittedV1
from oms_events.contracts.inventory import (
    AllocationStrategy,
    Shortage,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    StockShipped,
    StockWrittenOff,
)
from oms_events.contracts.order import (
    CancellationReason,
    CancelledBy,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    RejectionCode,
    RejectionReason,
)
from oms_events.contracts.payments import (
    DeclineReason,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    PaymentVoided,
    RefundIssued,
)
from oms_events.contracts.returns import (
    ReturnAuthorized,
    ReturnReason,
    ReturnReceived,
    ReturnRequested,
    ReturnRequestLine,
)
from oms_events.contracts.shipping import ShipmentDelivered, ShipmentDispatched

__all__ = [
    "Address",
    "Allocation",
    "AllocationStrategy",
    "CancellationReason",
    "CancelledBy",
    "Customer",
    "DeclineReason",
    "FulfilmentRequested",
    "ItemCondition",
    "OrderCancelled",
    "OrderConfirmed",
    "OrderLine",
    "OrderPacked",
    "OrderPicked",
    "OrderPlaced",
    "OrderRejected",
    "OrderSubmitted",
    "OrderSubmittedV1",
    "Payment",
    "PaymentAuthorized",
    "PaymentCaptured",
    "PaymentDeclined",
    "PaymentMethod",
    "PaymentVoided",
    "RefundIssued",
    "RejectionCode",
    "RejectionReason",
    "ReturnAuthorized",
    "ReturnReason",
    "ReturnReceived",
    "ReturnRequestLine",
    "ReturnRequested",
    "ReturnedLine",
    "ShipmentDelivered",
    "ShipmentDispatched",
    "Shortage",
    "SkuQuantity",
    "StockReleased",
    "StockReservationFailed",
    "StockReserved",
    "StockRestocked",
    "StockShipped",
    "StockWrittenOff",
    "fulfilment",
    "ingress",
    "inventory",
    "order",
    "payments",
    "returns",
    "shipping",
]
