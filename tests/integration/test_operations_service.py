"""The operations service against the real stack: dashboards from real contract events,
then rebuilt from zero.

The service runs in-process (a ``ServiceHost`` on the module's scratch database, under a
fresh topic prefix). The test publishes what the other services would for four orders on
the prefixed order, shipping and returns topics: one split over two warehouses,
delivered (one parcel late), partly returned and rated 2; one single-parcel order
delivered on time and rated 5; one confirmed and waiting in its warehouse (its parcel
booked, past its promised date); one cancelled. On the payments, inventory and
fulfilment topics: the four orders' payments (captured twice, partly voided and
refunded; PayPal; iDEAL; declined), stock received, moved, reserved and shipped, a
planned promotion, and the warehouses' fulfilments (envelopes dated hours and days
back), with a fifth order's large pick at MAD that keeps its backlog above capacity.
One message is sent twice (a redelivery). The dashboards' figures and the orders'
timelines are checked against figures computed here from the published events. Then the
read models are emptied and a new generation of the consumers (fresh groups and inbox)
reads the topics from their beginning: the figures are the same (the dashboards' clock
is fixed, so readiness and the hours do not move between the two).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from oms_events.base import Event
from oms_events.capacity import CAPACITY
from oms_events.contracts.common import Allocation, ItemCondition, ReturnedLine, SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    ShortPicked,
)
from oms_events.contracts.inventory import (
    LowStockThresholdSet,
    PromotionPlanned,
    StockAdjusted,
    StockAllocated,
    StockIssued,
    StockReceived,
    StockTransferred,
)
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderReturnRecorded,
    OrderShipped,
)
from oms_events.contracts.payments import (
    PaymentAuthorizationRequested,
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
    ReturnResolved,
)
from oms_events.contracts.shipping import ShipmentBooked, ShipmentDelivered, ShipmentDispatched
from oms_events.envelope import Envelope
from oms_events.examples import eur, example
from oms_events.registry import envelope_for
from oms_operations.app import create_app
from oms_operations.projections import promotions, tables
from oms_operations.projections.promotions import PromotionRow
from oms_operations.queries import SqlDashboardQueries
from oms_operations.settings import OperationsSettings
from oms_platform.db import create_engine
from oms_platform.service import ServiceHost
from oms_platform.settings import RetrySettings
from oms_platform.testing import auth
from oms_platform.testing.kafka import TestTopics, eventually
from oms_platform.testing.keys import service_keys

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.date()
TEE, MUG = "TSHIRT-BLU-M", "MUG-ENAMEL-WHT"


def make(cls: type[Any], **changes: Any) -> Any:
    return cls.model_validate({**example(cls).model_dump(), **changes})


def scenario(tag: str) -> list[Event]:
    """The events of the four orders, in the order each service would publish them."""
    a, b, c, d = (f"ord-{tag}-{n}" for n in "abcd")
    tee = SkuQuantity(sku=TEE, quantity=2).model_dump()
    mug = SkuQuantity(sku=MUG, quantity=1).model_dump()

    def placed(order_id: str) -> Event:
        return make(OrderPlaced, order_id=order_id, placed_at=NOW - timedelta(hours=30))

    def confirmed(order_id: str, tee_from: str, mug_from: str) -> Event:
        return make(
            OrderConfirmed,
            order_id=order_id,
            allocations=[
                Allocation(line_id="1", sku=TEE, warehouse_id=tee_from, quantity=2).model_dump(),
                Allocation(line_id="2", sku=MUG, warehouse_id=mug_from, quantity=1).model_dump(),
            ],
        )

    def parcel(
        order_id: str,
        sid: str,
        wh: str,
        carrier: str,
        cost: str,
        lines: list[Any],
        promised_in_days: int,
        delivered_ago: timedelta,
    ) -> list[Event]:
        common = {"order_id": order_id, "shipment_id": sid, "carrier": carrier}
        at = NOW - delivered_ago
        return [
            make(
                ShipmentBooked,
                **common,
                warehouse_id=wh,
                service="standard",
                shipping_cost=eur(cost).model_dump(),
                shipping_charged=eur("4.95").model_dump(),
                promised_delivery_date=TODAY + timedelta(days=promised_in_days),
            ),
            make(
                ShipmentDispatched,
                **common,
                warehouse_id=wh,
                service="standard",
                shipping_cost=eur(cost).model_dump(),
                lines=lines,
            ),
            make(OrderShipped, **common, warehouse_id=wh, lines=lines),
            make(ShipmentDelivered, **common, delivered_at=at),
            make(OrderDelivered, **common, delivered_at=at),
        ]

    rma = f"rma-{tag}"
    return [
        placed(a),
        confirmed(a, "BER", "AMS"),
        *parcel(a, f"shp-{tag}-a1", "BER", "dhl", "5.10", [tee], -3, timedelta(days=1)),
        *parcel(a, f"shp-{tag}-a2", "AMS", "postnl", "3.85", [mug], 2, timedelta(hours=1)),
        make(
            ReturnRequested,
            return_id=rma,
            order_id=a,
            lines=[
                ReturnRequestLine(sku=TEE, quantity=1, reason=ReturnReason.WRONG_SIZE).model_dump()
            ],
        ),
        make(
            ReturnAuthorized,
            return_id=rma,
            order_id=a,
            warehouse_id="BER",
            lines=[SkuQuantity(sku=TEE, quantity=1).model_dump()],
        ),
        make(
            ReturnReceived,
            return_id=rma,
            order_id=a,
            warehouse_id="BER",
            lines=[
                ReturnedLine(sku=TEE, quantity=1, condition=ItemCondition.RESELLABLE).model_dump()
            ],
            refund_amount=eur("19.95").model_dump(),
        ),
        make(ReturnResolved, return_id=rma, order_id=a),
        make(OrderReturnRecorded, order_id=a, return_id=rma, status="partially_returned"),
        make(FeedbackReceived, order_id=a, rating=2),
        placed(b),
        confirmed(b, "BER", "BER"),
        *parcel(b, f"shp-{tag}-b", "BER", "dhl", "4.20", [tee, mug], 2, timedelta(hours=2)),
        make(FeedbackReceived, order_id=b, rating=5),
        placed(c),
        confirmed(c, "AMS", "AMS"),
        make(
            ShipmentBooked,
            order_id=c,
            shipment_id=f"shp-{tag}-c",
            carrier="dhl",
            warehouse_id="AMS",
            promised_delivery_date=TODAY - timedelta(days=1),
        ),
        placed(d),
        make(OrderCancelled, order_id=d),
        *payments(tag),
    ]


def payments(tag: str) -> list[Event]:
    """Order a's card captured per parcel, partly released and refunded; b by PayPal; c by
    iDEAL (captured up front); d's card declined."""
    a, b, c, d = (f"ord-{tag}-{n}" for n in "abcd")

    def pay(cls: type[Any], order_id: str, method: str, amount: str, **more: Any) -> Event:
        money = eur(amount).model_dump()
        pid = f"pay-{order_id}"
        return make(cls, order_id=order_id, payment_id=pid, method=method, amount=money, **more)

    return [
        pay(PaymentAuthorizationRequested, a, "card", "57.35"),
        pay(PaymentAuthorized, a, "card", "57.35"),
        pay(PaymentCaptured, a, "card", "40.00", shipment_id=f"shp-{tag}-a1"),
        pay(PaymentCaptured, a, "card", "15.35", shipment_id=f"shp-{tag}-a2"),
        pay(PaymentVoided, a, "card", "2.00", release_id="short-1"),
        pay(RefundIssued, a, "card", "19.95", refund_id="ref-1"),
        pay(PaymentAuthorizationRequested, b, "paypal", "57.35"),
        pay(PaymentAuthorized, b, "paypal", "57.35"),
        pay(PaymentCaptured, b, "paypal", "57.35", shipment_id=f"shp-{tag}-b"),
        pay(PaymentAuthorizationRequested, c, "ideal", "57.35"),
        pay(PaymentAuthorized, c, "ideal", "57.35"),
        pay(PaymentCaptured, c, "ideal", "57.35", shipment_id=None),
        pay(PaymentAuthorizationRequested, d, "card", "57.35"),
        pay(PaymentDeclined, d, "card", "57.35", reason="insufficient_funds"),
    ]


def dated(tag: str) -> list[tuple[Event, datetime]]:
    """Inventory's and fulfilment's events for the orders, with when they happened."""
    a, b, c, e = (f"ord-{tag}-{n}" for n in "abce")
    days, hours = (lambda n: NOW - timedelta(days=n)), (lambda n: NOW - timedelta(hours=n))

    def lines(*pairs: tuple[str, int]) -> list[Any]:
        return [SkuQuantity(sku=sku, quantity=q).model_dump() for sku, q in pairs]

    def allocated(order_id: str, sku: str, wh: str, q: int) -> Event:
        allocation = Allocation(line_id="1", sku=sku, warehouse_id=wh, quantity=q).model_dump()
        return make(StockAllocated, order_id=order_id, sku=sku, allocations=[allocation])

    def issued(order_id: str, sku: str, wh: str, q: int) -> Event:
        return make(StockIssued, order_id=order_id, sku=sku, warehouse_id=wh, quantity=q)

    def fulfilment(cls: type[Any], order_id: str, fid: str, wh: str, **more: Any) -> Event:
        return make(cls, order_id=order_id, fulfilment_id=fid, warehouse_id=wh, **more)

    return [
        *(
            (make(StockReceived, sku=sku, warehouse_id=wh, quantity=q), days(5))
            for sku, wh, q in (
                (TEE, "AMS", 50),
                (TEE, "BER", 30),
                (MUG, "AMS", 20),
                (MUG, "BER", 10),
            )
        ),
        (make(LowStockThresholdSet, sku=TEE, warehouse_id="BER", threshold=40), days(5)),
        (
            make(
                StockTransferred,
                sku=TEE,
                from_warehouse_id="AMS",
                to_warehouse_id="BER",
                quantity=5,
            ),
            days(4),
        ),
        (make(StockAdjusted, sku=MUG, warehouse_id="BER", delta=-1), days(2)),
        (allocated(a, TEE, "BER", 2), hours(30)),
        (allocated(a, MUG, "AMS", 1), hours(30)),
        (allocated(b, TEE, "BER", 2), hours(30)),
        (allocated(b, MUG, "BER", 1), hours(30)),
        (allocated(c, TEE, "AMS", 2), hours(30)),
        (allocated(c, MUG, "AMS", 1), hours(30)),
        (issued(a, TEE, "BER", 2), hours(29)),
        (issued(a, MUG, "AMS", 1), hours(29)),
        (issued(b, TEE, "BER", 2), hours(29)),
        (issued(b, MUG, "BER", 1), hours(29)),
        (
            make(
                PromotionPlanned,
                promotion_id=f"promo-{tag}",
                skus=[TEE],
                starts_at=NOW + timedelta(days=2),
                ends_at=NOW + timedelta(days=9),
                expected_uplift="50",  # a big sale: TEE runs short at BER
            ),
            days(1),
        ),
        (fulfilment(FulfilmentRequested, a, f"ful-{a}-1", "BER", lines=lines((TEE, 2))), hours(30)),
        (fulfilment(FulfilmentRequested, a, f"ful-{a}-2", "AMS", lines=lines((MUG, 1))), hours(30)),
        (fulfilment(OrderPacked, a, f"ful-{a}-1", "BER", lines=lines((TEE, 2))), hours(29)),
        (fulfilment(OrderPacked, a, f"ful-{a}-2", "AMS", lines=lines((MUG, 1))), hours(29)),
        (
            fulfilment(FulfilmentRequested, b, f"ful-{b}", "BER", lines=lines((TEE, 2), (MUG, 1))),
            hours(30),
        ),
        (fulfilment(OrderPacked, b, f"ful-{b}", "BER", lines=lines((TEE, 2), (MUG, 1))), hours(29)),
        (
            fulfilment(FulfilmentRequested, c, f"ful-{c}", "AMS", lines=lines((TEE, 2), (MUG, 1))),
            hours(3),
        ),
        (
            fulfilment(FulfilmentRequested, e, f"ful-{e}-1", "MAD", lines=lines((TEE, 250))),
            hours(4),
        ),
        (fulfilment(ShortPicked, e, f"ful-{e}-1", "MAD", missing=lines((TEE, 20))), hours(2)),
        (fulfilment(OrderPacked, e, f"ful-{e}-1", "MAD", lines=lines((TEE, 90))), hours(2)),
        (fulfilment(FulfilmentRequested, e, f"ful-{e}-2", "MAD", lines=lines((MUG, 5))), hours(2)),
        (
            fulfilment(
                FulfilmentCancelled,
                e,
                f"ful-{e}-2",
                "MAD",
                reason="cancelled",
                lines=lines((MUG, 5)),
            ),
            hours(1),
        ),
    ]


def expected(events: list[Event]) -> dict[str, Any]:
    """The dashboards' figures, counted straight from the events."""
    status: dict[str, str] = {}  # the last status each order's events gave it
    value: dict[str, Decimal] = {}
    names = {
        OrderPlaced: "placed",
        OrderConfirmed: "confirmed",
        OrderShipped: "shipped",
        OrderDelivered: "delivered",
        OrderCancelled: "cancelled",
    }
    for e in events:
        if isinstance(e, OrderPlaced):
            value[e.order_id] = sum(
                (x.unit_price.amount * x.quantity for x in e.lines), e.shipping_charge.amount
            )
        if isinstance(e, OrderReturnRecorded) and e.status is not None:
            status[e.order_id] = e.status.value
        elif type(e) in names:
            status[str(getattr(e, "order_id"))] = names[type(e)]  # noqa: B009
    dispatched = [e for e in events if isinstance(e, ShipmentDispatched)]
    booked = {e.shipment_id: e for e in events if isinstance(e, ShipmentBooked)}
    delivered = {e.shipment_id: e for e in events if isinstance(e, ShipmentDelivered)}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for s in dispatched:
        g = groups.setdefault(
            (s.carrier, s.warehouse_id),
            {"parcels": 0, "cost": Decimal(0), "late": 0, "orders": set()},
        )
        g["parcels"] += 1
        g["cost"] += s.shipping_cost.amount
        g["orders"].add(s.order_id)
        promised = booked[s.shipment_id].promised_delivery_date
        assert promised is not None
        g["late"] += delivered[s.shipment_id].delivered_at.date() > promised
    ratings = [e.rating for e in events if isinstance(e, FeedbackReceived)]
    refunds = [e.refund_amount.amount for e in events if isinstance(e, ReturnResolved)]
    return {
        "by_status": Counter(status.values()),
        "groups": groups,
        "value": value,
        "ratings": ratings,
        "returns": sum(isinstance(e, ReturnRequested) for e in events),
        "refunded": sum(refunds, Decimal(0)),
        "delivered_orders": len({e.order_id for e in events if isinstance(e, OrderDelivered)}),
    }


def expected_payments(events: list[Event]) -> dict[str, Any]:
    """The payments dashboard's figures, counted from the payments events."""
    asked = [e for e in events if isinstance(e, PaymentAuthorizationRequested)]
    orders = {e.order_id for e in asked}
    mix: dict[tuple[str, str], dict[str, Any]] = {}
    for e in asked:
        m = mix.setdefault(
            (e.method.value, e.amount.currency),
            {"payments": 0, "orders": set(), "amount": Decimal(0)},
        )
        m["payments"] += 1
        m["orders"].add(e.order_id)
        m["amount"] += e.amount.amount
    method = {e.payment_id: e.method.value for e in asked}
    declined = {e.payment_id: e.reason.value for e in events if isinstance(e, PaymentDeclined)}
    answered = {e.payment_id for e in events if isinstance(e, PaymentAuthorized)} | set(declined)
    totals: dict[str, dict[str, Decimal]] = {}
    kinds = {
        PaymentAuthorized: "authorized",
        PaymentCaptured: "captured",
        RefundIssued: "refunded",
        PaymentVoided: "voided",
    }
    for e in events:
        if type(e) in kinds:
            money = e.amount  # type: ignore[attr-defined]
            per = totals.setdefault(money.currency, dict.fromkeys(kinds.values(), Decimal(0)))
            per[kinds[type(e)]] += money.amount
    return {
        "payments": len(asked),
        "by_method": [
            {
                "method": k[0],
                "currency": k[1],
                "payments": m["payments"],
                "orders": len(m["orders"]),
                "order_share": round(len(m["orders"]) / len(orders), 4),
                "amount": m["amount"],
            }
            for k, m in sorted(mix.items())
        ],
        "attempted": len(answered),
        "declined": Counter(method[p] for p in declined),
        "attempted_by_method": Counter(method[p] for p in answered),
        "reasons": Counter(declined.values()),
        "totals": totals,
    }


def expected_stock(events: list[tuple[Event, datetime]]) -> dict[str, Any]:
    """Stock per SKU x warehouse and units reserved per SKU x warehouse in the last 28 days,
    counted from the inventory events."""
    on_hand: Counter[tuple[str, str]] = Counter()
    reserved: Counter[tuple[str, str]] = Counter()
    recent: Counter[tuple[str, str]] = Counter()
    threshold: dict[tuple[str, str], int] = {}
    promotion = None
    for e, when in events:
        match e:
            case StockReceived():
                on_hand[(e.sku, e.warehouse_id)] += e.quantity
            case StockAdjusted():
                on_hand[(e.sku, e.warehouse_id)] += e.delta
            case StockTransferred():
                on_hand[(e.sku, e.from_warehouse_id)] -= e.quantity
                on_hand[(e.sku, e.to_warehouse_id)] += e.quantity
            case StockAllocated():
                for a in e.allocations:
                    reserved[(e.sku, a.warehouse_id)] += a.quantity
                    if when.date() > TODAY - timedelta(days=28):
                        recent[(e.sku, a.warehouse_id)] += a.quantity
            case StockIssued():
                on_hand[(e.sku, e.warehouse_id)] -= e.quantity
                reserved[(e.sku, e.warehouse_id)] -= e.quantity
            case LowStockThresholdSet():
                threshold[(e.sku, e.warehouse_id)] = e.threshold
            case PromotionPlanned():
                promotion = e
    levels = [
        {
            "sku": sku,
            "warehouse": wh,
            "on_hand": on_hand[(sku, wh)],
            "reserved": reserved[(sku, wh)],
            "available": on_hand[(sku, wh)] - reserved[(sku, wh)],
            "low_stock_threshold": threshold.get((sku, wh), 0),
            "low": on_hand[(sku, wh)] - reserved[(sku, wh)] < threshold.get((sku, wh), 0),
        }
        for sku, wh in sorted({*on_hand, *reserved, *threshold})
    ]
    return {"levels": levels, "recent": recent, "promotion": promotion}


def expected_capacity(events: list[tuple[Event, datetime]]) -> dict[str, Any]:
    """Per warehouse and hour of the last 24 (to the fixed clock's), the units in, packed
    and dropped and the backlog at the hour's end, counted from the fulfilment events."""
    last = NOW.replace(minute=0, second=0, microsecond=0)
    hours = [last - timedelta(hours=23 - n) for n in range(24)]
    moves: dict[str, Counter[tuple[datetime, str]]] = {}
    for e, when in events:
        if not isinstance(e, FulfilmentRequested | OrderPacked | ShortPicked | FulfilmentCancelled):
            continue
        hour = when.replace(minute=0, second=0, microsecond=0)
        c = moves.setdefault(e.warehouse_id, Counter())
        if isinstance(e, FulfilmentRequested):
            c[(hour, "in")] += sum(x.quantity for x in e.lines)
        elif isinstance(e, OrderPacked):
            c[(hour, "packed")] += sum(x.quantity for x in e.lines)
        elif isinstance(e, ShortPicked):
            c[(hour, "dropped")] += sum(x.quantity for x in e.missing)
        else:
            c[(hour, "dropped")] += sum(x.quantity for x in e.lines)
    per: dict[str, list[tuple[int, int, int, int]]] = {}
    for wh, c in moves.items():
        backlog = sum(n * (1 if kind == "in" else -1) for (h, kind), n in c.items() if h < hours[0])
        rows = []
        for h in hours:
            backlog += c[(h, "in")] - c[(h, "packed")] - c[(h, "dropped")]
            rows.append((c[(h, "in")], c[(h, "packed")], c[(h, "dropped")], backlog))
        per[wh] = rows
    return {"hours": [h.isoformat() for h in hours], "per": per}


def expected_late(events: list[Event]) -> list[tuple[str, str, int]]:
    """(order, parcel, days late) of parcels delivered after their promised date or still
    out after it, the oldest promise first."""
    delivered = {
        e.shipment_id: e.delivered_at.date() for e in events if isinstance(e, ShipmentDelivered)
    }
    late = []
    for e in events:
        if isinstance(e, ShipmentBooked) and e.promised_delivery_date is not None:
            day = delivered.get(e.shipment_id, TODAY)
            if day > e.promised_delivery_date:
                late.append(
                    (
                        e.promised_delivery_date,
                        e.order_id,
                        e.shipment_id,
                        (day - e.promised_delivery_date).days,
                    )
                )
    return [(o, s, d) for _, o, s, d in sorted(late)]


def check_more(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The payments, stock and capacity dashboards, orders past their promised date and
    the timelines against the figures counted from the events."""
    late = got["orders"]["past_promised_date"]
    assert [(r["order_id"], r["shipment_id"], r["days_late"]) for r in late["oldest"]] == want[
        "late"
    ]
    assert late["parcels"] == len(want["late"]) and late["orders"] == len(
        {o for o, _, _ in want["late"]}
    )

    pay, wp = got["payments"], want["payments"]
    assert pay["payments"] == wp["payments"]
    assert [{**m, "amount": Decimal(m["amount"])} for m in pay["by_method"]] == wp["by_method"]
    declines = pay["declines"]
    assert (declines["attempted"], declines["declined"]) == (
        wp["attempted"],
        sum(wp["declined"].values()),
    )
    assert {d["method"]: (d["attempted"], d["declined"]) for d in declines["by_method"]} == {
        m: (n, wp["declined"].get(m, 0)) for m, n in wp["attempted_by_method"].items()
    }
    assert {r["reason"]: r["declined"] for r in declines["by_reason"]} == dict(wp["reasons"])
    assert {
        t["currency"]: {k: Decimal(t[k]) for k in ("authorized", "captured", "refunded", "voided")}
        for t in pay["totals"]
    } == wp["totals"]
    assert pay["by_status"]["partially_refunded"] == 1 and pay["by_status"]["declined"] == 1

    stock, ws = got["stock"], want["stock"]
    assert stock["levels"] == ws["levels"] and stock["rows"] == len(ws["levels"])
    assert stock["low_stock"]["levels"] == [lv for lv in ws["levels"] if lv["low"]]
    assert stock["low_stock"]["rows"] >= 1  # TEE at BER, below its threshold of 40
    (readiness,) = stock["promotions"]
    plan: PromotionPlanned = ws["promotion"]
    row = PromotionRow(
        plan.promotion_id,
        plan.name,
        tuple(plan.skus),
        plan.starts_at,
        plan.ends_at,
        plan.expected_uplift,
    )
    available = {(lv["sku"], lv["warehouse"]): lv["available"] for lv in ws["levels"]}
    outlooks = promotions.outlooks(row, available, ws["recent"], now=NOW)
    (tee,) = readiness["skus"]
    assert readiness["promotion_id"] == plan.promotion_id
    assert tee["available"] == sum(o.available for o in outlooks)
    assert tee["shortfall"] == sum(o.shortfall for o in outlooks) > 0
    assert tee["suggested_reorder"] == tee["shortfall"] and readiness["ready"] is False
    assert [(w["warehouse"], w["expected_demand"]) for w in tee["warehouses"]] == [
        (o.warehouse, float(o.expected_demand)) for o in outlooks
    ]

    cap, wc = got["capacity"], want["capacity"]
    assert cap["hours"] == wc["hours"]
    assert {w["warehouse"] for w in cap["warehouses"]} == set(wc["per"])
    for w in cap["warehouses"]:
        series = [
            (h["units_in"], h["units_packed"], h["units_dropped"], h["backlog"]) for h in w["hours"]
        ]
        assert series == wc["per"][w["warehouse"]], w["warehouse"]
        assert w["capacity"]["packs_per_hour"] == CAPACITY[w["warehouse"]].packs_per_hour
    mad = CAPACITY["MAD"].packs_per_hour
    over = 0
    for *_, backlog in reversed(wc["per"]["MAD"]):
        if backlog <= mad:
            break
        over += 1
    assert over >= 4
    assert cap["signals"] == [
        f"backlog above capacity for {over} consecutive hours at MAD: more staff"
    ]
    assert {c["carrier"]: (c["delivered"], c["late"]) for c in cap["carriers"]} == {
        carrier: (g_delivered, g_late) for carrier, g_delivered, g_late in want["carriers"]
    }

    for order_id, events in want["timelines"].items():
        timeline = got[f"timeline:{order_id}"]
        assert [(t["event_id"], t["type"]) for t in timeline] == events, order_id
        assert all(t["summary"] and t["producer"] == "test" for t in timeline)


async def dashboards(
    client: httpx.AsyncClient, timelines: tuple[str, ...] = (), **params: str
) -> dict[str, Any]:
    got = {}
    for name in ("orders", "shipping", "returns", "satisfaction", "payments", "stock", "capacity"):
        resp = await client.get(f"/v1/dashboard/{name}", params=params)
        assert resp.status_code == 200, resp.text
        got[name] = resp.json()
    for order_id in timelines:
        resp = await client.get(f"/v1/timeline/{order_id}")
        assert resp.status_code == 200, resp.text
        got[f"timeline:{order_id}"] = resp.json()["events"]
    return got


def check(got: dict[str, Any], want: dict[str, Any]) -> None:
    orders = got["orders"]
    assert {k: v for k, v in orders["by_status"].items() if v} == dict(want["by_status"])
    assert orders["backlog"][0]["warehouse"] == "AMS" and orders["backlog"][0]["orders"] == 1
    assert len(orders["backlog"]) == 1
    assert orders["lead_times"]["placed_to_delivered"]["orders"] == 2
    assert orders["lead_times"]["placed_to_confirmed"]["orders"] == 3
    shipping = got["shipping"]
    assert shipping["parcels"] == sum(g["parcels"] for g in want["groups"].values())
    for g in shipping["groups"]:
        w = want["groups"][(g["carrier"], g["warehouse"])]
        assert (g["parcels"], Decimal(g["cost"]), g["late"]) == (w["parcels"], w["cost"], w["late"])
        order_value = sum(want["value"][o] for o in w["orders"])
        assert Decimal(g["order_value"]) == order_value
        assert g["cost_share_of_order_value"] == round(float(w["cost"] / order_value), 4)
    returns = got["returns"]
    assert returns["returns"] == want["returns"]
    assert returns["delivered_orders"] == want["delivered_orders"]
    assert returns["by_reason"] == [
        {
            "reason": "wrong_size",
            "returns": 1,
            "units": 1,
            "rate": round(1 / want["delivered_orders"], 4),
        }
    ]
    assert [(s["sku"], s["units"], s["delivered_units"]) for s in returns["by_sku"]] == [
        (TEE, 1, 4)
    ]
    assert returns["by_condition"] == {"resellable": 1}
    assert Decimal(returns["refunded"][0]["amount"]) == want["refunded"]
    sat = got["satisfaction"]
    assert sat["ratings"] == len(want["ratings"])
    assert sat["mean_rating"] == round(sum(want["ratings"]) / len(want["ratings"]), 3)
    assert {g["kept_or_returned"]: g["mean_rating"] for g in sat["returned_vs_kept"]} == {
        "returned": 2.0,
        "kept": 5.0,
    }
    assert {g["parcels"]: g["ratings"] for g in sat["split_vs_single"]} == {"split": 1, "single": 1}
    assert {g["carrier"]: g["mean_rating"] for g in sat["by_carrier"]} == {
        "dhl": 3.5,
        "postnl": 2.0,
    }


def settings(dsn: str, topics: TestTopics, generation: int) -> OperationsSettings:
    return OperationsSettings(
        **service_keys(),
        database_dsn=SecretStr(dsn),
        **topics.kafka.settings(),
        topic_prefix=topics.prefix,
        retry=RetrySettings(initial_backoff_s=0.05),
        generation=generation,
    )


async def until(
    client: httpx.AsyncClient, ok: Callable[[dict[str, Any]], None], timelines: tuple[str, ...]
) -> None:
    async def settled() -> bool:
        try:
            ok(await dashboards(client, timelines))
        except (AssertionError, KeyError, IndexError, ValueError):
            return False
        return True

    try:
        await eventually(settled, timeout_s=90, what="the dashboards to show every event")
    finally:
        ok(await dashboards(client, timelines))  # on a timeout: which figure is wrong


@pytest.fixture
async def started() -> AsyncIterator[list[ServiceHost]]:
    hosts: list[ServiceHost] = []
    try:
        yield hosts
    finally:
        for host in hosts:
            await host.stop()


def carriers(events: list[Event]) -> list[tuple[str, int, int]]:
    """(carrier, delivered, late) of the dispatched parcels."""
    promised = {
        e.shipment_id: e.promised_delivery_date for e in events if isinstance(e, ShipmentBooked)
    }
    delivered = {
        e.shipment_id: e.delivered_at.date() for e in events if isinstance(e, ShipmentDelivered)
    }
    per: dict[str, list[int]] = {}
    for e in events:
        if isinstance(e, ShipmentDispatched):
            c = per.setdefault(e.carrier, [0, 0])
            if e.shipment_id in delivered:
                c[0] += 1
                c[1] += delivered[e.shipment_id] > promised[e.shipment_id]  # type: ignore[operator]
    return [(carrier, d, late) for carrier, (d, late) in sorted(per.items())]


async def publish_at(topics: TestTopics, event: Event, when: datetime) -> Envelope:
    """``event`` in an envelope dated ``when`` (what happened hours or days ago)."""
    key = str(getattr(event, "order_id", None) or getattr(event, "sku", None) or "promotion")
    env = envelope_for(
        event,
        stream_id=f"test-{uuid.uuid4().hex[:8]}",
        stream_version=1,
        correlation_id=key,
        causation_id=None,
        actor="service:test",
        producer="test",
        occurred_at=when,
    )
    await topics.send(env)
    return env


def app(dsn: str, topics: TestTopics, generation: int, engine: Any) -> ServiceHost:
    """The service, with its dashboards' clock fixed at ``NOW``."""
    queries = SqlDashboardQueries(engine, clock=lambda: NOW)
    return create_app(settings(dsn, topics, generation), queries=queries)


async def test_dashboards_count_the_events_and_a_rebuild_from_zero_gives_the_same(
    clean_db: str, topics: TestTopics, started: list[ServiceHost]
) -> None:
    tag = uuid.uuid4().hex[:6]
    events = scenario(tag)
    timed = dated(tag)
    want = expected(events)
    more = {
        "late": expected_late(events),
        "payments": expected_payments(events),
        "stock": expected_stock(timed),
        "capacity": expected_capacity(timed),
        "carriers": carriers(events),
    }
    sent = []
    for event in events:
        sent.append(await topics.publish(event, key=str(getattr(event, "order_id"))))  # noqa: B009
    await topics.send(sent[3])  # a redelivery of the first ShipmentDispatched
    for event, when in timed:
        sent.append(await publish_at(topics, event, when))
    await topics.send(sent[-1])  # and of the last fulfilment event
    order_ids = tuple(f"ord-{tag}-{n}" for n in "abcde")
    more["timelines"] = {
        order_id: [
            (str(env.event_id), env.type)
            for env in sorted(sent, key=lambda env: (env.occurred_at, env.event_id))
            if env.payload.get("order_id") == order_id
        ]
        for order_id in order_ids
    }
    assert all(more["timelines"].values())

    def ok(got: dict[str, Any]) -> None:
        check(got, want)
        check_more(got, more)

    engine = create_engine(clean_db)
    try:
        host = app(clean_db, topics, 1, engine)
        started.append(host)
        await host.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=host.api), base_url="http://o", headers=auth.headers()
        )
        async with client:
            await until(client, ok, order_ids)
            first = await dashboards(client, order_ids)
            only_ams = await dashboards(client, warehouse="AMS")
            assert only_ams["shipping"]["parcels"] == 1
            assert sum(only_ams["orders"]["by_status"].values()) == 2  # the split one and c
            assert only_ams["payments"]["payments"] == 2  # a's and c's
            assert {lv["warehouse"] for lv in only_ams["stock"]["levels"]} == {"AMS"}
            assert [w["warehouse"] for w in only_ams["capacity"]["warehouses"]] == ["AMS"]
            assert (await dashboards(client, carrier="postnl"))["satisfaction"]["ratings"] == 1
            future = (TODAY + timedelta(days=2)).isoformat()
            assert (await dashboards(client, **{"from": future}))["orders"]["total"] == 0
            async with engine.connect() as conn:
                tracking = dict(
                    (
                        await conn.execute(
                            text("SELECT shipment_id, tracking_number FROM ops_shipments")
                        )
                    ).all()
                )
            booked = {
                e.shipment_id: e.tracking_number for e in events if isinstance(e, ShipmentBooked)
            }
            assert tracking == booked
        await host.stop()
        started.remove(host)

        await tables.truncate(engine)
        rebuilt = app(clean_db, topics, 2, engine)
        started.append(rebuilt)
        await rebuilt.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=rebuilt.api),
            base_url="http://o",
            headers=auth.headers(),
        )
        async with client:
            await until(client, ok, order_ids)
            assert await dashboards(client, order_ids) == first
    finally:
        await engine.dispose()
