"""An order's cancellation request: given the order's fulfilments, then the answer.

Pure: :func:`answer_cancellation` over fulfilment states folded from their events.
"""

from __future__ import annotations

from oms_events.base import Event
from oms_events.contracts.common import Address, SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    OrderPicked,
    ShortPicked,
)
from oms_fulfilment.domain import cancellation
from oms_fulfilment.domain.cancellation import (
    Answer,
    AnswerCancellation,
    OrderCancellation,
    answer_cancellation,
)
from oms_fulfilment.domain.fulfilment import FULFILMENT, Fulfilment

ADDRESS = Address(recipient="N", line1="L", postal_code="1000", city="C", country="NL")
AMS, BER = "ful-ord-1-AMS", "ful-ord-1-BER"
ASK = AnswerCancellation("ord-1", "order cancelled (customer_request, by customer)")


def units(*pairs: tuple[str, int]) -> tuple[SkuQuantity, ...]:
    return tuple(SkuQuantity(sku=s, quantity=q) for s, q in pairs)


def ids(fid: str) -> dict[str, str]:
    return {"fulfilment_id": fid, "order_id": "ord-1", "warehouse_id": fid.rsplit("-", 1)[1]}


def requested(fid: str, *pairs: tuple[str, int]) -> FulfilmentRequested:
    return FulfilmentRequested(**ids(fid), lines=units(*pairs), shipping_address=ADDRESS)


def fold(*events: Event) -> Fulfilment:
    state = FULFILMENT.initial_state()
    for e in events:
        state = FULFILMENT.evolve(state, e)
    return state


OPEN_AMS = fold(requested(AMS, ("TEE", 2), ("MUG", 1)))
OPEN_BER = fold(requested(BER, ("TEE", 1)))
PICKED_BER = fold(
    requested(BER, ("TEE", 3)),
    OrderPicked(**ids(BER), lines=units(("TEE", 2))),
    ShortPicked(**ids(BER), missing=units(("TEE", 1))),
)
PACKED_BER = fold(
    requested(BER, ("TEE", 1)),
    OrderPicked(**ids(BER), lines=units(("TEE", 1))),
    OrderPacked(**ids(BER), lines=units(("TEE", 1)), weight_grams=480, shipping_address=ADDRESS),
)


def test_none_packed_cancels_each_with_the_units_it_held_and_accepts() -> None:
    decision = answer_cancellation(ASK, OrderCancellation(), {AMS: OPEN_AMS, BER: PICKED_BER})
    assert decision.cancelled == {
        AMS: [
            FulfilmentCancelled(**ids(AMS), reason=ASK.reason, lines=units(("TEE", 2), ("MUG", 1)))
        ],
        # Picked short: it holds the units found, not the pick list.
        BER: [FulfilmentCancelled(**ids(BER), reason=ASK.reason, lines=units(("TEE", 2)))],
    }
    assert decision.answer == [
        FulfilmentCancellationAccepted(order_id="ord-1", fulfilment_ids=(AMS, BER))
    ]


def test_one_packed_refuses_naming_it_and_cancels_nothing() -> None:
    decision = answer_cancellation(ASK, OrderCancellation(), {AMS: OPEN_AMS, BER: PACKED_BER})
    assert decision.cancelled == {}
    [refused] = decision.answer
    assert isinstance(refused, FulfilmentCancellationRefused)
    assert refused.order_id == "ord-1" and refused.packed == (BER,)
    assert BER in refused.reason and "return" in refused.reason and AMS not in refused.reason


def test_a_fulfilment_cancelled_before_is_listed_but_not_cancelled_again() -> None:
    gone = fold(requested(AMS, ("TEE", 1)), FulfilmentCancelled(**ids(AMS), reason="fraud"))
    decision = answer_cancellation(ASK, OrderCancellation(), {AMS: gone, BER: OPEN_BER})
    assert list(decision.cancelled) == [BER]
    assert decision.answer == [
        FulfilmentCancellationAccepted(order_id="ord-1", fulfilment_ids=(AMS, BER))
    ]


def test_an_order_without_fulfilments_is_accepted_with_none() -> None:
    decision = answer_cancellation(ASK, OrderCancellation(), {})
    assert decision.cancelled == {}
    assert decision.answer == [FulfilmentCancellationAccepted(order_id="ord-1", fulfilment_ids=())]


def test_an_answered_request_decides_nothing_again() -> None:
    for answer in decision_events():
        state = cancellation.evolve(OrderCancellation(), answer)
        assert state.answer is not Answer.NONE
        again = answer_cancellation(ASK, state, {AMS: OPEN_AMS})
        assert again.cancelled == {} and again.answer == []


def decision_events() -> list[Event]:
    return [
        FulfilmentCancellationAccepted(order_id="ord-1", fulfilment_ids=(AMS,)),
        FulfilmentCancellationRefused(order_id="ord-1", reason="packed", packed=(BER,)),
    ]


def test_many_packed_fulfilments_still_give_a_valid_reason() -> None:
    many = {f"ful-{'x' * 80}-{i:03}": PACKED_BER for i in range(400)}
    [refused] = answer_cancellation(ASK, OrderCancellation(), many).answer
    assert isinstance(refused, FulfilmentCancellationRefused) and len(refused.packed) == 400
    assert "400 fulfilments" in refused.reason
