"""The Shopify sandbox: checkout (sandbox-only), the ``orders/create`` webhook, and the Admin REST
API resources a connector uses afterwards (orders, fulfillment orders, fulfillments and their
events, transactions, refunds, cancel), each answering and failing like Shopify documents."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from oms_connectors.sandbox import money
from oms_connectors.sandbox.core import (
    Clock,
    Delivery,
    Ids,
    Json,
    SandboxError,
    WebhookSender,
    dump,
    shopify_hmac,
)
from oms_connectors.sandbox.orders import (
    ShopifyCheckout,
    build_fulfillment_order,
    build_shopify_order,
    shopify_time,
    shopify_transaction,
)
from oms_connectors.sandbox.settings import SandboxSettings, ShopConfig

UNAUTHORISED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
NOT_FOUND = {"errors": "Not Found"}
EVENT_STATUSES = {
    "label_printed",
    "label_purchased",
    "attempted_delivery",
    "ready_for_pickup",
    "confirmed",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "failure",
    "carrier_picked_up",
    "picked_up",
    "delayed",
}
CANCEL_REASONS = {"customer", "inventory", "fraud", "declined", "other", "staff"}
RESTOCK_TYPES = {"no_restock", "cancel", "return", "legacy_restock"}


def unprocessable(errors: Any) -> SandboxError:
    return SandboxError(422, {"errors": errors})


def missing(name: str) -> SandboxError:
    """Shopify's answer to a body without its root key: 400, not 422."""
    return SandboxError(400, {"errors": {name: "Required parameter missing or invalid"}})


@dataclass
class ShopifyShop:
    """One shop's state: everything in memory, keyed by order id."""

    config: ShopConfig
    shop_id: int
    next_number: int = 1001
    orders: dict[int, Json] = field(default_factory=dict)
    fulfillment_orders: dict[int, list[Json]] = field(default_factory=dict)
    fulfillments: dict[int, list[Json]] = field(default_factory=dict)
    events: dict[int, list[Json]] = field(default_factory=dict)
    transactions: dict[int, list[Json]] = field(default_factory=dict)
    refunds: dict[int, list[Json]] = field(default_factory=dict)

    def order(self, order_id: str) -> Json:
        found = self.orders.get(int(order_id)) if order_id.isdigit() else None
        if found is None:
            raise SandboxError(404, NOT_FOUND)
        return found

    def fulfillment(self, order: Json, fulfillment_id: str) -> Json:
        for f in self.fulfillments.get(order["id"], []):
            if str(f["id"]) == fulfillment_id:
                return f
        raise SandboxError(404, NOT_FOUND)

    def find_fulfillment_order(self, fo_id: object) -> Json:
        for fos in self.fulfillment_orders.values():
            for fo in fos:
                if fo["id"] == fo_id:
                    return fo
        raise unprocessable(["Fulfillment order does not exist."])


class ShopifySandbox:
    """The shops, their lock, the webhook sender and the clock."""

    def __init__(
        self, settings: SandboxSettings, sender: WebhookSender, clock: Clock, ids: Ids
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.clock = clock
        self.ids = ids
        self.lock = asyncio.Lock()
        self.shops = {
            s.shop: ShopifyShop(s, shop_id=ids()) for s in settings.shops if s.platform == "shopify"
        }

    def shop(self, name: str) -> ShopifyShop:
        found = self.shops.get(name)
        if found is None:
            raise SandboxError(404, NOT_FOUND)
        return found

    def authorised(self, name: str, request: Request) -> ShopifyShop:
        """The shop, if the request carries its ``X-Shopify-Access-Token``."""
        shop = self.shop(name)
        if request.headers.get("x-shopify-access-token") != shop.config.access_token:
            raise SandboxError(401, UNAUTHORISED)
        return shop

    # --- sandbox-only ---------------------------------------------------------------------

    async def checkout(self, name: str, checkout: ShopifyCheckout) -> Json:
        """A customer checks out: order, fulfillment order and sale exist, the webhook goes."""
        shop = self.shop(name)
        async with self.lock:
            now = self.clock()
            order = build_shopify_order(
                checkout,
                ids=self.ids,
                number=shop.next_number,
                shop=name,
                currency=shop.config.currency,
                at=now,
            )
            shop.next_number += 1
            shop.orders[order["id"]] = order
            shop.fulfillment_orders[order["id"]] = [
                build_fulfillment_order(order, ids=self.ids, shop_id=shop.shop_id, at=now)
            ]
            shop.fulfillments[order["id"]] = order["fulfillments"]
            shop.refunds[order["id"]] = order["refunds"]
            shop.transactions[order["id"]] = [
                shopify_transaction(
                    ids=self.ids,
                    order=order,
                    kind="sale",
                    gateway=checkout.gateway,
                    amount=Decimal(order["total_price"]),
                    parent_id=None,
                    at=now,
                )
            ]
            body = dump(order)
        self.deliver(shop, "orders/create", body, key=str(order["id"]))
        return order

    def deliver(self, shop: ShopifyShop, topic: str, body: bytes, *, key: str) -> Delivery | None:
        """Sign and send one webhook to the shop's URL (none configured: nothing is sent)."""
        url, secret = shop.config.webhook_url, shop.config.webhook_secret
        if not url or not secret:
            return None
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shopify_hmac(secret, body),
            "X-Shopify-Shop-Domain": f"{shop.config.shop}.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": self.settings.shopify_api_version,
            "X-Shopify-Triggered-At": self.clock().isoformat(timespec="microseconds"),
        }
        delivery = Delivery(shop.config.shop, url, body, headers, key)
        self.sender.send(delivery)
        return delivery

    def redeliver(self, name: str, order_id: str) -> Delivery:
        """The same webhook again (same body, same ``X-Shopify-Webhook-Id``)."""
        shop = self.shop(name)
        shop.order(order_id)
        last = self.sender.latest(name, order_id)
        if last is None:
            raise SandboxError(404, {"errors": "No webhook was delivered for this order"})
        again = Delivery(name, last.url, last.body, dict(last.headers), last.key)
        self.sender.send(again)
        return again

    # --- fulfillments ------------------------------------------------------------------------

    async def create_fulfillment(self, shop: ShopifyShop, body: Json) -> Json:
        spec = body.get("fulfillment")
        if not isinstance(spec, dict):
            raise missing("fulfillment")
        groups = spec.get("line_items_by_fulfillment_order")
        if not isinstance(groups, list) or not groups:
            raise unprocessable({"line_items_by_fulfillment_order": ["can't be blank"]})
        async with self.lock:
            plan = self._fulfillment_plan(shop, groups)
            order = shop.orders[plan[0][0]["order_id"]]
            return self._fulfil(shop, order, plan, spec.get("tracking_info") or {})

    def _fulfillment_plan(
        self, shop: ShopifyShop, groups: list[Any]
    ) -> list[tuple[Json, Json, int]]:
        """Every (fulfillment order, line, quantity) asked for, all checked before any change."""
        plan: list[tuple[Json, Json, int]] = []
        order_ids = set()
        for group in groups:
            if not isinstance(group, dict):
                raise unprocessable({"line_items_by_fulfillment_order": ["is invalid"]})
            fo = shop.find_fulfillment_order(group.get("fulfillment_order_id"))
            order_ids.add(fo["order_id"])
            order = shop.orders[fo["order_id"]]
            if order["cancelled_at"] is not None or fo["status"] in ("closed", "cancelled"):
                raise unprocessable(
                    [f"Fulfillment order {fo['id']} has an unfulfillable status= {fo['status']}."]
                )
            wanted = group.get("fulfillment_order_line_items")
            if wanted is None:
                plan += [
                    (fo, li, li["fulfillable_quantity"])
                    for li in fo["line_items"]
                    if li["fulfillable_quantity"] > 0
                ]
                continue
            for item in wanted:
                line = next((li for li in fo["line_items"] if li["id"] == item.get("id")), None)
                if line is None:
                    raise unprocessable(["Invalid fulfillment order line item id."])
                qty = item.get("quantity")
                if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                    raise unprocessable(["Invalid fulfillment order line item quantity requested."])
                already = sum(q for f, li, q in plan if li is line)
                if qty + already > line["fulfillable_quantity"]:
                    raise unprocessable(["Invalid fulfillment order line item quantity requested."])
                plan.append((fo, line, qty))
        if len(order_ids) > 1:
            raise unprocessable(["All fulfillment orders must belong to the same order."])
        if not plan:
            raise unprocessable(["Fulfillment order has no fulfillable line items."])
        return plan

    def _fulfil(
        self, shop: ShopifyShop, order: Json, plan: list[tuple[Json, Json, int]], tracking: Any
    ) -> Json:
        now = shopify_time(self.clock())
        lines = {li["id"]: li for li in order["line_items"]}
        shipped: dict[int, int] = {}
        for fo, fo_line, qty in plan:
            fo_line["fulfillable_quantity"] -= qty
            line = lines[fo_line["line_item_id"]]
            line["fulfillable_quantity"] -= qty
            line["fulfillment_status"] = (
                "fulfilled" if line["fulfillable_quantity"] == 0 else "partial"
            )
            shipped[line["id"]] = shipped.get(line["id"], 0) + qty
            left = any(li["fulfillable_quantity"] > 0 for li in fo["line_items"])
            fo["status"] = "in_progress" if left else "closed"
            fo["updated_at"] = now
        open_left = any(li["fulfillable_quantity"] > 0 for li in order["line_items"])
        order["fulfillment_status"] = "partial" if open_left else "fulfilled"
        order["updated_at"] = now
        tracking = tracking if isinstance(tracking, dict) else {}
        number, url = tracking.get("number"), tracking.get("url")
        fid = self.ids()
        fulfillment = {
            "id": fid,
            "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fid}",
            "order_id": order["id"],
            "name": f"{order['name']}.{len(shop.fulfillments[order['id']]) + 1}",
            "status": "success",
            "service": "manual",
            "location_id": shop.shop_id + 1,
            "created_at": now,
            "updated_at": now,
            "shipment_status": None,
            "tracking_company": tracking.get("company"),
            "tracking_number": number,
            "tracking_numbers": [number] if number else [],
            "tracking_url": url,
            "tracking_urls": [url] if url else [],
            "origin_address": {},
            "receipt": {},
            "line_items": [lines[lid] | {"quantity": q} for lid, q in shipped.items()],
        }
        shop.fulfillments[order["id"]].append(fulfillment)
        shop.events[fid] = []
        return fulfillment

    async def create_event(self, shop: ShopifyShop, order: Json, fid: str, body: Json) -> Json:
        spec = body.get("event")
        if not isinstance(spec, dict):
            raise missing("event")
        status = spec.get("status")
        if status not in EVENT_STATUSES:
            raise unprocessable({"status": ["is not included in the list"]})
        async with self.lock:
            fulfillment = shop.fulfillment(order, fid)
            now = shopify_time(self.clock())
            eid = self.ids()
            event = {
                "id": eid,
                "admin_graphql_api_id": f"gid://shopify/FulfillmentEvent/{eid}",
                "fulfillment_id": fulfillment["id"],
                "order_id": order["id"],
                "shop_id": shop.shop_id,
                "status": status,
                "message": spec.get("message"),
                "happened_at": spec.get("happened_at") or now,
                "estimated_delivery_at": spec.get("estimated_delivery_at"),
                "city": spec.get("city"),
                "province": spec.get("province"),
                "country": spec.get("country"),
                "zip": spec.get("zip"),
                "address1": spec.get("address1"),
                "latitude": spec.get("latitude"),
                "longitude": spec.get("longitude"),
                "created_at": now,
                "updated_at": now,
            }
            shop.events[fulfillment["id"]].append(event)
            fulfillment["shipment_status"] = status
            fulfillment["updated_at"] = now
            order["updated_at"] = now
            return event

    # --- refunds and cancel ------------------------------------------------------------------

    async def create_refund(self, shop: ShopifyShop, order: Json, body: Json) -> Json:
        spec = body.get("refund")
        if not isinstance(spec, dict):
            raise missing("refund")
        async with self.lock:
            lines = self._refund_lines(order, spec.get("refund_line_items") or [])
            shipping = self._refund_shipping(order, spec.get("shipping"))
            txs = self._refund_transactions(shop, order, spec.get("transactions") or [])
            if not lines and not txs and shipping == 0:
                raise unprocessable(
                    {"base": ["Refund must contain line items, shipping or transactions"]}
                )
            return self._refund(shop, order, spec, lines, shipping, txs)

    def _refund_lines(self, order: Json, items: Any) -> list[tuple[Json, int, str]]:
        if not isinstance(items, list):
            raise unprocessable({"refund_line_items": ["is invalid"]})
        done: dict[int, int] = {}
        for refund in order["refunds"]:
            for rli in refund["refund_line_items"]:
                done[rli["line_item_id"]] = done.get(rli["line_item_id"], 0) + rli["quantity"]
        lines = {li["id"]: li for li in order["line_items"]}
        plan: list[tuple[Json, int, str]] = []
        for item in items:
            line = lines.get(item.get("line_item_id")) if isinstance(item, dict) else None
            if line is None:
                raise unprocessable({"refund_line_items.line_item": ["can't be blank"]})
            qty = item.get("quantity")
            restock = item.get("restock_type", "no_restock")
            if restock not in RESTOCK_TYPES:
                raise unprocessable(
                    {"refund_line_items.restock_type": ["is not included in the list"]}
                )
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                raise unprocessable({"refund_line_items.quantity": ["must be greater than 0"]})
            done[line["id"]] = done.get(line["id"], 0) + qty
            if done[line["id"]] > line["quantity"]:
                raise unprocessable(
                    {"refund_line_items.quantity": ["cannot refund more items than were purchased"]}
                )
            plan.append((line, qty, restock))
        return plan

    def _refund_shipping(self, order: Json, shipping: Any) -> Decimal:
        if shipping is None:
            return Decimal(0)
        if not isinstance(shipping, dict):
            raise unprocessable({"shipping": ["is invalid"]})
        price = sum((Decimal(s["price"]) for s in order["shipping_lines"]), Decimal(0))
        refunded = sum(
            (
                -Decimal(a["amount"])
                for r in order["refunds"]
                for a in r["order_adjustments"]
                if a["kind"] == "shipping_refund"
            ),
            Decimal(0),
        )
        if shipping.get("full_refund") is True:
            return price - refunded
        try:
            amount = money.parse(shipping.get("amount", "0"), "shipping.amount")
        except money.MoneyError as exc:
            raise unprocessable({"shipping.amount": [str(exc)]}) from exc
        if amount > price - refunded:
            raise unprocessable(
                {
                    "shipping.amount": [
                        f"must be less than or equal to {money.text(price - refunded)}"
                    ]
                }
            )
        return amount

    def _refund_transactions(
        self, shop: ShopifyShop, order: Json, items: Any
    ) -> list[tuple[Json, Decimal, str]]:
        if not isinstance(items, list):
            raise unprocessable({"transactions": ["is invalid"]})
        txs = shop.transactions[order["id"]]
        plan: list[tuple[Json, Decimal, str]] = []
        for item in items:
            if not isinstance(item, dict) or item.get("kind", "refund") != "refund":
                raise unprocessable({"transactions.kind": ["is not included in the list"]})
            parent = next((t for t in txs if t["id"] == item.get("parent_id")), None)
            if (
                parent is None
                or parent["kind"] not in ("sale", "capture")
                or parent["status"] != "success"
            ):
                raise unprocessable({"transactions.parent_id": ["is invalid"]})
            try:
                amount = money.parse(item.get("amount"), "amount")
            except money.MoneyError as exc:
                raise unprocessable({"transactions.amount": [str(exc)]}) from exc
            taken = sum(
                (
                    Decimal(t["amount"])
                    for t in txs
                    if t["parent_id"] == parent["id"]
                    and t["kind"] == "refund"
                    and t["status"] == "success"
                ),
                Decimal(0),
            ) + sum((a for p, a, _ in plan if p is parent), Decimal(0))
            left = Decimal(parent["amount"]) - taken
            if amount <= 0 or amount > left:
                raise unprocessable(
                    {
                        "base": [
                            f"Refund amount must be greater than 0 and at most the "
                            f"{money.text(left)} left to refund on transaction {parent['id']}"
                        ]
                    }
                )
            plan.append((parent, amount, str(item.get("gateway") or parent["gateway"])))
        return plan

    def _refund(
        self,
        shop: ShopifyShop,
        order: Json,
        spec: Json,
        lines: list[tuple[Json, int, str]],
        shipping: Decimal,
        txs: list[tuple[Json, Decimal, str]],
    ) -> Json:
        at = self.clock()
        now = shopify_time(at)
        rid = self.ids()
        refund_lines = []
        for line, qty, restock in lines:
            discount = sum((Decimal(a["amount"]) for a in line["discount_allocations"]), Decimal(0))
            net = Decimal(line["price"]) * line["quantity"] - discount
            subtotal = money.share(net, Decimal(qty), Decimal(line["quantity"]))
            line["current_quantity"] -= qty
            self._unfulfillable(shop, order, line, qty)
            refund_lines.append(
                {
                    "id": self.ids(),
                    "line_item_id": line["id"],
                    "line_item": dict(line),
                    "quantity": qty,
                    "restock_type": restock,
                    "location_id": shop.shop_id + 1,
                    "subtotal": money.text(subtotal),
                    "total_tax": "0.00",
                    "subtotal_set": {
                        "shop_money": {
                            "amount": money.text(subtotal),
                            "currency_code": order["currency"],
                        }
                    },
                }
            )
        transactions = []
        for parent, amount, gateway in txs:
            tx = shopify_transaction(
                ids=self.ids,
                order=order,
                kind="refund",
                gateway=gateway,
                amount=amount,
                parent_id=parent["id"],
                at=at,
            )
            shop.transactions[order["id"]].append(tx)
            transactions.append(tx)
        adjustments = []
        if shipping > 0:
            adjustments.append(
                {
                    "id": self.ids(),
                    "order_id": order["id"],
                    "refund_id": rid,
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                    "amount": money.text(-shipping),
                    "tax_amount": "0.00",
                }
            )
        refund = {
            "id": rid,
            "admin_graphql_api_id": f"gid://shopify/Refund/{rid}",
            "order_id": order["id"],
            "created_at": now,
            "processed_at": now,
            "note": spec.get("note"),
            "restock": any(r != "no_restock" for _, _, r in lines),
            "user_id": None,
            "refund_line_items": refund_lines,
            "transactions": transactions,
            "order_adjustments": adjustments,
        }
        order["refunds"].append(refund)
        self._financial_status(shop, order)
        order["updated_at"] = now
        return refund

    @staticmethod
    def _unfulfillable(shop: ShopifyShop, order: Json, line: Json, qty: int) -> None:
        """Refunded units not yet shipped leave the fulfillment order: nobody ships them now."""
        drop = min(qty, line["fulfillable_quantity"])
        line["fulfillable_quantity"] -= drop
        for fo in shop.fulfillment_orders[order["id"]]:
            for fo_line in fo["line_items"]:
                if fo_line["line_item_id"] == line["id"] and drop > 0:
                    taken = min(drop, fo_line["fulfillable_quantity"])
                    fo_line["fulfillable_quantity"] -= taken
                    fo_line["quantity"] -= taken
                    drop -= taken
            if fo["status"] in ("open", "in_progress") and not any(
                li["fulfillable_quantity"] > 0 for li in fo["line_items"]
            ):
                fo["status"] = "closed"

    @staticmethod
    def _financial_status(shop: ShopifyShop, order: Json) -> None:
        txs = shop.transactions[order["id"]]
        paid = sum(
            (Decimal(t["amount"]) for t in txs if t["kind"] in ("sale", "capture")), Decimal(0)
        )
        back = sum((Decimal(t["amount"]) for t in txs if t["kind"] == "refund"), Decimal(0))
        if back > 0:
            order["financial_status"] = "refunded" if back >= paid else "partially_refunded"

    async def cancel(self, shop: ShopifyShop, order: Json, body: Json) -> Json:
        reason = body.get("reason", "other")
        if reason not in CANCEL_REASONS:
            raise unprocessable({"reason": ["is not included in the list"]})
        async with self.lock:
            if order["cancelled_at"] is not None:
                raise SandboxError(422, {"error": "Order has already been cancelled"})
            if any(f["status"] == "success" for f in shop.fulfillments[order["id"]]):
                raise SandboxError(422, {"error": "Cannot cancel an order that has been fulfilled"})
            now = shopify_time(self.clock())
            order.update(cancelled_at=now, cancel_reason=reason, closed_at=now, updated_at=now)
            for line in order["line_items"]:
                line["fulfillable_quantity"] = 0
            for fo in shop.fulfillment_orders[order["id"]]:
                fo["status"] = "closed"
                fo["updated_at"] = now
                for fo_line in fo["line_items"]:
                    fo_line["fulfillable_quantity"] = 0
            return order


async def json_body(request: Request) -> Json:
    """The request's JSON object; an empty body is ``{}``, anything else not an object is 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise SandboxError(400, {"errors": "Bad Request"}) from exc
    if not isinstance(body, dict):
        raise SandboxError(400, {"errors": "Bad Request"})
    return body


def shopify_router(sandbox: ShopifySandbox) -> APIRouter:
    """Routes under ``/shopify/{shop}``: ``sandbox/...`` for tests and demos, ``admin/api/...``."""
    r = APIRouter(prefix="/shopify/{shop}")
    admin = "/admin/api/{version}"

    @r.post("/sandbox/orders", status_code=201)
    async def checkout(shop: str, body: ShopifyCheckout) -> Json:
        return {"order": await sandbox.checkout(shop, body)}

    @r.post("/sandbox/orders/{order_id}/redeliver", status_code=202)
    async def redeliver(shop: str, order_id: str) -> Json:
        d = sandbox.redeliver(shop, order_id)
        return {"delivery_id": d.delivery_id, "webhook_id": d.headers["X-Shopify-Webhook-Id"]}

    @r.post("/sandbox/webhooks", status_code=202)
    async def raw_webhook(shop: str, request: Request, topic: str = "orders/create") -> Json:
        found = sandbox.shop(shop)
        d = sandbox.deliver(found, topic, await request.body(), key="raw")
        if d is None:
            raise SandboxError(409, {"errors": "This shop has no webhook_url"})
        return {"delivery_id": d.delivery_id, "webhook_id": d.headers["X-Shopify-Webhook-Id"]}

    @r.get("/sandbox/deliveries")
    async def deliveries(shop: str) -> Json:
        sandbox.shop(shop)
        return {"deliveries": [a.as_json() for a in sandbox.sender.attempts if a.shop == shop]}

    @r.get(admin + "/orders/{order_id}.json")
    async def get_order(shop: str, order_id: str, request: Request) -> Json:
        return {"order": sandbox.authorised(shop, request).order(order_id)}

    @r.get(admin + "/orders/{order_id}/fulfillment_orders.json")
    async def get_fulfillment_orders(shop: str, order_id: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        return {"fulfillment_orders": found.fulfillment_orders[found.order(order_id)["id"]]}

    @r.post(admin + "/fulfillments.json", status_code=201)
    async def post_fulfillment(shop: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        return {"fulfillment": await sandbox.create_fulfillment(found, await json_body(request))}

    @r.get(admin + "/orders/{order_id}/fulfillments.json")
    async def get_fulfillments(shop: str, order_id: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        return {"fulfillments": found.fulfillments[found.order(order_id)["id"]]}

    @r.get(admin + "/orders/{order_id}/fulfillments/{fid}.json")
    async def get_fulfillment(shop: str, order_id: str, fid: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        return {"fulfillment": found.fulfillment(found.order(order_id), fid)}

    @r.post(admin + "/orders/{order_id}/fulfillments/{fid}/events.json", status_code=201)
    async def post_event(shop: str, order_id: str, fid: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        order = found.order(order_id)
        event = await sandbox.create_event(found, order, fid, await json_body(request))
        return {"fulfillment_event": event}

    @r.get(admin + "/orders/{order_id}/fulfillments/{fid}/events.json")
    async def get_events(shop: str, order_id: str, fid: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        fulfillment = found.fulfillment(found.order(order_id), fid)
        return {"fulfillment_events": found.events[fulfillment["id"]]}

    @r.get(admin + "/orders/{order_id}/transactions.json")
    async def get_transactions(shop: str, order_id: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        return {"transactions": found.transactions[found.order(order_id)["id"]]}

    @r.post(admin + "/orders/{order_id}/refunds.json", status_code=201)
    async def post_refund(shop: str, order_id: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        order = found.order(order_id)
        return {"refund": await sandbox.create_refund(found, order, await json_body(request))}

    @r.get(admin + "/orders/{order_id}/refunds.json")
    async def get_refunds(shop: str, order_id: str, request: Request) -> Json:
        found = sandbox.authorised(shop, request)
        return {"refunds": found.refunds[found.order(order_id)["id"]]}

    @r.post(admin + "/orders/{order_id}/cancel.json")
    async def post_cancel(shop: str, order_id: str, request: Request) -> JSONResponse:
        found = sandbox.authorised(shop, request)
        order = found.order(order_id)
        return JSONResponse({"order": await sandbox.cancel(found, order, await json_body(request))})

    return r
