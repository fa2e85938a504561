"""The read models' pure ``apply``: given events in envelopes, then the row."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from oms_events.base import Event
from oms_events.contracts.common import (
    Allocation,
    ItemCondition,
    OrderLine,
    ReturnedLine,
    SkuQuantity,
)
from oms_events.contracts.order import (
    FeedbackReceived,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderReturnRecorded,
    OrderShipped,
    OrderShortShipped,
)
from oms_events.contracts.returns import (
    ReturnAuthorized,
    ReturnReason,
    ReturnReceived,
    ReturnRequested,
    ReturnRequestLine,
    ReturnResolved,
)
from oms_events.contracts.shipping import (
    ShipmentBooked,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentDispatched,
    ShipmentLost,
)
from oms_events.envelope import Envelope
from oms_events.examples import eur
from oms_operations.projections import (
    dispatch,
    feedback,
    orders,
    payments,
    promotions,
    returns,
    shipments,
    stock,
    timeline,
)
from oms_operations.projections.tables import MODELS

from .events import HOUR, T0, at, make

History = Sequence[tuple[Envelope, Event]]


def fold(apply: Callable[[Any, Envelope, Event], Any], history: History) -> Any:
    row = None
    for env, event in history:
        row = apply(row, env, event)
    return row


def order_history(order_id: str = "ord-1") -> list[tuple[Envelope, Event]]:
    placed = make(
        OrderPlaced,
        order_id=order_id,
        lines=[
            OrderLine(line_id="1", sku="TEE", quantity=2, unit_price=eur("19.95")).model_dump(),
            OrderLine(line_id="2", sku="MUG", quantity=1, unit_price=eur("12.50")).model_dump(),
        ],
        shipping_charge=eur("4.95").model_dump(),
        placed_at=T0,
    )
    confirmed = make(
        OrderConfirmed,
        order_id=order_id,
        allocations=[
            Allocation(line_id="1", sku="TEE", warehouse_id="BER", quantity=2).model_dump(),
            Allocation(line_id="2", sku="MUG", warehouse_id="AMS", quantity=1).model_dump(),
        ],
    )
    tee = SkuQuantity(sku="TEE", quantity=2).model_dump()
    mug = SkuQuantity(sku="MUG", quantity=1).model_dump()
    ship_ber = make(
        OrderShipped, order_id=order_id, shipment_id="s-ber", warehouse_id="BER", lines=[tee]
    )
    ship_ams = make(
        OrderShipped, order_id=order_id, shipment_id="s-ams", warehouse_id="AMS", lines=[mug]
    )
    return [
        at(placed, T0),
        at(confirmed, T0 + HOUR),
        at(ship_ams, T0 + 5 * HOUR),
        at(ship_ber, T0 + 3 * HOUR),
        at(
            make(
                OrderDelivered, order_id=order_id, shipment_id="s-ber", delivered_at=T0 + 30 * HOUR
            ),
            T0 + 30 * HOUR,
        ),
        at(
            make(
                OrderDelivered, order_id=order_id, shipment_id="s-ams", delivered_at=T0 + 28 * HOUR
            ),
            T0 + 28 * HOUR,
        ),
    ]


def test_an_order_is_placed_confirmed_split_over_two_warehouses_and_delivered() -> None:
    row = fold(orders.apply, order_history())
    assert row.status == "delivered"
    assert row.order_value == Decimal("57.35") and row.currency == "EUR"
    assert row.lines == (("MUG", 1), ("TEE", 2))
    assert row.placed_at == T0 and row.confirmed_at == T0 + HOUR
    assert row.dispatched_at == T0 + 3 * HOUR  # the first parcel out
    assert row.delivered_at == T0 + 30 * HOUR  # the last parcel in
    assert row.warehouses == ("AMS", "BER") and row.shipped_from == ("AMS", "BER")
    assert row.shipments == ("s-ams", "s-ber")
    assert row.customer_email and row.platform_ref


def test_a_redelivered_or_replayed_event_changes_nothing() -> None:
    history = order_history()
    once = fold(orders.apply, history)
    doubled = [step for step in history for _ in range(2)]
    assert fold(orders.apply, doubled) == once
    assert fold(orders.apply, history) == once


def test_a_status_never_goes_back_and_a_shipped_order_is_never_cancelled() -> None:
    history = order_history()
    late_confirm = history[1]
    cancel = at(make(OrderCancelled, order_id="ord-1"), T0 + 40 * HOUR)
    row = fold(orders.apply, [*history, late_confirm, cancel])
    assert row.status == "delivered" and row.cancelled_at is None


def test_an_unconfirmed_order_cancelled_and_returns_move_the_status_on() -> None:
    placed, *_ = order_history("ord-2")
    cancelled = fold(orders.apply, [placed, at(make(OrderCancelled, order_id="ord-2"), T0)])
    assert cancelled.status == "cancelled" and cancelled.cancelled_at == T0
    partial = make(OrderReturnRecorded, order_id="ord-1", status="partially_returned")
    short = make(OrderShortShipped, order_id="ord-1", warehouse_id="AMS")
    row = fold(orders.apply, [*order_history(), at(partial, T0), at(short, T0)])
    assert row.status == "partially_returned" and row.short_shipped == ("AMS",)


def test_a_parcel_is_booked_dispatched_and_delivered_late() -> None:
    booked = make(
        ShipmentBooked,
        shipment_id="s1",
        order_id="o1",
        carrier="dhl",
        service="standard",
        warehouse_id="BER",
        shipping_cost=eur("5.10").model_dump(),
        shipping_charged=eur("4.95").model_dump(),
        promised_delivery_date=date(2026, 5, 5),
    )
    dispatched = make(
        ShipmentDispatched,
        shipment_id="s1",
        order_id="o1",
        carrier="dhl",
        service="standard",
        warehouse_id="BER",
        shipping_cost=eur("5.10").model_dump(),
    )
    failed = make(ShipmentDeliveryFailed, shipment_id="s1", order_id="o1", attempt=1)
    delivered = make(
        ShipmentDelivered, shipment_id="s1", order_id="o1", delivered_at=T0 + timedelta(days=3)
    )
    history = [
        at(booked, T0),
        at(dispatched, T0 + HOUR),
        at(failed, T0 + 30 * HOUR),
        at(delivered, T0 + timedelta(days=3)),
    ]
    row = fold(shipments.apply, history)
    assert (row.status, row.carrier, row.service, row.warehouse_id) == (
        "delivered",
        "dhl",
        "standard",
        "BER",
    )
    assert row.cost == Decimal("5.10") and row.charged == Decimal("4.95")
    assert row.dispatched_at == T0 + HOUR and row.failed_attempts == 1
    assert row.tracking_number == booked.tracking_number
    only_dispatched = fold(
        shipments.apply, [at(make(ShipmentDispatched, tracking_number="3SX1"), T0)]
    )
    assert only_dispatched.tracking_number == "3SX1"
    assert row.late is True  # 6 May against the promised 5 May
    assert fold(shipments.apply, [h for h in history for _ in range(2)]) == row


def test_a_lost_parcel_is_failed_and_stays_so() -> None:
    dispatched = make(ShipmentDispatched, shipment_id="s2", order_id="o2")
    lost = make(ShipmentLost, shipment_id="s2", order_id="o2")
    late_scan = make(ShipmentDeliveryFailed, shipment_id="s2", order_id="o2", attempt=2)
    row = fold(shipments.apply, [at(dispatched, T0), at(lost, T0 + HOUR), at(late_scan, T0)])
    assert row.status == "lost" and row.failure == "lost" and row.late is None


def test_a_return_is_requested_received_in_two_conditions_and_resolved() -> None:
    requested = make(
        ReturnRequested,
        return_id="r1",
        order_id="o1",
        lines=[
            ReturnRequestLine(sku="TEE", quantity=2, reason=ReturnReason.WRONG_SIZE).model_dump()
        ],
    )
    authorized = make(
        ReturnAuthorized,
        return_id="r1",
        order_id="o1",
        warehouse_id="BER",
        lines=[SkuQuantity(sku="TEE", quantity=2).model_dump()],
    )
    received = make(
        ReturnReceived,
        return_id="r1",
        order_id="o1",
        warehouse_id="BER",
        lines=[
            ReturnedLine(sku="TEE", quantity=1, condition=ItemCondition.RESELLABLE).model_dump(),
            ReturnedLine(sku="TEE", quantity=1, condition=ItemCondition.DAMAGED).model_dump(),
        ],
        refund_amount=eur("19.95").model_dump(),
    )
    resolved = make(
        ReturnResolved, return_id="r1", order_id="o1", refund_amount=eur("24.90").model_dump()
    )
    history = [
        at(requested, T0),
        at(authorized, T0 + HOUR),
        at(received, T0 + 48 * HOUR),
        at(resolved, T0 + 49 * HOUR),
    ]
    row = fold(returns.apply, history)
    assert row.status == "resolved" and row.warehouse_id == "BER"
    assert row.lines == (
        returns.ReturnLine("TEE", 1, "wrong_size", "resellable"),
        returns.ReturnLine("TEE", 1, "wrong_size", "damaged"),
    )
    assert row.refund_amount == Decimal("24.90")
    assert (row.requested_at, row.received_at, row.resolved_at) == (
        T0,
        T0 + 48 * HOUR,
        T0 + 49 * HOUR,
    )
    assert fold(returns.apply, [h for h in history for _ in range(2)]) == row


def test_the_latest_rating_of_an_order_counts() -> None:
    first = make(FeedbackReceived, order_id="o1", rating=2)
    second = make(FeedbackReceived, order_id="o1", rating=4, comment="sorted out")
    row = fold(feedback.apply, [at(first, T0), at(second, T0 + HOUR)])
    assert (row.rating, row.comment, row.received_at) == (4, "sorted out", T0 + HOUR)


def test_rows_go_through_their_columns_and_back_unchanged() -> None:
    order = fold(orders.apply, order_history())
    ret = returns.ReturnRow("r1", "o1", lines=(returns.ReturnLine("TEE", 1, "other", None),))
    timeline_row = timeline.apply(None, *order_history()[0])
    payment = payments.PaymentRow("pay-1", "o1", "card", "EUR", authorized=Decimal("9.50"))
    rows = {
        "ops_orders": order,
        "ops_shipments": shipments.ShipmentRow("s1", "o1", tracking_number="3SDHL1"),
        "ops_feedback": feedback.FeedbackRow("o1", 4, None, T0),
        "ops_returns": ret,
        "ops_timeline": timeline_row,
        "ops_payments": payment,
        "ops_stock": stock.StockRow("TEE", "AMS", 5, 2, 3, 4, True, T0),
        "ops_stock_daily": stock.SalesDayRow("TEE", "AMS", T0.date(), 3, 1),
        "ops_promotions": promotions.PromotionRow(
            "p1", "Spring", ("TEE", "MUG"), T0, T0 + HOUR, Decimal("2.5")
        ),
        "ops_dispatch_hours": dispatch.DispatchHourRow("AMS", T0, 3, 2, 1),
    }
    assert set(rows) == {model.table for model in MODELS}
    for model in MODELS:
        encoded = model.encode(rows[model.table])
        for name in model.json_columns:  # what PostgreSQL hands back for jsonb
            encoded[name] = json.loads(encoded[name])
        assert model.decode(encoded) == rows[model.table]
