"""A return (``return-<rma>``): requested and authorised, received and resolved, or expired.

Refusals (each with the field of the line at fault):

* request: ``order_not_delivered`` (409, nothing delivered yet), ``sku_not_delivered``
  (422, ``lines[i].sku``), ``return_window_closed`` (409, ``lines[i]``: the window of that
  SKU's delivery has passed), ``return_exceeds_delivered`` (409, ``lines[i].quantity``:
  more units than delivered minus already returned, counting earlier lines of the same
  SKU), ``invalid_quantity`` and ``return_has_no_lines`` (422), ``return_exists`` (409:
  the RMA names another request);
* receipt: ``return_not_found`` (404), ``return_expired`` (409), ``sku_not_in_return``
  (422, ``lines[i].sku``), ``receipt_exceeds_authorized`` (409, ``lines[i].quantity``),
  ``return_already_received`` (409: a different receipt was recorded);
* expiry: ``return_not_found`` (404), ``return_not_due`` (409, before ``expires_at``).

A repeated command decides nothing: the same request again, the same receipt again, an
expiry of a return received or expired already (the sweep raced the warehouse).

Accepting a request is ``ReturnRequested`` (what the customer asked) and
``ReturnAuthorized`` (what they may send, where, until when) together: every request that
passes the checks is authorised, so there is no state in between. Receiving is
``ReturnReceived`` (what arrived, for inventory; ``refund_amount`` for payments) and
``ReturnResolved`` (the refund in full, see :mod:`~oms_returns.domain.resolution`); when
nothing arrived only ``ReturnResolved`` (a receipt without lines is not a receipt).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import assert_never

from oms_events.base import Event
from oms_events.contracts.common import ItemCondition, ReturnedLine, SkuQuantity
from oms_events.contracts.returns import (
    ReturnAuthorized,
    ReturnExpired,
    ReturnReason,
    ReturnReceived,
    ReturnRequested,
    ReturnRequestLine,
    ReturnResolved,
)
from oms_platform.decider import Decider, Decision
from oms_platform.refusal import Refusal
from oms_returns.domain.commands import (
    Condition,
    ExpireReturn,
    ReceiveReturn,
    RequestReturn,
    ReturnCommand,
)
from oms_returns.domain.resolution import Receipt, per_sku, resolve


class ReturnStatus(StrEnum):
    NONE = "none"
    AUTHORIZED = "authorized"
    RESOLVED = "resolved"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Return:
    """What the ``return-<rma>`` stream says."""

    status: ReturnStatus = ReturnStatus.NONE
    return_id: str | None = None
    order_id: str | None = None
    warehouse: str | None = None
    requested: tuple[ReturnRequestLine, ...] = ()
    authorized: tuple[SkuQuantity, ...] = ()
    expires_at: datetime | None = None
    received: tuple[ReturnedLine, ...] = ()
    missing: tuple[SkuQuantity, ...] = ()

    def authorized_units(self) -> dict[str, int]:
        return per_sku((ln.sku, ln.quantity) for ln in self.authorized)

    def reasons(self) -> dict[str, frozenset[ReturnReason]]:
        """Why each SKU is returned (a SKU may be on several lines, for several reasons)."""
        reasons: dict[str, frozenset[ReturnReason]] = {}
        for ln in self.requested:
            reasons[ln.sku] = reasons.get(ln.sku, frozenset()) | {ln.reason}
        return reasons


def evolve(state: Return, event: Event) -> Return:
    match event:
        case ReturnRequested():
            return replace(
                state, return_id=event.return_id, order_id=event.order_id, requested=event.lines
            )
        case ReturnAuthorized():
            return replace(
                state,
                status=ReturnStatus.AUTHORIZED,
                warehouse=event.warehouse_id,
                authorized=event.lines,
                expires_at=event.expires_at,
            )
        case ReturnReceived():
            return replace(state, received=event.lines)
        case ReturnResolved():
            return replace(state, status=ReturnStatus.RESOLVED, missing=event.missing)
        case ReturnExpired():
            return replace(state, status=ReturnStatus.EXPIRED)
    return state


class ReturnDecider:
    def initial_state(self) -> Return:
        return Return()

    def evolve(self, state: Return, event: Event) -> Return:
        return evolve(state, event)

    def decide(self, command: ReturnCommand, state: Return) -> Decision:
        match command:
            case RequestReturn():
                return _request(command, state)
            case ReceiveReturn():
                return _receive(command, state)
            case ExpireReturn():
                return _expire(command, state)
            case _:
                assert_never(command)


RETURN: Decider[ReturnCommand, Return] = ReturnDecider()


# -- request -----------------------------------------------------------------------------------


def _request(cmd: RequestReturn, state: Return) -> list[Event]:
    """Authorise the lines if every one is delivered, in its window and not returned yet."""
    if state.status is not ReturnStatus.NONE:
        asked = [(ln.sku, ln.quantity, ln.reason, ln.comment) for ln in cmd.lines]
        known = [(ln.sku, ln.quantity, ln.reason, ln.comment) for ln in state.requested]
        if state.order_id == cmd.order_id and asked == known:
            return []
        raise Refusal(
            "return_exists", f"return {cmd.rma} already exists for another request", "request_id"
        )
    _check_eligible(cmd)
    lines = tuple(
        ReturnRequestLine(sku=ln.sku, quantity=ln.quantity, reason=ln.reason, comment=ln.comment)
        for ln in cmd.lines
    )
    units = per_sku((ln.sku, ln.quantity) for ln in cmd.lines)
    return [
        ReturnRequested(return_id=cmd.rma, order_id=cmd.order_id, lines=lines),
        ReturnAuthorized(
            return_id=cmd.rma,
            order_id=cmd.order_id,
            warehouse_id=cmd.warehouse,
            lines=tuple(SkuQuantity(sku=s, quantity=q) for s, q in units.items()),
            expires_at=cmd.now + cmd.window.authorisation_valid_for,
            label_cost=cmd.label_cost,
        ),
    ]


def _check_eligible(cmd: RequestReturn) -> None:
    if not cmd.lines:
        raise Refusal.invalid("return_has_no_lines", "a return needs at least one line", "lines")
    if not cmd.delivered.lines:
        raise Refusal(
            "order_not_delivered", f"order {cmd.order_id} has not been delivered yet", "order_id"
        )
    asked: dict[str, int] = {}
    for i, line in enumerate(cmd.lines):
        if line.quantity <= 0:
            raise Refusal.invalid(
                "invalid_quantity", "a return line needs at least one unit", f"lines[{i}].quantity"
            )
        delivered = cmd.delivered.of(line.sku)
        if delivered is None:
            raise Refusal.invalid(
                "sku_not_delivered",
                f"SKU {line.sku!r} was not delivered with order {cmd.order_id}",
                f"lines[{i}].sku",
            )
        closes = delivered.delivered_at + cmd.window.days_after_delivery
        if cmd.now > closes:
            raise Refusal(
                "return_window_closed",
                f"the return window for {line.sku} closed on {closes.date().isoformat()} "
                f"({cmd.window.days_after_delivery.days} days after delivery)",
                f"lines[{i}]",
            )
        asked[line.sku] = asked.get(line.sku, 0) + line.quantity
        returnable = delivered.quantity - cmd.delivered.already_returned.get(line.sku, 0)
        if asked[line.sku] > returnable:
            raise Refusal(
                "return_exceeds_delivered",
                f"{asked[line.sku]} x {line.sku} asked back, but {delivered.quantity} were "
                f"delivered and {max(returnable, 0)} can still be returned",
                f"lines[{i}].quantity",
            )


# -- receipt -----------------------------------------------------------------------------------


def _receive(cmd: ReceiveReturn, state: Return) -> list[Event]:
    """Record what arrived and resolve the return; each return is received once."""
    if state.status is ReturnStatus.NONE or state.return_id is None or state.order_id is None:
        raise Refusal.not_found("return_not_found", f"no return {cmd.rma}", "rma")
    if state.status is ReturnStatus.EXPIRED:
        raise Refusal(
            "return_expired",
            f"return {cmd.rma} expired before it was received; customer service can "
            "authorise it again",
            "rma",
        )
    receipt = _read_receipt(cmd, state)
    if state.status is ReturnStatus.RESOLVED:
        if _same_receipt(receipt, state):
            return []
        raise Refusal(
            "return_already_received", f"return {cmd.rma} was received with other lines", "lines"
        )
    assert state.warehouse is not None, "an authorised return has a warehouse"
    outcome = resolve(receipt, state.reasons(), cmd.account, cmd.rules)
    events: list[Event] = []
    if receipt.returned:
        events.append(
            ReturnReceived(
                return_id=state.return_id,
                order_id=state.order_id,
                warehouse_id=state.warehouse,
                lines=receipt.returned,
                refund_amount=outcome.refund_amount,
            )
        )
    events.append(
        ReturnResolved(
            return_id=state.return_id,
            order_id=state.order_id,
            refund_lines=outcome.refund_lines,
            missing=outcome.missing,
            shipping_refund=outcome.shipping_refund,
            refund_amount=outcome.refund_amount,
            refunds=outcome.refunds,
            unallocated=outcome.unallocated,
            order_status=outcome.order_status,
        )
    )
    return events


def _read_receipt(cmd: ReceiveReturn, state: Return) -> Receipt:
    """The receipt per SKU and condition, checked against the authorised units.

    Authorised units the receipt does not account for are missing.
    """
    authorized = state.authorized_units()
    counted: dict[str, int] = {}
    arrived: dict[tuple[str, ItemCondition], int] = {}
    for i, line in enumerate(cmd.lines):
        if line.quantity <= 0:
            raise Refusal.invalid(
                "invalid_quantity", "a receipt line needs at least one unit", f"lines[{i}].quantity"
            )
        if line.sku not in authorized:
            raise Refusal.invalid(
                "sku_not_in_return", f"{line.sku} is not in return {cmd.rma}", f"lines[{i}].sku"
            )
        counted[line.sku] = counted.get(line.sku, 0) + line.quantity
        if counted[line.sku] > authorized[line.sku]:
            raise Refusal(
                "receipt_exceeds_authorized",
                f"{counted[line.sku]} x {line.sku} received, but {authorized[line.sku]} "
                f"were authorised",
                f"lines[{i}].quantity",
            )
        if line.condition is not Condition.MISSING:
            key = (line.sku, ItemCondition(line.condition.value))
            arrived[key] = arrived.get(key, 0) + line.quantity
    returned = tuple(
        ReturnedLine(sku=sku, quantity=q, condition=condition)
        for (sku, condition), q in arrived.items()
    )
    landed = per_sku((ln.sku, ln.quantity) for ln in returned)
    missing = tuple(
        SkuQuantity(sku=sku, quantity=q - landed.get(sku, 0))
        for sku, q in authorized.items()
        if q > landed.get(sku, 0)
    )
    return Receipt(returned=returned, missing=missing)


def _same_receipt(receipt: Receipt, state: Return) -> bool:
    return set(receipt.returned) == set(state.received) and set(receipt.missing) == set(
        state.missing
    )


# -- expiry ------------------------------------------------------------------------------------


def _expire(cmd: ExpireReturn, state: Return) -> list[Event]:
    """Lapse an authorisation whose goods never came; its units may be asked for again."""
    if state.status is ReturnStatus.NONE or state.return_id is None or state.order_id is None:
        raise Refusal.not_found("return_not_found", f"no return {cmd.rma}", "rma")
    if state.status is not ReturnStatus.AUTHORIZED:
        return []
    if state.expires_at is None or cmd.now < state.expires_at:
        due = state.expires_at.isoformat() if state.expires_at else "never"
        raise Refusal("return_not_due", f"return {cmd.rma} expires at {due}", "rma")
    return [
        ReturnExpired(
            return_id=state.return_id,
            order_id=state.order_id,
            lines=state.authorized,
            expired_at=cmd.now,
        )
    ]
