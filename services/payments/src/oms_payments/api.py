"""HTTP API of the payments service: payment queries, refunds, gift cards.

Bad input gets 422 with a reason per field (FastAPI's validation errors); an unknown
payment, order or gift card 404; a refusal (more than is refundable, a gift card code
already issued) 409 with ``{"detail": {"code": ..., "reason": ...}}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from oms_events.contracts.common import Id, Text
from oms_events.money import AMOUNT_PATTERN, Money
from oms_payments import handlers
from oms_payments.domain.errors import NotFound, PaymentsError
from oms_payments.projections import views
from oms_payments.streams import billing_stream, gift_card_stream, payment_stream
from oms_platform.commands import run_command
from oms_platform.eventstore import EventStore, UnitOfWork

T = TypeVar("T")

ACTOR_PATTERN = r"^(staff|service|platform):\S{1,150}$"
GIFT_CARD_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"

Actor = Annotated[
    str,
    Header(
        alias="X-Actor",
        pattern=ACTOR_PATTERN,
        description="Who asks, e.g. staff:alice (recorded as the events' actor).",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200),
]


class RefundBody(BaseModel):
    """``amount`` is a Money object or a decimal string in the payment's currency."""

    model_config = ConfigDict(extra="forbid")

    amount: Money | Annotated[str, Field(pattern=AMOUNT_PATTERN)]
    reason: Text
    return_id: Id | None = None

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money | str) -> Money | str:
        amount = value.amount if isinstance(value, Money) else Decimal(value)
        if amount <= 0:
            raise ValueError("a refund must be more than zero")
        return value


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


def router(store: EventStore) -> APIRouter:
    """The ``/v1`` routes, reading and writing through ``store``."""
    api = APIRouter(prefix="/v1", tags=["payments"])

    @api.get("/payments/{payment_id}")
    async def get_payment(payment_id: str) -> dict[str, Any]:
        """A payment: method, amounts authorised/captured/voided/refunded, status, history."""
        return _found(
            views.payment_view(payment_id, await store.read_stream(payment_stream(payment_id))),
            f"payment {payment_id}",
        )

    @api.get("/orders/{order_id}/payments")
    async def get_order_payments(order_id: str) -> dict[str, Any]:
        """Every payment of an order, what each shipment billed, and the totals."""
        records = await store.read_stream(billing_stream(order_id))
        if not records:
            raise _not_found(f"order {order_id}")
        order = views.billing_of(order_id, records)
        docs = []
        for pid in order.payment_ids:
            doc = views.payment_view(pid, await store.read_stream(payment_stream(pid)))
            if doc is not None:
                docs.append(doc)
        return views.order_payments_view(order, docs)

    @api.post("/payments/{payment_id}/refunds", status_code=status.HTTP_202_ACCEPTED)
    async def refund(
        payment_id: str,
        body: RefundBody,
        response: Response,
        actor: Actor = "staff:unknown",
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Ask for a full or partial refund; the provider pays it shortly after (202).

        With an ``Idempotency-Key``, repeating the request returns the same refund (200).
        """
        refund_id = _refund_id(payment_id, idempotency_key)
        if isinstance(body.amount, Money):
            amount, currency = body.amount.amount, body.amount.currency
        else:
            amount, currency = Decimal(body.amount), None

        async def work(uow: UnitOfWork) -> handlers.RefundAccepted:
            return await handlers.request_refund(
                uow,
                payment_id=payment_id,
                refund_id=refund_id,
                amount=amount,
                currency=currency,
                reason=body.reason,
                return_id=body.return_id,
                actor=actor,
            )

        accepted = await _command(store, work)
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

    @api.post("/gift-cards", status_code=status.HTTP_201_CREATED)
    async def issue_gift_card(body: GiftCardBody, actor: Actor = "staff:unknown") -> dict[str, Any]:
        """Issue a gift card with its starting balance (409 if the code is taken)."""

        async def work(uow: UnitOfWork) -> None:
            await handlers.issue_gift_card(uow, code=body.code, balance=body.balance, actor=actor)

        await _command(store, work)
        return {"code": body.code, "balance": body.balance.model_dump(mode="json")}

    @api.get("/gift-cards/{code}")
    async def get_gift_card(code: str) -> dict[str, Any]:
        """A gift card's balance and its debits and credits."""
        return _found(
            views.gift_card_view(code, await store.read_stream(gift_card_stream(code))),
            f"gift card {code}",
        )

    return api


async def _command(store: EventStore, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    try:
        result = await run_command(store, work)
    except NotFound as err:
        raise HTTPException(404, {"code": err.code, "reason": err.reason}) from err
    except PaymentsError as err:
        raise HTTPException(409, {"code": err.code, "reason": err.reason}) from err
    return result


def _refund_id(payment_id: str, idempotency_key: str | None) -> str:
    """A new refund id, or the same one for every request with one idempotency key."""
    if idempotency_key is None:
        return f"rfd-{uuid.uuid4().hex[:16]}"
    return f"rfd-{uuid.uuid5(uuid.NAMESPACE_URL, f'{payment_id}/{idempotency_key}').hex[:16]}"


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, {"code": "not_found", "reason": f"{what} is unknown"})


def _found(doc: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if doc is None:
        raise _not_found(what)
    return doc
