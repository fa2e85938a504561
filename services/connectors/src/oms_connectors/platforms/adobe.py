"""Adobe Commerce's REST API (``<base>/V1/``) for one store.

- ship: invoice what is shipped and not yet invoiced (``POST order/{id}/invoice``: Adobe
  Commerce refunds only invoiced units, and the OMS takes the money at dispatch), then
  ``POST order/{id}/ship`` with the items and a track {track_number, title, carrier_code};
  done already when a shipment of the order (``GET shipments?searchCriteria``) carries the
  tracking number;
- deliver: an order comment (``POST orders/{id}/comments``) carrying the key: Adobe
  Commerce has no delivered state of its own;
- cancel: ``POST orders/{id}/cancel`` (``false``: the order can no longer be cancelled,
  e.g. it is invoiced: refused); done already when the order's state is ``canceled``;
- refund: a credit memo, ``POST order/{id}/refund`` with the items, the shipping refunded
  and an adjustment so that it comes to the OMS's refund to the cent; its comment carries
  the key, so a credit memo carrying it is not made twice.

Authenticated with an integration's access token (``Authorization: Bearer``).
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


def by_order(order_id: str) -> dict[str, str]:
    prefix = "searchCriteria[filter_groups][0][filters][0]"
    return {
        f"{prefix}[field]": "order_id",
        f"{prefix}[value]": order_id,
        f"{prefix}[condition_type]": "eq",
    }


def _number(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value or 0))


class AdobeCommerceAdapter:
    def __init__(self, shop: ShopConfig, client: httpx.AsyncClient) -> None:
        token = shop.token()
        self.base = f"{shop.api_url.rstrip('/')}/V1"
        self.headers = {"Authorization": f"Bearer {token.get_secret_value() if token else ''}"}
        self.client = client

    async def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        return await call(
            self.client, method, f"{self.base}/{path}", what, headers=self.headers, **kwargs
        )

    async def order(self, entity_id: str) -> dict[str, Any]:
        found = await self._call("GET", f"orders/{entity_id}", "read order")
        if not isinstance(found, dict):
            raise PlatformUnavailable("the order answer is not an object")
        return found

    async def ship(self, order: LinkedOrder, action: Action) -> str:
        number = action.body["tracking_number"]
        shipments = await self._call(
            "GET", "shipments", "list shipments", params=by_order(order.platform_order_id)
        )
        for s in (shipments or {}).get("items", []):
            if any(t.get("track_number") == number for t in s.get("tracks", [])):
                return str(s["entity_id"])
        wanted = units_by_item(order, action.body["lines"])
        entity = await self.order(order.platform_order_id)
        invoiced = {
            str(i.get("item_id")): int(_number(i.get("qty_invoiced")))
            for i in entity.get("items", [])
        }
        shipped = {
            str(i.get("item_id")): int(_number(i.get("qty_shipped")))
            for i in entity.get("items", [])
        }
        to_invoice = [
            {
                "order_item_id": int(item),
                "qty": qty - (invoiced.get(item, 0) - shipped.get(item, 0)),
            }
            for item, qty in wanted.items()
            if qty - (invoiced.get(item, 0) - shipped.get(item, 0)) > 0
        ]
        if to_invoice:
            await self._call(
                "POST",
                f"order/{order.platform_order_id}/invoice",
                "invoice the shipped items",
                json={"capture": False, "items": to_invoice, "notify": False},
            )
        body = {
            "items": [{"order_item_id": int(item), "qty": qty} for item, qty in wanted.items()],
            "notify": True,
            "appendComment": True,
            "comment": {
                "comment": f"Shipped by the OMS {mark(action.key)}",
                "is_visible_on_front": 0,
            },
            "tracks": [
                {
                    "track_number": number,
                    "title": action.body["carrier"].upper(),
                    "carrier_code": "custom",
                }
            ],
        }
        made = await self._call("POST", f"order/{order.platform_order_id}/ship", "ship", json=body)
        return str(made)

    async def deliver(self, order: LinkedOrder, action: Action) -> str:
        note = mark(action.key)
        path = f"orders/{order.platform_order_id}/comments"
        found = await self._call("GET", path, "list comments")
        if any(note in (c.get("comment") or "") for c in (found or {}).get("items", [])):
            return order.platform_order_id
        text = (
            f"Delivered: {action.body['carrier'].upper()} {action.body['tracking_number']} "
            f"at {action.body['delivered_at']} {note}"
        )
        await self._call(
            "POST",
            path,
            "comment delivery",
            json={
                "statusHistory": {
                    "comment": text,
                    "is_customer_notified": 0,
                    "is_visible_on_front": 1,
                    "parent_id": int(order.platform_order_id),
                }
            },
        )
        return order.platform_order_id

    async def cancel(self, order: LinkedOrder, action: Action) -> str:
        entity = await self.order(order.platform_order_id)
        if entity.get("state") == "canceled":
            return order.platform_order_id
        done = await self._call("POST", f"orders/{order.platform_order_id}/cancel", "cancel")
        if done is not True:
            raise PlatformRefused(
                f"Adobe Commerce cannot cancel order {order.platform_order_ref} "
                f"(state {entity.get('state')}): it is invoiced or shipped"
            )
        return order.platform_order_id

    async def refund(self, order: LinkedOrder, action: Action) -> str:
        note = mark(action.key)
        memos = await self._call(
            "GET", "creditmemos", "list credit memos", params=by_order(order.platform_order_id)
        )
        for m in (memos or {}).get("items", []):
            if any(note in (c.get("comment") or "") for c in m.get("comments", [])):
                return str(m["entity_id"])
        entity = await self.order(order.platform_order_id)
        rows = {str(i.get("item_id")): i for i in entity.get("items", [])}
        items = units_by_item(order, action.body["lines"])
        # What Adobe Commerce would refund for the items by itself; the adjustment makes
        # the credit memo the OMS's refund exactly (the OMS refunds per accepted unit).
        natural = Decimal(0)
        for item, qty in items.items():
            row = rows.get(item, {})
            ordered = _number(row.get("qty_ordered")) or Decimal(1)
            gross = _number(row.get("row_total_incl_tax")) - _number(row.get("discount_amount"))
            natural += (gross * qty / ordered).quantize(Decimal("0.01"))
        shipping = Decimal(action.body.get("shipping_refund") or "0")
        target = Decimal(action.body["amount"]["amount"])
        adjustment = target - natural - shipping
        body = {
            "items": [{"order_item_id": int(item), "qty": qty} for item, qty in items.items()],
            "notify": True,
            "appendComment": True,
            "comment": {"comment": f"Refund by the OMS {note}", "is_visible_on_front": 0},
            "arguments": {
                "shipping_amount": float(shipping),
                "adjustment_positive": float(max(adjustment, Decimal(0))),
                "adjustment_negative": float(max(-adjustment, Decimal(0))),
            },
        }
        made = await self._call(
            "POST", f"order/{order.platform_order_id}/refund", "refund", json=body
        )
        return str(made)
