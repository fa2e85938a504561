"""A return: given events, when a command, then events (or a refusal)."""

from __future__ import annotations

import re

from oms_events.contracts.common import ItemCondition, ReturnedLine, SkuQuantity
from oms_events.contracts.returns import (
    MethodRefund,
    OrderReturnStatus,
    RefundLine,
    ReturnAuthorized,
    ReturnExpired,
    ReturnReason,
    ReturnReceived,
    ReturnRequested,
    ReturnRequestLine,
    ReturnResolved,
)
from oms_events.money import Money
from oms_platform.testing.decider_spec import DeciderSpec
from oms_returns.domain.commands import (
    Condition,
    Delivered,
    DeliveredSku,
    ExpireReturn,
    ReceivedLine,
    ReceiveReturn,
    RequestedLine,
    RequestReturn,
)
from oms_returns.domain.policy import ReturnWindow
from oms_returns.domain.returns import RETURN, ReturnStatus
from oms_returns.domain.rma import rma_number, stream_id

from .conftest import CARD, DAY, DELIVERED_AT, GIFT, MUG, TEE, account, eur

returns = DeciderSpec(RETURN)
RMA = rma_number("req-1")
NOW = DELIVERED_AT + 10 * DAY


def request(
    *lines: RequestedLine,
    delivered: Delivered | None = None,
    now: object = NOW,
    window: ReturnWindow | None = None,
    request_id: str = "req-1",
) -> RequestReturn:
    return RequestReturn(
        request_id=request_id,
        order_id="ord-1",
        lines=lines or (RequestedLine("TEE", 1, ReturnReason.WRONG_SIZE),),
        warehouse="AMS",
        delivered=delivered or Delivered((TEE, MUG)),
        now=now,  # type: ignore[arg-type]
        label_cost=eur("3.10"),
        window=window or ReturnWindow(),
    )


def authorised(*lines: RequestedLine) -> list[ReturnRequested | ReturnAuthorized]:
    return returns.given().when(request(*lines)).then_matches(lambda es: len(es) == 2)  # type: ignore[return-value]


def receive(*lines: ReceivedLine) -> ReceiveReturn:
    return ReceiveReturn(RMA, lines, account())


TEE_AND_MUG = (
    RequestedLine("TEE", 2, ReturnReason.NO_LONGER_NEEDED),
    RequestedLine("MUG", 1, ReturnReason.DAMAGED, "chipped"),
)

# -- request -----------------------------------------------------------------------------------


def test_an_eligible_request_is_requested_and_authorised_under_its_rma() -> None:
    returns.given().when(request(*TEE_AND_MUG)).then(
        ReturnRequested(
            return_id=RMA,
            order_id="ord-1",
            lines=(
                ReturnRequestLine(sku="TEE", quantity=2, reason=ReturnReason.NO_LONGER_NEEDED),
                ReturnRequestLine(
                    sku="MUG", quantity=1, reason=ReturnReason.DAMAGED, comment="chipped"
                ),
            ),
        ),
        ReturnAuthorized(
            return_id=RMA,
            order_id="ord-1",
            warehouse_id="AMS",
            lines=(SkuQuantity(sku="TEE", quantity=2), SkuQuantity(sku="MUG", quantity=1)),
            expires_at=NOW + 30 * DAY,
            label_cost=eur("3.10"),
        ),
    )


def test_the_rma_is_readable_and_follows_from_the_request_id() -> None:
    assert re.fullmatch(r"RMA-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", RMA)
    assert rma_number("req-1") == RMA
    assert rma_number("req-2") != RMA
    assert request().rma == RMA
    assert stream_id(RMA) == f"return-{RMA}"


def test_lines_of_one_sku_are_authorised_together() -> None:
    two_reasons = (
        RequestedLine("TEE", 1, ReturnReason.WRONG_SIZE),
        RequestedLine("TEE", 1, ReturnReason.DAMAGED),
    )
    _, auth = authorised(*two_reasons)
    assert isinstance(auth, ReturnAuthorized)
    assert auth.lines == (SkuQuantity(sku="TEE", quantity=2),)


def test_the_same_request_again_decides_nothing_and_another_on_its_rma_is_refused() -> None:
    done = authorised()
    returns.given(*done).when(request()).then_nothing()
    other = request(RequestedLine("MUG", 1, ReturnReason.OTHER))
    returns.given(*done).when(other).then_refused("return_exists", status=409)


def test_the_last_moment_of_the_window_is_still_in_it() -> None:
    returns.given().when(request(now=DELIVERED_AT + 30 * DAY)).then_matches(lambda es: len(es) == 2)


def test_a_request_after_the_window_is_refused_with_the_line() -> None:
    late = request(*TEE_AND_MUG, now=DELIVERED_AT + 30 * DAY + DAY / 24)
    refusal = returns.given().when(late).then_refused("return_window_closed", status=409)
    assert refusal.field == "lines[0]"
    assert "2026-03-31" in refusal.reason


def test_the_window_is_a_setting() -> None:
    short = ReturnWindow(days_after_delivery=14 * DAY)
    returns.given().when(request(now=NOW, window=short)).then_matches(bool)
    returns.given().when(request(now=DELIVERED_AT + 15 * DAY, window=short)).then_refused(
        "return_window_closed"
    )


def test_each_sku_has_the_window_of_its_own_delivery() -> None:
    later_mug = DeliveredSku("MUG", 1, eur("12.50"), DELIVERED_AT + 20 * DAY)
    split = Delivered((TEE, later_mug))
    at = DELIVERED_AT + 40 * DAY
    mug = RequestedLine("MUG", 1, ReturnReason.DAMAGED)
    returns.given().when(request(mug, delivered=split, now=at)).then_matches(bool)
    both = request(mug, RequestedLine("TEE", 1, ReturnReason.DAMAGED), delivered=split, now=at)
    refusal = returns.given().when(both).then_refused("return_window_closed")
    assert refusal.field == "lines[1]"


def test_more_units_than_delivered_are_refused_with_the_quantity_field() -> None:
    refusal = (
        returns.given()
        .when(request(RequestedLine("TEE", 3, ReturnReason.WRONG_SIZE)))
        .then_refused("return_exceeds_delivered", status=409)
    )
    assert refusal.field == "lines[0].quantity"


def test_units_already_returned_cannot_be_returned_again() -> None:
    one_back = Delivered((TEE, MUG), already_returned={"TEE": 1})
    returns.given().when(request(delivered=one_back)).then_matches(bool)
    two = (RequestedLine("MUG", 1, ReturnReason.OTHER), RequestedLine("TEE", 2, ReturnReason.OTHER))
    refusal = (
        returns.given()
        .when(request(*two, delivered=one_back))
        .then_refused("return_exceeds_delivered")
    )
    assert refusal.field == "lines[1].quantity"
    assert "1 can still be returned" in refusal.reason


def test_lines_of_one_sku_count_together_against_the_delivery() -> None:
    lines = (
        RequestedLine("TEE", 2, ReturnReason.WRONG_SIZE),
        RequestedLine("TEE", 1, ReturnReason.DAMAGED),
    )
    refusal = returns.given().when(request(*lines)).then_refused("return_exceeds_delivered")
    assert refusal.field == "lines[1].quantity"


def test_a_sku_the_order_did_not_deliver_is_refused() -> None:
    cap = request(RequestedLine("CAP", 1, ReturnReason.WRONG_ITEM))
    refusal = returns.given().when(cap).then_refused("sku_not_delivered", status=422)
    assert refusal.field == "lines[0].sku"


def test_an_undelivered_order_cannot_be_returned() -> None:
    returns.given().when(request(delivered=Delivered(()))).then_refused(
        "order_not_delivered", status=409
    )


def test_a_line_without_units_is_refused() -> None:
    zero = request(RequestedLine("TEE", 0, ReturnReason.OTHER))
    assert returns.given().when(zero).then_refused("invalid_quantity", status=422).field == (
        "lines[0].quantity"
    )


def test_a_request_without_lines_is_refused() -> None:
    empty = RequestReturn("req-1", "ord-1", (), "AMS", Delivered((TEE,)), NOW)
    returns.given().when(empty).then_refused("return_has_no_lines", status=422)


# -- receipt -----------------------------------------------------------------------------------


def test_a_receipt_records_what_arrived_and_resolves_the_refund() -> None:
    done = authorised(*TEE_AND_MUG)
    arrived = receive(
        ReceivedLine("TEE", 1, Condition.RESELLABLE),
        ReceivedLine("MUG", 1, Condition.DAMAGED),
        ReceivedLine("TEE", 1, Condition.MISSING),
    )
    # 19.95 + 12.50 refunded; shipping too, the mug being damaged (the shop's fault).
    returns.given(*done).when(arrived).then(
        ReturnReceived(
            return_id=RMA,
            order_id="ord-1",
            warehouse_id="AMS",
            lines=(
                ReturnedLine(sku="TEE", quantity=1, condition=ItemCondition.RESELLABLE),
                ReturnedLine(sku="MUG", quantity=1, condition=ItemCondition.DAMAGED),
            ),
            refund_amount=eur("37.40"),
        ),
        ReturnResolved(
            return_id=RMA,
            order_id="ord-1",
            refund_lines=(
                RefundLine(sku="TEE", quantity=1, unit_price=eur("19.95"), amount=eur("19.95")),
                RefundLine(sku="MUG", quantity=1, unit_price=eur("12.50"), amount=eur("12.50")),
            ),
            missing=(SkuQuantity(sku="TEE", quantity=1),),
            shipping_refund=eur("4.95"),
            refund_amount=eur("37.40"),
            # the card first, up to its 37.35; the gift card the last 0.05
            refunds=(
                MethodRefund(payment_id="pay-card", method=CARD.method, amount=eur("37.35")),
                MethodRefund(payment_id="pay-gift", method=GIFT.method, amount=eur("0.05")),
            ),
            unallocated=eur("0"),
            order_status=OrderReturnStatus.PARTIALLY_RETURNED,
        ),
    )


def test_authorised_units_the_receipt_does_not_mention_are_missing() -> None:
    done = authorised(*TEE_AND_MUG)
    events = returns.given(*done).when(receive(ReceivedLine("TEE", 2, Condition.RESELLABLE)))
    received, resolved = events.then_matches(lambda es: len(es) == 2)
    assert isinstance(received, ReturnReceived) and isinstance(resolved, ReturnResolved)
    assert resolved.missing == (SkuQuantity(sku="MUG", quantity=1),)
    # The damaged mug never arrived, so no shop-fault shipping refund: just the two tees.
    assert resolved.shipping_refund.is_zero()
    assert received.refund_amount == resolved.refund_amount == eur("39.90")


def test_when_nothing_arrives_only_the_resolution_is_recorded_and_nothing_is_refunded() -> None:
    done = authorised()
    [resolved] = returns.given(*done).when(receive()).then_matches(lambda es: len(es) == 1)
    assert isinstance(resolved, ReturnResolved)
    assert resolved.refund_amount.is_zero() and resolved.refunds == ()
    assert resolved.missing == (SkuQuantity(sku="TEE", quantity=1),)
    assert resolved.order_status is None


def test_more_units_than_authorised_are_refused_with_the_line() -> None:
    done = authorised()
    over = receive(
        ReceivedLine("TEE", 1, Condition.RESELLABLE), ReceivedLine("TEE", 1, Condition.DAMAGED)
    )
    refusal = returns.given(*done).when(over).then_refused("receipt_exceeds_authorized", status=409)
    assert refusal.field == "lines[1].quantity"


def test_a_sku_outside_the_return_is_refused() -> None:
    done = authorised()
    mug = receive(ReceivedLine("MUG", 1, Condition.RESELLABLE))
    refusal = returns.given(*done).when(mug).then_refused("sku_not_in_return", status=422)
    assert refusal.field == "lines[0].sku"


def test_a_return_is_received_once() -> None:
    done = authorised(*TEE_AND_MUG)
    first = receive(ReceivedLine("TEE", 2, Condition.RESELLABLE))
    received = returns.given(*done).when(first).then_matches(bool)
    returns.given(*done, *received).when(first).then_nothing()
    other = receive(ReceivedLine("TEE", 2, Condition.DAMAGED))
    returns.given(*done, *received).when(other).then_refused("return_already_received")
    assert returns.given(*done).when(first).state_after().status is ReturnStatus.RESOLVED


def test_an_unknown_return_cannot_be_received_or_expired() -> None:
    returns.given().when(receive()).then_refused("return_not_found", status=404)
    returns.given().when(ExpireReturn(RMA, NOW)).then_refused("return_not_found", status=404)


# -- expiry ------------------------------------------------------------------------------------


def test_an_authorisation_expires_at_its_deadline_and_not_before() -> None:
    done = authorised()
    due = NOW + 30 * DAY
    returns.given(*done).when(ExpireReturn(RMA, due - DAY)).then_refused("return_not_due")
    expired = (
        returns.given(*done)
        .when(ExpireReturn(RMA, due))
        .then(
            ReturnExpired(
                return_id=RMA,
                order_id="ord-1",
                lines=(SkuQuantity(sku="TEE", quantity=1),),
                expired_at=due,
            )
        )
    )
    returns.given(*done, *expired).when(ExpireReturn(RMA, due + DAY)).then_nothing()
    refusal = returns.given(*done, *expired).when(receive()).then_refused("return_expired")
    assert refusal.status == 409


def test_the_validity_of_an_authorisation_is_a_setting() -> None:
    week = ReturnWindow(authorisation_valid_for=7 * DAY)
    done = returns.given().when(request(window=week)).then_matches(bool)
    returns.given(*done).when(ExpireReturn(RMA, NOW + 7 * DAY)).then_matches(
        lambda es: isinstance(es[0], ReturnExpired)
    )


def test_a_received_return_does_not_expire() -> None:
    done = authorised()
    received = (
        returns.given(*done)
        .when(receive(ReceivedLine("TEE", 1, Condition.RESELLABLE)))
        .then_matches(bool)
    )
    returns.given(*done, *received).when(ExpireReturn(RMA, NOW + 60 * DAY)).then_nothing()


def test_gift_card_is_refunded_last_by_default() -> None:
    # the whole order back: 57.35, card 37.35 first, the gift card the rest.
    lines = (*TEE_AND_MUG,)
    done = authorised(*lines)
    everything = receive(
        ReceivedLine("TEE", 2, Condition.RESELLABLE), ReceivedLine("MUG", 1, Condition.RESELLABLE)
    )
    *_, resolved = returns.given(*done).when(everything).then_matches(bool)
    assert isinstance(resolved, ReturnResolved)
    assert resolved.order_status is OrderReturnStatus.RETURNED
    assert [(r.payment_id, r.amount) for r in resolved.refunds] == [
        (CARD.payment_id, eur("37.35")),
        (GIFT.payment_id, eur("20.00")),
    ]
    assert resolved.refund_amount == Money.of("57.35", "EUR")
    assert resolved.shipping_refund == eur("4.95")
