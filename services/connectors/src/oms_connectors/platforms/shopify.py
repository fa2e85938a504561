"""Shopify's Admin REST API (``/admin/api/<version>/``) for one shop.

- ship: the order's fulfillment orders (``GET orders/{id}/fulfillment_orders.json``) give
  the fulfillable line items; ``POST fulfillments.json`` with
  ``line_items_by_fulfillment_order`` and ``tracking_info`` {number, company}; done already
  when a fulfillment of the order carries the tracking number;
- deliver: ``POST orders/{id}/fulfillments/{fulfillment_id}/events.json`` with status
  ``delivered`` on the fulfillment carrying the tracking number; done already when its
  ``shipment_status`` is ``delivered``;
- cancel: ``POST orders/{id}/cancel.json``; done already when ``cancelled_at`` is set;
- refund: ``POST orders/{id}/refunds.json`` with the refunded line items and a ``refund``
  transaction on the order's sale (``GET orders/{id}/transactions.json``); the key is in
  the refund's ``note``, so a refund carrying it is not made twice.

Authenticated with ``X-Shopify-Access-Token``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from oms_connectors.platforms.base import (
    Action,
    PlatformRefused,
    PlatformUnavailable,
    call,
    units_by_item,
)
from oms_connectors.shops import ShopConfig
from oms_connectors.tables import LinkedOrder


def mark(key: str) -> str:
    return f"[oms {key}]"


class ShopifyAdapter:
    def __init__(self, shop: ShopConfig, client: httpx.AsyncClient) -> None:
        token = shop.token()
        self.base = f"{shop.api_url.rstrip('/')}/admin/api/{shop.api_version}"
        self.headers = {"X-Shopify-Access-Token": token.get_secret_value() if token else ""}
        self.client = client

    async def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        return await call(
            self.client, method, f"{self.base}/{path}", what, headers=self.headers, **kwargs
        )

    async def _fulfillments(self, order: LinkedOrder) -> list[dict[str, Any]]:
        found = await self._call(
            "GET", f"orders/{order.platform_order_id}/fulfillments.json", "list fulfillments"
        )
        return list((found or {}).get("fulfillments", []))

    async def ship(self, order: LinkedOrder, action: Action) -> str:
        number = action.body["tracking_number"]
        for f in await self._fulfillments(order):
            if number in (f.get("tracking_numbers") or [f.get("tracking_number")]):
                return str(f["id"])
        wanted = units_by_item(order, action.body["lines"])
        found = await self._call(
            "GET",
            f"orders/{order.platform_order_id}/fulfillment_orders.json",
            "list fulfillment orders",
        )
        by_fo: list[dict[str, Any]] = []
        for fo in (found or {}).get("fulfillment_orders", []):
            if fo.get("status") not in ("open", "in_progress"):
                continue
            items = []
            for li in fo.get("line_items", []):
                item = str(li.get("line_item_id"))
                take = min(wanted.get(item, 0), int(li.get("fulfillable_quantity", 0)))
                if take > 0:
                    items.append({"id": li["id"], "quantity": take})
                    wanted[item] -= take
            if items:
                by_fo.append(
                    {"fulfillment_order_id": fo["id"], "fulfillment_order_line_items": items}
                )
        if any(n > 0 for n in wanted.values()):
            raise PlatformRefused(f"Shopify has nothing left to fulfil for {wanted}")
        body = {
            "fulfillment": {
                "line_items_by_fulfillment_order": by_fo,
                "tracking_info": {"number": number, "company": action.body["carrier"]},
                "notify_customer": True,
            }
        }
        made = await self._call("POST", "fulfillments.json", "create fulfillment", json=body)
        return str(made["fulfillment"]["id"])

    async def deliver(self, order: LinkedOrder, action: Action) -> str:
        number = action.body["tracking_number"]
        for f in await self._fulfillments(order):
            if number not in (f.get("tracking_numbers") or [f.get("tracking_number")]):
                continue
            if f.get("shipment_status") == "delivered":
                return str(f["id"])
            await self._call(
                "POST",
                f"orders/{order.platform_order_id}/fulfillments/{f['id']}/events.json",
                "record delivery",
                json={"event": {"status": "delivered", "happened_at": action.body["delivered_at"]}},
            )
            return str(f["id"])
        raise PlatformUnavailable(f"no fulfillment with tracking {number} at Shopify yet")

    async def cancel(self, order: LinkedOrder, action: Action) -> str:
        path = f"orders/{order.platform_order_id}"
        found = await self._call("GET", f"{path}.json", "read order")
        if (found or {}).get("order", {}).get("cancelled_at"):
            return order.platform_order_id
        await self._call(
            "POST",
            f"{path}/cancel.json",
            "cancel order",
            json={"reason": "other", "email": True, "restock": True},
        )
        return order.platform_order_id

    async def refund(self, order: LinkedOrder, action: Action) -> str:
        path = f"orders/{order.platform_order_id}"
        note = mark(action.key)
        found = await self._call("GET", f"{path}/refunds.json", "list refunds")
        for r in (found or {}).get("refunds", []):
            if note in (r.get("note") or ""):
                return str(r["id"])
        amount = Decimal(action.body["amount"]["amount"])
        currency = action.body["amount"]["currency"]
        txs = await self._call("GET", f"{path}/transactions.json", "list transactions")
        sales = [
            t
            for t in (txs or {}).get("transactions", [])
            if t.get("kind") in ("sale", "capture") and t.get("status") == "success"
        ]
        if not sales:
            raise PlatformRefused("the order has no successful sale to refund")
        sale = sales[0]
        lines = [
            {"line_item_id": int(item), "quantity": qty, "restock_type": "no_restock"}
            for item, qty in units_by_item(order, action.body["lines"]).items()
        ]
        body = {
            "refund": {
                "currency": currency,
                "notify": True,
                "note": f"{action.body.get('reason') or 'Return'} {note}",
                "refund_line_items": lines,
                "transactions": [
                    {
                        "parent_id": sale["id"],
                        "amount": str(amount),
                        "kind": "refund",
                        "gateway": sale.get("gateway"),
                    }
                ],
            }
        }
        made = await self._call("POST", f"{path}/refunds.json", "create refund", json=body)
        return str(made["refund"]["id"])
