"""Intake: reviewing a submitted order before it becomes one, and its intake keys (pure).

A submission that passed its contract can still be refused for business reasons: SKUs the
shop does not sell, amounts that do not add up, duplicated line or payment ids. Each
problem names the field it is about, so an HTTP client gets one entry per bad field and
the ``OrderRejected`` event gets one reason per problem.

A submission is deduplicated by intake keys (the platform's order reference per sales
channel, an HTTP ``Idempotency-Key``), each claimed for an order by an
``OrderIntakeKeyClaimed`` that carries the submission's :func:`fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Set
from dataclasses import dataclass

from oms_events.base import Event
from oms_events.contracts import (
    IntakeKeyKind,
    OrderIntakeKeyClaimed,
    OrderRejected,
    OrderSubmitted,
    Payment,
    PaymentMethod,
    RejectionCode,
    RejectionReason,
)
from oms_platform.refusal import FieldError, Refusal


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason to refuse a submission, tied to the field it concerns."""

    code: RejectionCode
    field: str
    detail: str


EMPTY_ORDER = Problem(RejectionCode.INVALID_ORDER, "lines", "the order has no lines")


def review(submission: OrderSubmitted, unknown_skus: Set[str]) -> list[Problem]:
    """Everything wrong with ``submission``; empty when it may be placed.

    ``unknown_skus`` are the submission's SKUs that the catalogue does not know.
    """
    problems: list[Problem] = []
    seen_lines: set[str] = set()
    for i, line in enumerate(submission.lines):
        where = f"lines[{i}]"
        if line.sku in unknown_skus:
            problems.append(
                Problem(
                    RejectionCode.UNKNOWN_SKU,
                    f"{where}.sku",
                    f"line {line.line_id}: SKU {line.sku!r} is not sold (unknown SKU)",
                )
            )
        if line.line_id in seen_lines:
            problems.append(
                Problem(
                    RejectionCode.INVALID_ORDER,
                    f"{where}.line_id",
                    f"line id {line.line_id!r} appears more than once",
                )
            )
        seen_lines.add(line.line_id)
        if line.unit_price.amount < 0:
            problems.append(
                Problem(
                    RejectionCode.INVALID_ORDER,
                    f"{where}.unit_price",
                    f"line {line.line_id}: unit price must not be negative",
                )
            )
    if submission.shipping_charge.amount < 0:
        problems.append(
            Problem(
                RejectionCode.INVALID_ORDER,
                "shipping_charge",
                "the shipping charge must not be negative",
            )
        )
    seen_payments: set[str] = set()
    for i, payment in enumerate(submission.payments):
        where = f"payments[{i}]"
        if payment.payment_id in seen_payments:
            problems.append(
                Problem(
                    RejectionCode.INVALID_ORDER,
                    f"{where}.payment_id",
                    f"payment id {payment.payment_id!r} appears more than once",
                )
            )
        seen_payments.add(payment.payment_id)
        if payment.amount.amount <= 0:
            problems.append(
                Problem(
                    RejectionCode.INVALID_ORDER,
                    f"{where}.amount",
                    f"payment {payment.payment_id}: amount must be positive",
                )
            )
        problems += _gift_card_problems(where, payment)
    total = submission.total
    paid = sum((p.amount.amount for p in submission.payments), start=0 * total.amount)
    if paid != total.amount:
        problems.append(
            Problem(
                RejectionCode.PAYMENT_TOTAL_MISMATCH,
                "payments",
                f"the payments add up to {paid} {total.currency} "
                f"but the order totals {total.amount} {total.currency}",
            )
        )
    return problems


def _gift_card_problems(where: str, payment: Payment) -> list[Problem]:
    """A gift card is paid with its token; its code is a secret the OMS never carries.

    A code sent anyway is refused (without quoting it), so that it reaches no event.
    """
    problems = []
    if payment.gift_card_code is not None:
        problems.append(
            Problem(
                RejectionCode.INVALID_ORDER,
                f"{where}.gift_card_code",
                f"payment {payment.payment_id}: a gift card's code is never sent; send its "
                "token as gift_card (the payments service's POST /v1/gift-cards/tokens)",
            )
        )
    is_gift_card = payment.method is PaymentMethod.GIFT_CARD
    if is_gift_card and payment.gift_card is None and payment.gift_card_code is None:
        problems.append(
            Problem(
                RejectionCode.INVALID_ORDER,
                f"{where}.gift_card",
                f"payment {payment.payment_id}: a gift card payment needs the card's token",
            )
        )
    if not is_gift_card and payment.gift_card is not None:
        problems.append(
            Problem(
                RejectionCode.INVALID_ORDER,
                f"{where}.gift_card",
                f"payment {payment.payment_id}: only a gift_card payment names a gift card",
            )
        )
    return problems


def rejection(
    platform_order_ref: str, sales_channel: str, problems: list[Problem]
) -> OrderRejected:
    """The ``OrderRejected`` event for ``problems`` (at least one)."""
    return OrderRejected(
        platform_order_ref=platform_order_ref,
        sales_channel=sales_channel,
        reasons=tuple(RejectionReason(code=p.code, detail=p.detail) for p in problems),
    )


def refused(problems: list[Problem]) -> Refusal:
    """The answer to a rejected submission: 422 ``order_rejected``, one error per problem.

    Raised only once the ``OrderRejected`` is committed (a refusal inside the unit of work
    would roll the record of the rejection back with it).
    """
    return Refusal.invalid(
        "order_rejected",
        "the order was rejected: " + "; ".join(p.detail for p in problems),
        errors=[FieldError(p.field, p.detail, p.code.value) for p in problems],
        extra={"reasons": [{"code": p.code.value, "detail": p.detail} for p in problems]},
    )


def key_reused(order_id: str) -> Refusal:
    """An ``Idempotency-Key`` first used for a different body: 422, naming that order."""
    return Refusal.invalid(
        "idempotency_key_reused",
        f"the Idempotency-Key was already used for a different order (order {order_id}); "
        "use a new key for a new request",
        "header:Idempotency-Key",
        extra={"existing_order_id": order_id},
    )


def claim(
    order_id: str,
    sub: OrderSubmitted,
    request_fingerprint: str,
    idempotency_key: str | None = None,
) -> OrderIntakeKeyClaimed:
    """The claim of an intake key for ``order_id``: the platform reference, or the
    ``idempotency_key`` when one is given."""
    return OrderIntakeKeyClaimed(
        order_id=order_id,
        key_kind=IntakeKeyKind.PLATFORM_ORDER_REF
        if idempotency_key is None
        else IntakeKeyKind.IDEMPOTENCY_KEY,
        platform_order_ref=sub.platform_order_ref,
        sales_channel=sub.sales_channel,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
    )


def claimed(found: OrderIntakeKeyClaimed | None, event: Event) -> OrderIntakeKeyClaimed | None:
    """``evolve`` of an intake key's stream: the first claim is the one that holds."""
    if found is None and isinstance(event, OrderIntakeKeyClaimed):
        return event
    return found


def fingerprint(submission: OrderSubmitted) -> str:
    """SHA-256 of the canonical JSON of ``submission``: equal for equal orders.

    Canonical means parsed first, so key order, whitespace and ``12.5`` vs ``12.50`` do
    not make two copies of one order look different.
    """
    data = submission.model_dump(mode="json")
    _normalise_amounts(data)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _normalise_amounts(node: object) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "amount" and isinstance(value, str):
                node[key] = _plain(value)
            else:
                _normalise_amounts(value)
    elif isinstance(node, list):
        for item in node:
            _normalise_amounts(item)


def _plain(amount: str) -> str:
    if "." in amount:
        amount = amount.rstrip("0").rstrip(".")
    return amount or "0"
