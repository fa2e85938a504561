"""HTTP API of the payments service: payment queries, refunds, gift cards, reconciliations.

Every error is the platform's RFC 9457 problem body (``oms_platform.http``): 422 with a
reason per field for bad input, 404 ``not_found``, 409 ``refused`` / ``amount_exceeded``,
413 for a body over 1 MiB. Bodies use the contract types, so HTTP is held to the same
bounds as Kafka (money scale and size, text without control characters).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)

from oms_events.contracts.common import Id, Text
from oms_events.money import AMOUNT_PATTERN, Money
from oms_payments import handlers, queries
from oms_payments.domain.commands import IssueGiftCard, RequestRefund
from oms_platform.commands import run_command
from oms_platform.eventstore import UnitOfWork
from oms_platform.http import (
    PROBLEM_RESPONSES,
    ActorHeader,
    IdempotencyKeyHeader,
    RequestIdHeader,
    actor_or,
    cause_of,
)

DEFAULT_ACTOR = "staff:unknown"
GIFT_CARD_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"

PaymentId = Annotated[Id, Path(description="The payment's id (as in OrderPlaced.payments).")]
OrderId = Annotated[Id, Path(description="The OMS order id.")]
GiftCardCode = Annotated[Id, Path(description="The gift card's code.")]


def _amount_kind(value: Any) -> str:
    return "money" if isinstance(value, dict | Money) else "decimal"


def _text_only(value: Any) -> Any:
    if not isinstance(value, str):
        # A JSON number would be read as a binary float and lose cents.
        raise ValueError("an amount is a Money object or a decimal string such as '12.50'")
    return value


PlainAmount = Annotated[
    str, BeforeValidator(_text_only), Field(pattern=AMOUNT_PATTERN, examples=["10.00"])
]
RefundAmount = Annotated[
    Annotated[Money, Tag("money")] | Annotated[PlainAmount, Tag("decimal")],
    Discriminator(_amount_kind),
]
"""A Money object, or a plain decimal string in the payment's currency."""


class RefundBody(BaseModel):
    """``amount`` is a Money object or a decimal string in the payment's currency."""

    model_config = ConfigDict(extra="forbid")

    amount: RefundAmount
    reason: Text
    return_id: Id | None = None

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money | str) -> Money | str:
        amount = value.amount if isinstance(value, Money) else Decimal(value)
        if amount <= 0:
            raise ValueError("a refund must be more than zero")
        return value

    def decimal(self) -> Decimal:
        return self.amount.amount if isinstance(self.amount, Money) else Decimal(self.amount)

    def currency(self) -> str | None:
        return self.amount.currency if isinstance(self.amount, Money) else None


class GiftCardBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=GIFT_CARD_CODE)]
    balance: Money

    @field_validator("balance")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value.amount <= 0:
            raise ValueError("a gift card's balance must be more than zero")
        return value


def reads(request: Request) -> queries.Reads:
    """The store and call log the routes use (set on ``app.state`` by ``create_app``)."""
    found = request.app.state.reads
    assert isinstance(found, queries.Reads)
    return found


Reads = Annotated[queries.Reads, Depends(reads)]

router = APIRouter(prefix="/v1", tags=["payments"], responses=PROBLEM_RESPONSES)


@router.get("/payments/{payment_id}")
async def get_payment(payment_id: PaymentId, r: Reads) -> dict[str, Any]:
    """A payment: method, amounts authorized/captured/voided/refunded, status, history."""
    return await queries.payment(r, payment_id)


@router.get("/orders/{order_id}/payments")
async def get_order_payments(order_id: OrderId, r: Reads) -> dict[str, Any]:
    """Every payment of an order, what each shipment billed, and the totals."""
    return await queries.order_payments(r, order_id)


@router.post("/payments/{payment_id}/refunds", status_code=status.HTTP_202_ACCEPTED)
async def refund(
    payment_id: PaymentId,
    body: RefundBody,
    response: Response,
    r: Reads,
    actor: ActorHeader = None,
    request_id: RequestIdHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Ask for a full or partial refund; the provider pays it shortly after (202).

    With an ``Idempotency-Key``, repeating the request returns the same refund (200).
    """
    cmd = RequestRefund(
        payment_id=payment_id,
        refund_id=_refund_id(payment_id, idempotency_key),
        amount=body.decimal(),
        reason=body.reason,
        currency=body.currency(),
        return_id=body.return_id,
    )

    async def work(uow: UnitOfWork) -> handlers.RefundAccepted:
        who = actor_or(actor, DEFAULT_ACTOR)
        return await handlers.request_refund(uow, cmd, actor=who, cause=cause_of(request_id))

    accepted = await run_command(r.store, work)
    if not accepted.new:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/payments/{payment_id}"
    return {
        "refund_id": accepted.refund_id,
        "payment_id": accepted.payment_id,
        "order_id": accepted.order_id,
        "amount": accepted.amount.model_dump(mode="json"),
        "status": "requested",
    }


@router.post("/gift-cards", status_code=status.HTTP_201_CREATED)
async def issue_gift_card(
    body: GiftCardBody,
    r: Reads,
    actor: ActorHeader = None,
    request_id: RequestIdHeader = None,
) -> dict[str, Any]:
    """Issue a gift card with its starting balance (409 if the code is taken)."""
    cmd = IssueGiftCard(code=body.code, balance=body.balance)

    async def work(uow: UnitOfWork) -> None:
        who = actor_or(actor, DEFAULT_ACTOR)
        await handlers.issue_gift_card(uow, cmd, actor=who, cause=cause_of(request_id))

    await run_command(r.store, work)
    return {"code": body.code, "balance": body.balance.model_dump(mode="json")}


@router.get("/gift-cards/{code}")
async def get_gift_card(code: GiftCardCode, r: Reads) -> dict[str, Any]:
    """A gift card's balance and its debits and credits."""
    return await queries.gift_card(r, code)


@router.get("/reconciliations")
async def get_reconciliations(
    r: Reads, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> dict[str, Any]:
    """Provider calls parked for reconciliation: the provider never answered them, so
    whether money moved must be settled with the provider's own books."""
    return await queries.reconciliations(r, limit)


def _refund_id(payment_id: str, idempotency_key: str | None) -> str:
    """A new refund id, or the same one for every request with one idempotency key."""
    if idempotency_key is None:
        return f"rfd-{uuid.uuid4().hex[:16]}"
    return f"rfd-{uuid.uuid5(uuid.NAMESPACE_URL, f'{payment_id}/{idempotency_key}').hex[:16]}"
