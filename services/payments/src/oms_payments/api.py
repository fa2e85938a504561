"""HTTP API of the payments service: payment queries, refunds, gift cards, reconciliations.

Every error is the platform's RFC 9457 problem body (``oms_platform.http``): 422 with a
reason per field for bad input, 404 ``not_found``, 409 ``refused`` / ``amount_exceeded``,
413 for a body over 1 MiB. Bodies use the contract types, so HTTP is held to the same
bounds as Kafka (money scale and size, text without control characters).

Gift card codes are secrets (:mod:`oms_payments.gift_card_tokens`): a code is accepted only
in a request body (issuing a card, exchanging a code for its token), never in a URL, and no
answer, event or log line repeats it; everything else names a card by its token.
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

from oms_events.contracts.common import GiftCardToken as GiftCardTokenType
from oms_events.contracts.common import Id, Text
from oms_events.money import AMOUNT_PATTERN, Money
from oms_payments import handlers, queries
from oms_payments.domain.commands import IssueGiftCard, RequestRefund
from oms_payments.gift_card_tokens import GiftCardTokens, normalise
from oms_platform.auth import Principal, Scope, allow
from oms_platform.commands import run_command
from oms_platform.eventstore import UnitOfWork
from oms_platform.http import PROBLEM_RESPONSES, IdempotencyKeyHeader, RequestIdHeader, cause_of

Refunder = Annotated[Principal, allow(Scope.CUSTOMER_SERVICE)]
"""Goodwill and manual refunds (returns refund through events, not this API)."""
CardIssuer = Annotated[Principal, allow(Scope.CUSTOMER_SERVICE, Scope.OPERATIONS)]
READ = allow(Scope.PLATFORM, Scope.CUSTOMER_SERVICE, Scope.OPERATIONS, Scope.AUDITOR)
CHECKOUT = allow(Scope.PLATFORM, Scope.CUSTOMER_SERVICE)
"""Who exchanges a gift card's code for its token: the shop at checkout, customer service."""

PaymentId = Annotated[Id, Path(description="The payment's id (as in OrderPlaced.payments).")]
OrderId = Annotated[Id, Path(description="The OMS order id.")]
GiftCardToken = Annotated[
    GiftCardTokenType,
    Path(description="The gift card's token (POST /v1/gift-cards/tokens), never its code."),
]


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


def _gift_card_code(value: Any) -> Any:
    # The reason never quotes the code (a 422 body and a log line would then hold it).
    return normalise(value) if isinstance(value, str) else value


GiftCardCode = Annotated[
    str,
    Field(
        max_length=100,
        description=(
            "The card's code: 3 to 64 letters, digits or underscores; spaces and hyphens "
            "are ignored and case does not matter."
        ),
        examples=["GC-7Q4M-2291"],
    ),
    BeforeValidator(_gift_card_code),
]


class GiftCardCodeBody(BaseModel):
    """A card's code, exchanged for its token."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    code: GiftCardCode


class GiftCardBody(BaseModel):
    """A card to issue: its code and its starting balance."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    code: GiftCardCode
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


def gift_card_tokens(request: Request) -> GiftCardTokens:
    """The service's code -> token hash (set on ``app.state`` by ``create_app``)."""
    found = request.app.state.gift_card_tokens
    assert isinstance(found, GiftCardTokens)
    return found


Tokens = Annotated[GiftCardTokens, Depends(gift_card_tokens)]

router = APIRouter(prefix="/v1", tags=["payments"], responses=PROBLEM_RESPONSES)


@router.get("/payments/{payment_id}", dependencies=[READ])
async def get_payment(payment_id: PaymentId, r: Reads) -> dict[str, Any]:
    """A payment: method, amounts authorized/captured/voided/refunded, status, history."""
    return await queries.payment(r, payment_id)


@router.get("/orders/{order_id}/payments", dependencies=[READ])
async def get_order_payments(order_id: OrderId, r: Reads) -> dict[str, Any]:
    """Every payment of an order, what each shipment billed, and the totals."""
    return await queries.order_payments(r, order_id)


@router.post("/payments/{payment_id}/refunds", status_code=status.HTTP_202_ACCEPTED)
async def refund(
    payment_id: PaymentId,
    body: RefundBody,
    response: Response,
    r: Reads,
    caller: Refunder,
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
        return await handlers.request_refund(
            uow, cmd, actor=caller.actor, cause=cause_of(request_id)
        )

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
    tokens: Tokens,
    caller: CardIssuer,
    request_id: RequestIdHeader = None,
) -> dict[str, Any]:
    """Issue a gift card with its starting balance (409 if the card exists).

    Answers with the card's token (``card``), by which everything else knows the card;
    the code is not repeated.
    """
    cmd = IssueGiftCard(card=tokens.token(body.code), balance=body.balance)

    async def work(uow: UnitOfWork) -> None:
        await handlers.issue_gift_card(uow, cmd, actor=caller.actor, cause=cause_of(request_id))

    await run_command(r.store, work)
    return {"card": cmd.card, "balance": body.balance.model_dump(mode="json")}


@router.post("/gift-cards/tokens", dependencies=[CHECKOUT])
async def gift_card_token(body: GiftCardCodeBody, tokens: Tokens) -> dict[str, str]:
    """Exchange a card's code for its token, to pay with (``payments[].gift_card``).

    Every well-formed code gets a token, issued or not, so this cannot be used to find
    codes; an order paying with a card that does not exist is declined.
    """
    return {"card": tokens.token(body.code)}


@router.get("/gift-cards/{card}", dependencies=[READ])
async def get_gift_card(card: GiftCardToken, r: Reads) -> dict[str, Any]:
    """A gift card's balance and its debits and credits, by its token (a shop may show
    the shopper what is left at checkout)."""
    return await queries.gift_card(r, card)


@router.get("/reconciliations", dependencies=[allow(Scope.OPERATIONS, Scope.AUDITOR)])
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
