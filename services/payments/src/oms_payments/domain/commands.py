"""Commands the payments domain decides on (imperative: what someone asks to happen)."""

from __future__ import annotations

from dataclasses import dataclass

from oms_events.contracts import OrderLine, Payment, SkuQuantity
from oms_events.money import Money


@dataclass(frozen=True, slots=True)
class OpenBilling:
    """Take on a placed order: remember what it owes and request each payment."""

    order_id: str
    customer_email: str
    lines: tuple[OrderLine, ...]
    shipping_charge: Money
    payments: tuple[Payment, ...]


@dataclass(frozen=True, slots=True)
class CancelBilling:
    """The order was cancelled: release every payment of it."""

    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class BillShipment:
    """A shipment left the warehouse: bill its value to the order's payments."""

    order_id: str
    shipment_id: str
    lines: tuple[SkuQuantity, ...]


@dataclass(frozen=True, slots=True)
class CollectOnDelivery:
    """A shipment was delivered: the courier collected its cash-on-delivery share."""

    order_id: str
    shipment_id: str
