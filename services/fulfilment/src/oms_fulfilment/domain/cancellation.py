"""An order's cancellation request, as fulfilment answers it: all or nothing.

Stream: ``cancellation-<order id>``, which holds the answer: ``FulfilmentCancellationAccepted``
or ``FulfilmentCancellationRefused``, once. The decision reads every fulfilment of the
order (``fulfilment-<id>``, folded by :mod:`~oms_fulfilment.domain.fulfilment`):

* **none is packed** -> each fulfilment not yet cancelled gets its ``FulfilmentCancelled``
  (decided by the fulfilment's own cancel rule, so it carries the units it still held),
  and the answer is ``FulfilmentCancellationAccepted`` with every fulfilment of the order
  (all cancelled now, including any a warehouse had cancelled before). An order without
  fulfilments (a request before the confirmation, which the partition order rules out) is
  accepted with none;
* **any is packed** -> ``FulfilmentCancellationRefused`` naming the packed fulfilments,
  and nothing else changes: the goods are boxed for a carrier, the way back is a return.

*Why this is never both packed and cancelled.* An acceptance appends to every stream it
cancels, each checked against the version it was read at; packing appends to its stream
the same way. Whichever commits second finds the stream moved, is run again on the new
state and then decides the other way (the pack is ``fulfilment_cancelled``, or the request
is refused). A refusal writes no fulfilment stream, and needs no check: packed is final.

*Once per order.* A request answered already decides nothing (the answer stands: every
fulfilment is cancelled, or one is packed, and neither can change back), so a redelivered
or repeated request is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from oms_events.base import Event
from oms_events.contracts.fulfilment import (
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
)
from oms_events.limits import MAX_TEXT_LENGTH
from oms_fulfilment.domain.commands import CancelFulfilment
from oms_fulfilment.domain.fulfilment import FULFILMENT, Fulfilment, FulfilmentStatus


class Answer(StrEnum):
    NONE = "none"
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class OrderCancellation:
    """What the ``cancellation-<order id>`` stream says: whether and how it was answered."""

    answer: Answer = Answer.NONE
    fulfilment_ids: tuple[str, ...] = ()
    """Accepted: the fulfilments cancelled; refused: those packed."""


@dataclass(frozen=True, slots=True)
class AnswerCancellation:
    """Cancel the order's fulfilments if none is packed; ``reason`` goes on each."""

    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CancellationDecision:
    """The events to append: per fulfilment stream, and the answer on the order's."""

    cancelled: Mapping[str, list[Event]] = field(default_factory=dict)
    """Fulfilment id -> its ``FulfilmentCancelled`` (acceptance only)."""
    answer: list[Event] = field(default_factory=list)


def cancellation_stream_id(order_id: str) -> str:
    return f"cancellation-{order_id}"


def evolve(state: OrderCancellation, event: Event) -> OrderCancellation:
    match event:
        case FulfilmentCancellationAccepted():
            return OrderCancellation(Answer.ACCEPTED, event.fulfilment_ids)
        case FulfilmentCancellationRefused():
            return OrderCancellation(Answer.REFUSED, event.packed)
    return state


def answer_cancellation(
    cmd: AnswerCancellation,
    state: OrderCancellation,
    fulfilments: Mapping[str, Fulfilment],
) -> CancellationDecision:
    """Accept (cancel every fulfilment) if none of ``fulfilments`` is packed, else refuse.

    ``fulfilments``: every fulfilment of the order, by id, as its stream says.
    """
    if state.answer is not Answer.NONE:
        return CancellationDecision()
    known = {
        fid: f for fid, f in sorted(fulfilments.items()) if f.status is not FulfilmentStatus.NONE
    }
    packed = [fid for fid, f in known.items() if f.status is FulfilmentStatus.PACKED]
    if packed:
        return CancellationDecision(answer=[_refused(cmd.order_id, packed)])
    cancelled = {
        fid: FULFILMENT.decide(CancelFulfilment(fid, cmd.reason), f)
        for fid, f in known.items()
        if f.status is not FulfilmentStatus.CANCELLED
    }
    accepted = FulfilmentCancellationAccepted(order_id=cmd.order_id, fulfilment_ids=tuple(known))
    return CancellationDecision(cancelled=cancelled, answer=[accepted])


def _refused(order_id: str, packed: list[str]) -> FulfilmentCancellationRefused:
    which = ", ".join(packed)
    noun = "fulfilment" if len(packed) == 1 else "fulfilments"
    verb = "is" if len(packed) == 1 else "are"
    reason = (
        f"{noun} {which} of order {order_id} {verb} already packed for the carrier, "
        "so the order can no longer be cancelled; the way back is a return"
    )
    if len(reason) > MAX_TEXT_LENGTH:  # hundreds of long ids: name the first ones
        reason = f"{len(packed)} fulfilments of order {order_id} are already packed "
        reason += f"(first {packed[0]}); the way back is a return"
    return FulfilmentCancellationRefused(order_id=order_id, reason=reason, packed=tuple(packed))
