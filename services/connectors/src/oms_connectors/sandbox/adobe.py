"""The Adobe Commerce (Magento 2) sandbox: order placement (sandbox-only) with its signed
webhook, and the REST API a connector uses: orders with ``searchCriteria``, invoice, ship,
refund (credit memo), cancel and comments, moving the order's state/status like Magento."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request

from oms_connectors.sandbox import money
from oms_connectors.sandbox.core import (
    Clock,
    Delivery,
    Ids,
    Json,
    SandboxError,
    WebhookSender,
    adobe_signature,
    dump,
)
from oms_connectors.sandbox.orders import AdobeCheckout, build_adobe_order, magento_time
from oms_connectors.sandbox.settings import SandboxSettings, ShopConfig

NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
STATUS_OF_STATE = {
    "new": "pending",
    "processing": "processing",
    "complete": "complete",
    "closed": "closed",
    "canceled": "canceled",
    "holded": "holded",
}
CONDITIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gteq": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lteq": lambda a, b: a <= b,
}


def error(status: int, message: str, parameters: Any = None) -> SandboxError:
    """Magento's error body: ``{"message": ..., "parameters": ...}``."""
    return SandboxError(status, {"message": message, "parameters": parameters or []})


def n(amount: Decimal) -> float:
    return money.number(amount)


def d(value: Any) -> Decimal:
    """A Magento float back to an exact Decimal (the floats hold cents exactly enough)."""
    return money.cents(Decimal(str(value or 0)))


@dataclass
class AdobeStore:
    """One store's state in memory; documents keyed by their entity id."""

    config: ShopConfig
    order_ids: Ids = field(default_factory=lambda: Ids(1))
    item_ids: Ids = field(default_factory=lambda: Ids(1))
    doc_ids: Ids = field(default_factory=lambda: Ids(1))
    history_ids: Ids = field(default_factory=lambda: Ids(1))
    orders: dict[int, Json] = field(default_factory=dict)
    invoices: dict[int, Json] = field(default_factory=dict)
    shipments: dict[int, Json] = field(default_factory=dict)
    creditmemos: dict[int, Json] = field(default_factory=dict)

    def order(self, order_id: str) -> Json:
        found = self.orders.get(int(order_id)) if order_id.isdigit() else None
        if found is None:
            raise error(404, NO_ENTITY)
        return found


def view(order: Json) -> Json:
    """The order as the REST API shows it: children carry a copy of their ``parent_item``, and
    the shipping assignment lists the same item rows."""
    out = copy.deepcopy(order)
    by_id = {i["item_id"]: i for i in out["items"]}
    for item in out["items"]:
        if "parent_item_id" in item:
            item["parent_item"] = copy.deepcopy(by_id[item["parent_item_id"]])
    out["extension_attributes"]["shipping_assignments"][0]["items"] = copy.deepcopy(out["items"])
    return out


def top_items(order: Json) -> dict[int, Json]:
    """The rows documents name: simple products and configurable parents, not their children."""
    return {i["item_id"]: i for i in order["items"] if "parent_item_id" not in i}


def children(order: Json, parent: Json) -> list[Json]:
    return [i for i in order["items"] if i.get("parent_item_id") == parent["item_id"]]


def asked_items(
    body: Json, order: Json, remaining: Callable[[Json], int]
) -> list[tuple[Json, int]]:
    """``items: [{order_item_id, qty}]`` resolved to top-level rows; none given: all remaining.
    Children's ids are not documents' rows, so they resolve to nothing (Magento: "without
    products")."""
    rows = top_items(order)
    wanted = body.get("items") or []
    if not isinstance(wanted, list):
        raise error(400, "Invalid items")
    if not wanted:
        return [(row, remaining(row)) for row in rows.values() if remaining(row) > 0]
    picked: list[tuple[Json, int]] = []
    for item in wanted:
        if not isinstance(item, dict):
            raise error(400, "Invalid items")
        row = rows.get(item.get("order_item_id"))  # type: ignore[arg-type]
        qty = item.get("qty", 0)
        if row is None or not isinstance(qty, int | float) or qty <= 0:
            continue
        picked.append((row, int(qty)))
    return picked


def row_net(row: Json, qty: int) -> tuple[Decimal, Decimal]:
    """(row total, discount) of ``qty`` units of a row, the discount pro rata to the cent."""
    ordered = Decimal(row["qty_ordered"])
    return d(row["price"]) * qty, money.share(d(row["discount_amount"]), Decimal(qty), ordered)


class AdobeSandbox:
    """The stores, their lock, the webhook sender and the clock."""

    def __init__(self, settings: SandboxSettings, sender: WebhookSender, clock: Clock) -> None:
        self.settings = settings
        self.sender = sender
        self.clock = clock
        self.lock = asyncio.Lock()
        self.stores = {
            s.shop: AdobeStore(s) for s in settings.shops if s.platform == "adobe-commerce"
        }

    def store(self, name: str) -> AdobeStore:
        found = self.stores.get(name)
        if found is None:
            raise error(404, "Request does not match any route.")
        return found

    def authorised(self, name: str, request: Request, resource: str) -> AdobeStore:
        """The store, if the request carries ``Authorization: Bearer <access_token>``."""
        store = self.store(name)
        if request.headers.get("authorization") != f"Bearer {store.config.access_token}":
            raise SandboxError(
                401,
                {
                    "message": "The consumer isn't authorized to access %resources.",
                    "parameters": {"resources": resource},
                },
            )
        return store

    def touch(self, order: Json) -> str:
        now = magento_time(self.clock())
        order["updated_at"] = now
        return now

    # --- sandbox-only ---------------------------------------------------------------------

    async def place(self, name: str, checkout: AdobeCheckout) -> Json:
        store = self.store(name)
        async with self.lock:
            entity_id = store.order_ids()
            order = build_adobe_order(
                checkout,
                entity_id=entity_id,
                increment=entity_id,
                item_ids=store.item_ids,
                currency=store.config.currency,
                at=self.clock(),
            )
            store.orders[entity_id] = order
            shown = view(order)
        payload = {"eventName": "sales_order_place_after", "data": {"order": shown}}
        self.deliver(store, dump(payload), key=str(entity_id))
        return shown

    def deliver(self, store: AdobeStore, body: bytes, *, key: str) -> Delivery | None:
        url, pem = store.config.webhook_url, store.config.webhook_private_key_pem
        if not url or not pem:
            return None
        headers = {
            "Content-Type": "application/json",
            "x-adobe-commerce-webhook-signature": adobe_signature(
                pem, body, self.settings.adobe_signature_message
            ),
        }
        delivery = Delivery(store.config.shop, url, body, headers, key)
        self.sender.send(delivery)
        return delivery

    # --- search ------------------------------------------------------------------------------

    def search(self, rows: list[Json], query: list[tuple[str, str]]) -> Json:
        criteria = parse_search_criteria(query)
        found = [
            row for row in rows if all(_group_matches(row, g) for g in criteria["filter_groups"])
        ]
        for order in reversed(criteria.get("sort_orders", [])):
            name: str = order["field"]
            found.sort(
                key=lambda row: _sort_key(row.get(name)), reverse=order["direction"] == "DESC"
            )
        total = len(found)
        size, page = criteria.get("page_size"), criteria.get("current_page", 1)
        if size:
            last = max(1, -(-total // size))
            if page > last and self.settings.adobe_page_overflow == "last_page":
                page = last
            start = (max(page, 1) - 1) * size
            found = found[start : start + size]
        return {"items": found, "search_criteria": criteria, "total_count": total}

    # --- documents -----------------------------------------------------------------------------

    async def invoice(self, store: AdobeStore, order: Json, body: Json) -> int:
        async with self.lock:
            fail = "Invoice Document Validation Error(s):\n"
            if order["state"] in ("canceled", "closed", "complete", "holded"):
                raise error(
                    400,
                    fail
                    + "An invoice cannot be created when an order has a status of "
                    + order["status"],
                )

            def remaining(row: Json) -> int:
                return int(row["qty_ordered"] - row["qty_invoiced"] - row["qty_canceled"])

            picked = asked_items(body, order, remaining)
            for row, qty in picked:
                if qty > remaining(row):
                    raise error(
                        400, fail + f'We found an invalid quantity to invoice item "{row["name"]}".'
                    )
            if not picked:
                raise error(
                    400,
                    fail
                    + "The invoice can't be created without products. Add products and try again.",
                )
            return self._invoice(store, order, picked, body)

    def _invoice(
        self, store: AdobeStore, order: Json, picked: list[tuple[Json, int]], body: Json
    ) -> int:
        now = self.touch(order)
        first = not any(i["order_id"] == order["entity_id"] for i in store.invoices.values())
        shipping = d(order["shipping_amount"]) if first else Decimal(0)
        subtotal = discount = Decimal(0)
        lines = []
        for row, qty in picked:
            row_total, row_discount = row_net(row, qty)
            subtotal += row_total
            discount += row_discount
            for r in [row, *children(order, row)]:
                r["qty_invoiced"] += qty
                r["updated_at"] = now
            row["row_invoiced"] = n(d(row["row_invoiced"]) + row_total)
            row["base_row_invoiced"] = row["row_invoiced"]
            row["discount_invoiced"] = n(d(row["discount_invoiced"]) + row_discount)
            row["base_discount_invoiced"] = row["discount_invoiced"]
            lines.append(
                {
                    "order_item_id": row["item_id"],
                    "sku": row["sku"],
                    "name": row["name"],
                    "qty": qty,
                    "price": row["price"],
                    "base_price": row["base_price"],
                    "row_total": n(row_total),
                    "base_row_total": n(row_total),
                    "discount_amount": n(row_discount),
                    "tax_amount": 0,
                    "product_id": row["product_id"],
                }
            )
        grand = subtotal - discount + shipping
        entity_id = store.doc_ids()
        invoice = {
            "entity_id": entity_id,
            "order_id": order["entity_id"],
            "increment_id": f"{entity_id:09d}",
            "state": 2,
            "store_id": 1,
            "created_at": now,
            "updated_at": now,
            "total_qty": sum(q for _, q in picked),
            "subtotal": n(subtotal),
            "base_subtotal": n(subtotal),
            "discount_amount": n(-discount),
            "base_discount_amount": n(-discount),
            "shipping_amount": n(shipping),
            "base_shipping_amount": n(shipping),
            "tax_amount": 0,
            "base_tax_amount": 0,
            "grand_total": n(grand),
            "base_grand_total": n(grand),
            "order_currency_code": order["order_currency_code"],
            "base_currency_code": order["base_currency_code"],
            "items": [
                line | {"entity_id": store.doc_ids(), "parent_id": entity_id} for line in lines
            ],
            "comments": self._doc_comment(store, entity_id, body, now),
        }
        store.invoices[entity_id] = invoice
        for key, amount in (
            ("total_invoiced", grand),
            ("total_paid", grand),
            ("subtotal_invoiced", subtotal),
            ("discount_invoiced", -discount),
            ("shipping_invoiced", shipping),
        ):
            order[key] = n(d(order.get(key)) + amount)
        order["base_total_invoiced"], order["base_total_paid"] = (
            order["total_invoiced"],
            order["total_paid"],
        )
        order["total_due"] = n(d(order["grand_total"]) - d(order["total_paid"]))
        order["base_total_due"] = order["total_due"]
        order["payment"]["amount_paid"] = order["payment"]["base_amount_paid"] = order["total_paid"]
        self._append_comment(store, order, body, now)
        self._move_state(order)
        return entity_id

    async def ship(self, store: AdobeStore, order: Json, body: Json) -> int:
        async with self.lock:
            fail = "Shipment Document Validation Error(s):\n"
            if order["state"] in ("canceled", "closed", "holded"):
                raise error(
                    400,
                    fail
                    + "A shipment cannot be created when an order has a status of "
                    + order["status"],
                )

            def remaining(row: Json) -> int:
                return int(
                    row["qty_ordered"]
                    - row["qty_shipped"]
                    - row["qty_refunded"]
                    - row["qty_canceled"]
                )

            picked = asked_items(body, order, remaining)
            for row, qty in picked:
                if qty > remaining(row):
                    raise error(
                        400,
                        fail + f'We found an invalid quantity to ship for item "{row["name"]}".',
                    )
            if not picked:
                raise error(400, fail + "You can't create a shipment without products.")
            return self._ship(store, order, picked, body)

    def _ship(
        self, store: AdobeStore, order: Json, picked: list[tuple[Json, int]], body: Json
    ) -> int:
        now = self.touch(order)
        entity_id = store.doc_ids()
        for row, qty in picked:
            row["qty_shipped"] += qty  # the parent only: Magento leaves a child's at 0
            row["updated_at"] = now
        tracks = body.get("tracks") or []
        shipment = {
            "entity_id": entity_id,
            "order_id": order["entity_id"],
            "increment_id": f"{entity_id:09d}",
            "store_id": 1,
            "created_at": now,
            "updated_at": now,
            "total_qty": sum(q for _, q in picked),
            "email_sent": None,
            "billing_address_id": order["billing_address_id"],
            "shipping_address_id": order["billing_address_id"] + 1,
            "packages": [],
            "items": [
                {
                    "entity_id": store.doc_ids(),
                    "parent_id": entity_id,
                    "order_item_id": row["item_id"],
                    "sku": row["sku"],
                    "name": row["name"],
                    "qty": qty,
                    "price": row["price"],
                    "weight": row["weight"],
                    "product_id": row["product_id"],
                }
                for row, qty in picked
            ],
            "tracks": [
                {
                    "entity_id": store.doc_ids(),
                    "parent_id": entity_id,
                    "order_id": order["entity_id"],
                    "track_number": t.get("track_number"),
                    "title": t.get("title"),
                    "carrier_code": t.get("carrier_code"),
                    "description": t.get("description"),
                    "qty": t.get("qty"),
                    "weight": t.get("weight"),
                    "created_at": now,
                    "updated_at": now,
                }
                for t in tracks
                if isinstance(t, dict)
            ],
            "comments": self._doc_comment(store, entity_id, body, now),
        }
        store.shipments[entity_id] = shipment
        self._append_comment(store, order, body, now)
        self._move_state(order)
        return entity_id

    async def refund(self, store: AdobeStore, order: Json, body: Json) -> int:
        async with self.lock:
            fail = "Creditmemo Document Validation Error(s):\n"
            paid, refunded = d(order["total_paid"]), d(order["total_refunded"])
            if order["state"] in ("canceled", "closed", "holded") or paid - refunded <= 0:
                raise error(400, fail + "The order does not allow a creditmemo to be created.")

            def remaining(row: Json) -> int:
                return int(row["qty_invoiced"] - row["qty_refunded"])

            picked = asked_items(body, order, remaining)
            for row, qty in picked:
                if qty > remaining(row):
                    raise error(
                        400,
                        fail
                        + "The quantity to refund must not be greater than the unrefunded "
                        + "quantity.",
                    )
            args = body.get("arguments") or {}
            try:
                shipping_left = d(order["shipping_invoiced"]) - d(order["shipping_refunded"])
                shipping = (
                    money.parse(args["shipping_amount"], "shipping_amount")
                    if args.get("shipping_amount") is not None
                    else shipping_left
                )
                plus = money.parse(args.get("adjustment_positive") or 0, "adjustment_positive")
                minus = money.parse(args.get("adjustment_negative") or 0, "adjustment_negative")
            except money.MoneyError as exc:
                raise error(400, str(exc)) from exc
            if shipping > shipping_left:
                raise error(
                    400,
                    fail
                    + f"Maximum shipping amount allowed to refund is: {money.text(shipping_left)}",
                )
            items_total = sum(
                (t - disc for t, disc in (row_net(r, q) for r, q in picked)), Decimal(0)
            )
            grand = items_total + shipping + plus - minus
            if not picked and shipping == 0 and plus == 0:
                raise error(400, fail + "You can't create a creditmemo without products.")
            if grand <= 0:
                raise error(400, fail + "The credit memo's total must be positive.")
            if grand > paid - refunded:
                raise error(
                    400,
                    fail + f"The most money available to refund is {money.text(paid - refunded)}.",
                )
            return self._refund(store, order, picked, body, shipping, plus, minus, grand)

    def _refund(
        self,
        store: AdobeStore,
        order: Json,
        picked: list[tuple[Json, int]],
        body: Json,
        shipping: Decimal,
        plus: Decimal,
        minus: Decimal,
        grand: Decimal,
    ) -> int:
        now = self.touch(order)
        entity_id = store.doc_ids()
        subtotal = discount = Decimal(0)
        lines = []
        for row, qty in picked:
            row_total, row_discount = row_net(row, qty)
            subtotal += row_total
            discount += row_discount
            for r in [row, *children(order, row)]:
                r["qty_refunded"] += qty
                r["updated_at"] = now
            row["amount_refunded"] = n(d(row["amount_refunded"]) + row_total)
            row["base_amount_refunded"] = row["amount_refunded"]
            row["discount_refunded"] = n(d(row["discount_refunded"]) + row_discount)
            row["base_discount_refunded"] = row["discount_refunded"]
            lines.append(
                {
                    "entity_id": store.doc_ids(),
                    "parent_id": entity_id,
                    "order_item_id": row["item_id"],
                    "sku": row["sku"],
                    "name": row["name"],
                    "qty": qty,
                    "price": row["price"],
                    "base_price": row["base_price"],
                    "row_total": n(row_total),
                    "base_row_total": n(row_total),
                    "discount_amount": n(row_discount),
                    "tax_amount": 0,
                    "product_id": row["product_id"],
                }
            )
        invoice_id = max(
            (
                i["entity_id"]
                for i in store.invoices.values()
                if i["order_id"] == order["entity_id"]
            ),
            default=None,
        )
        memo = {
            "entity_id": entity_id,
            "order_id": order["entity_id"],
            "invoice_id": invoice_id,
            "increment_id": f"{entity_id:09d}",
            "state": 2,
            "store_id": 1,
            "created_at": now,
            "updated_at": now,
            "subtotal": n(subtotal),
            "base_subtotal": n(subtotal),
            "discount_amount": n(-discount),
            "base_discount_amount": n(-discount),
            "shipping_amount": n(shipping),
            "base_shipping_amount": n(shipping),
            "adjustment_positive": n(plus),
            "base_adjustment_positive": n(plus),
            "adjustment_negative": n(minus),
            "base_adjustment_negative": n(minus),
            "adjustment": n(plus - minus),
            "base_adjustment": n(plus - minus),
            "tax_amount": 0,
            "base_tax_amount": 0,
            "grand_total": n(grand),
            "base_grand_total": n(grand),
            "order_currency_code": order["order_currency_code"],
            "base_currency_code": order["base_currency_code"],
            "items": lines,
            "comments": self._doc_comment(store, entity_id, body, now),
        }
        store.creditmemos[entity_id] = memo
        for key, amount in (
            ("total_refunded", grand),
            ("total_offline_refunded", grand),
            ("subtotal_refunded", subtotal),
            ("discount_refunded", -discount),
            ("shipping_refunded", shipping),
            ("adjustment_positive", plus),
            ("adjustment_negative", minus),
        ):
            order[key] = n(d(order.get(key)) + amount)
        order["base_total_refunded"] = order["total_refunded"]
        order["base_total_offline_refunded"] = order["total_offline_refunded"]
        order["base_shipping_refunded"] = order["shipping_refunded"]
        order["payment"]["amount_refunded"] = order["payment"]["base_amount_refunded"] = order[
            "total_refunded"
        ]
        self._append_comment(store, order, body, now)
        self._move_state(order)
        return entity_id

    async def cancel(self, order: Json) -> bool:
        """Magento's ``canCancel``: not when every item is invoiced, nor once closed/complete."""
        async with self.lock:
            if order["state"] in ("canceled", "complete", "closed", "holded", "payment_review"):
                return False
            rows = top_items(order).values()
            if all(r["qty_ordered"] - r["qty_invoiced"] - r["qty_canceled"] <= 0 for r in rows):
                return False
            now = self.touch(order)
            for row in rows:
                to_invoice = row["qty_ordered"] - row["qty_invoiced"] - row["qty_canceled"]
                to_ship = (
                    row["qty_ordered"]
                    - row["qty_shipped"]
                    - row["qty_refunded"]
                    - row["qty_canceled"]
                )
                cancel = max(0, min(to_invoice, to_ship))
                for r in [row, *children(order, row)]:
                    r["qty_canceled"] += cancel
                    r["updated_at"] = now
            unpaid = d(order["grand_total"]) - d(order["total_paid"])
            order["total_canceled"] = order["base_total_canceled"] = n(unpaid)
            order["state"] = order["status"] = "canceled"
            return True

    async def comment(self, store: AdobeStore, order: Json, body: Json) -> bool:
        history = body.get("statusHistory")
        if not isinstance(history, dict) or not isinstance(history.get("comment"), str):
            raise error(
                400,
                '"%fieldName" is required. Enter and try again.',
                {"fieldName": "statusHistory"},
            )
        async with self.lock:
            now = self.touch(order)
            status = history.get("status")
            if status == STATUS_OF_STATE.get(order["state"]):
                order["status"] = status
            self._history(
                store,
                order,
                history["comment"],
                now,
                notified=history.get("is_customer_notified"),
                visible=history.get("is_visible_on_front", 0),
            )
            return True

    # --- helpers -----------------------------------------------------------------------------

    def _history(
        self, store: AdobeStore, order: Json, text: str, now: str, *, notified: Any, visible: Any
    ) -> None:
        """Newest first, as Magento lists ``status_histories``."""
        order["status_histories"].insert(
            0,
            {
                "entity_id": store.history_ids(),
                "parent_id": order["entity_id"],
                "entity_name": "order",
                "comment": text,
                "created_at": now,
                "is_customer_notified": int(bool(notified)) if notified is not None else None,
                "is_visible_on_front": int(bool(visible)),
                "status": order["status"],
            },
        )

    def _append_comment(self, store: AdobeStore, order: Json, body: Json, now: str) -> None:
        comment = body.get("comment")
        if body.get("appendComment") and isinstance(comment, dict) and comment.get("comment"):
            self._history(
                store,
                order,
                str(comment["comment"]),
                now,
                notified=body.get("notify"),
                visible=comment.get("is_visible_on_front", 0),
            )

    @staticmethod
    def _doc_comment(store: AdobeStore, parent_id: int, body: Json, now: str) -> list[Json]:
        comment = body.get("comment")
        if not isinstance(comment, dict) or not comment.get("comment"):
            return []
        return [
            {
                "entity_id": store.history_ids(),
                "parent_id": parent_id,
                "comment": str(comment["comment"]),
                "created_at": now,
                "is_customer_notified": int(bool(body.get("notify"))),
                "is_visible_on_front": int(bool(comment.get("is_visible_on_front"))),
            }
        ]

    @staticmethod
    def _move_state(order: Json) -> None:
        """new -> processing once anything is invoiced or shipped; complete when nothing is left
        to invoice or ship; closed when everything paid was refunded (Magento's state check)."""
        if order["state"] in ("canceled", "holded"):
            return
        rows = top_items(order).values()
        can_invoice = any(
            r["qty_ordered"] - r["qty_invoiced"] - r["qty_canceled"] > 0 for r in rows
        )
        can_ship = any(
            r["qty_ordered"] - r["qty_shipped"] - r["qty_refunded"] - r["qty_canceled"] > 0
            for r in rows
        )
        can_refund = d(order["total_paid"]) - d(order["total_refunded"]) > 0
        touched = any(r["qty_invoiced"] or r["qty_shipped"] for r in rows)
        state = order["state"]
        if state == "new" and touched:
            state = "processing"
        if state in ("processing", "complete") and not can_invoice:
            if not can_refund:
                state = "closed"
            elif not can_ship:
                state = "complete"
        if state != order["state"]:
            order["state"] = state
            order["status"] = STATUS_OF_STATE[state]


# --- searchCriteria ----------------------------------------------------------------------------

_KEY = re.compile(r"\[([^\]]*)\]")


def parse_search_criteria(query: list[tuple[str, str]]) -> Json:
    """``searchCriteria[filter_groups][0][filters][0][field]=...`` into Magento's echo of it."""
    tree: dict[str, Any] = {}
    for key, value in query:
        if not key.startswith("searchCriteria["):
            continue
        path = _KEY.findall(key[len("searchCriteria") :])
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise error(400, "Invalid searchCriteria")
        node[path[-1]] = value
    groups = []
    for _, group in sorted(tree.get("filter_groups", {}).items(), key=lambda kv: int(kv[0])):
        filters = []
        for _, f in sorted(group.get("filters", {}).items(), key=lambda kv: int(kv[0])):
            condition = f.get("condition_type", f.get("conditionType", "eq"))
            if condition not in (*CONDITIONS, "in", "nin", "like", "nlike", "null", "notnull"):
                raise error(400, f'Invalid condition type "{condition}"')
            filters.append(
                {
                    "field": f.get("field", ""),
                    "value": f.get("value", ""),
                    "condition_type": condition,
                }
            )
        groups.append({"filters": filters})
    criteria: Json = {"filter_groups": groups}
    sorts = [
        {"field": s.get("field", ""), "direction": str(s.get("direction", "ASC")).upper()}
        for _, s in sorted(
            tree.get("sortOrders", tree.get("sort_orders", {})).items(), key=lambda kv: int(kv[0])
        )
    ]
    if sorts:
        criteria["sort_orders"] = sorts
    for name, out in (
        ("pageSize", "page_size"),
        ("page_size", "page_size"),
        ("currentPage", "current_page"),
        ("current_page", "current_page"),
    ):
        if name in tree:
            try:
                criteria[out] = int(tree[name])
            except ValueError as exc:
                raise error(400, f'The "{name}" value is not an integer.') from exc
    return criteria


def _typed(row_value: Any, value: str) -> tuple[Any, Any]:
    """Numbers compare as numbers, everything else as text (Magento's SQL does much the same)."""
    if isinstance(row_value, int | float) and not isinstance(row_value, bool):
        try:
            return Decimal(str(row_value)), Decimal(value)
        except ArithmeticError:
            pass
    return ("" if row_value is None else str(row_value)), value


def _filter_matches(row: Json, f: Json) -> bool:
    field_name, value, condition = f["field"], str(f["value"]), f["condition_type"]
    actual = row.get(field_name)
    if condition == "null":
        return actual is None
    if condition == "notnull":
        return actual is not None
    if condition in ("in", "nin"):
        hit = any(
            _typed(actual, v.strip())[0] == _typed(actual, v.strip())[1] for v in value.split(",")
        )
        return hit if condition == "in" else not hit
    if condition in ("like", "nlike"):
        pattern = "^" + ".*".join(re.escape(p) for p in value.split("%")) + "$"
        hit = re.match(pattern, "" if actual is None else str(actual), re.IGNORECASE) is not None
        return hit if condition == "like" else not hit
    if actual is None:
        return False
    a, b = _typed(actual, value)
    return CONDITIONS[condition](a, b)


def _group_matches(row: Json, group: Json) -> bool:
    """Filters inside one group are OR'ed; the groups themselves are AND'ed by the caller."""
    return not group["filters"] or any(_filter_matches(row, f) for f in group["filters"])


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, Decimal(str(value)))
    return (1, "" if value is None else str(value))


async def json_body(request: Request) -> Json:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise error(400, "Decoding error: \nSyntax error") from exc
    if not isinstance(body, dict):
        raise error(400, "Decoding error: \nSyntax error")
    return body


def adobe_router(sandbox: AdobeSandbox) -> APIRouter:
    """Routes under ``/adobe-commerce/{store}``: ``sandbox/...`` and ``rest/V1/...`` (the
    middleware maps ``rest/<store code>/V1`` onto ``rest/V1``)."""
    r = APIRouter(prefix="/adobe-commerce/{store}")
    v1 = "/rest/V1"

    def docs(store: AdobeStore, kind: str) -> list[Json]:
        return list(getattr(store, kind).values())

    @r.post("/sandbox/orders", status_code=201)
    async def place(store: str, body: AdobeCheckout) -> Json:
        return {"order": await sandbox.place(store, body)}

    @r.post("/sandbox/webhooks", status_code=202)
    async def raw_webhook(store: str, request: Request) -> Json:
        found = sandbox.store(store)
        delivery = sandbox.deliver(found, await request.body(), key="raw")
        if delivery is None:
            raise error(409, "This store has no webhook_url")
        return {"delivery_id": delivery.delivery_id}

    @r.post("/sandbox/orders/{order_id}/redeliver", status_code=202)
    async def redeliver(store: str, order_id: str) -> Json:
        sandbox.store(store).order(order_id)
        last = sandbox.sender.latest(store, order_id)
        if last is None:
            raise error(404, "No webhook was delivered for this order")
        again = Delivery(store, last.url, last.body, dict(last.headers), last.key)
        sandbox.sender.send(again)
        return {"delivery_id": again.delivery_id}

    @r.get("/sandbox/deliveries")
    async def deliveries(store: str) -> Json:
        sandbox.store(store)
        return {"deliveries": [a.as_json() for a in sandbox.sender.attempts if a.shop == store]}

    @r.get(v1 + "/orders")
    async def list_orders(store: str, request: Request) -> Json:
        found = sandbox.authorised(store, request, "Magento_Sales::actions_view")
        rows = [view(o) for o in found.orders.values()]
        return sandbox.search(rows, list(request.query_params.multi_items()))

    @r.get(v1 + "/orders/{order_id}")
    async def get_order(store: str, order_id: str, request: Request) -> Json:
        found = sandbox.authorised(store, request, "Magento_Sales::actions_view")
        return view(found.order(order_id))

    for kind in ("invoices", "shipments", "creditmemos"):

        async def search_docs(store: str, request: Request, kind: str = kind) -> Json:
            found = sandbox.authorised(store, request, "Magento_Sales::sales")
            return sandbox.search(docs(found, kind), list(request.query_params.multi_items()))

        r.add_api_route(v1 + "/" + kind, search_docs, methods=["GET"])

    @r.post(v1 + "/order/{order_id}/invoice")
    async def post_invoice(store: str, order_id: str, request: Request) -> int:
        found = sandbox.authorised(store, request, "Magento_Sales::sales_invoice")
        return await sandbox.invoice(found, found.order(order_id), await json_body(request))

    @r.post(v1 + "/order/{order_id}/ship")
    async def post_ship(store: str, order_id: str, request: Request) -> int:
        found = sandbox.authorised(store, request, "Magento_Sales::ship")
        return await sandbox.ship(found, found.order(order_id), await json_body(request))

    @r.post(v1 + "/order/{order_id}/refund")
    async def post_refund(store: str, order_id: str, request: Request) -> int:
        found = sandbox.authorised(store, request, "Magento_Sales::creditmemo")
        return await sandbox.refund(found, found.order(order_id), await json_body(request))

    @r.post(v1 + "/orders/{order_id}/cancel")
    async def post_cancel(store: str, order_id: str, request: Request) -> bool:
        found = sandbox.authorised(store, request, "Magento_Sales::cancel")
        return await sandbox.cancel(found.order(order_id))

    @r.post(v1 + "/orders/{order_id}/comments")
    async def post_comment(store: str, order_id: str, request: Request) -> bool:
        found = sandbox.authorised(store, request, "Magento_Sales::comment")
        return await sandbox.comment(found, found.order(order_id), await json_body(request))

    @r.get(v1 + "/orders/{order_id}/comments")
    async def get_comments(store: str, order_id: str, request: Request) -> Json:
        found = sandbox.authorised(store, request, "Magento_Sales::actions_view")
        histories = found.order(order_id)["status_histories"]
        return {"items": histories, "total_count": len(histories)}

    return r
