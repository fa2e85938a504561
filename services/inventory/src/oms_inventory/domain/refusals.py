"""The refusals more than one decider (and the queries) share, with their stable codes.

404 ``sku_not_found`` / ``warehouse_not_found`` / ``reservation_not_found`` /
``promotion_not_found``; the 409 and 422 codes live next to the rule that raises them.
"""

from __future__ import annotations

from oms_platform.refusal import Refusal


def sku_not_found(sku: str, field: str = "sku") -> Refusal:
    return Refusal.not_found("sku_not_found", f"SKU {sku!r} is not registered", field)


def warehouse_not_found(code: str, field: str = "warehouse") -> Refusal:
    return Refusal.not_found("warehouse_not_found", f"warehouse {code!r} is not registered", field)


def reservation_not_found(order_id: str) -> Refusal:
    return Refusal.not_found(
        "reservation_not_found", f"no reservation for order {order_id!r}", "order_id"
    )


def promotion_not_found(promotion_id: str) -> Refusal:
    return Refusal.not_found(
        "promotion_not_found", f"no promotion {promotion_id!r}", "promotion_id"
    )
