"""HTTP API of the order service: submit, look up, inspect (also as of a moment), cancel.

Errors always have the same shape: ``{"error": <code>, "message": <sentence>}`` plus
``errors`` (one entry per bad field: ``field``, ``message``) for 422s and ``reasons``
for rejected orders.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from oms_events.contracts import CancellationReason, CancelledBy, OrderRejected, OrderSubmitted
from oms_events.contracts.common import Text
from oms_events.registry import registry
from oms_order.domain.commands import CancelOrder
from oms_order.domain.decide import CancellationRefused, OrderNotFound
from oms_order.domain.intake import EMPTY_ORDER, Problem
from oms_order.handlers import IdempotencyKeyReused, Intake, OrderHandlers, Outcome
from oms_order.projections.order_view import Recorded, order_document
from oms_order.projections.tables import find_orders
from oms_order.streams import order_stream, platform_order_stream
from oms_platform.commands import run_command
from oms_platform.eventstore.postgres import PostgresEventStore

_ACTOR = re.compile(r"^(staff|platform|service|customer):[^\s:][^\s]{0,150}$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")
_CANCELLED_BY = {
    "staff": CancelledBy.STAFF,
    "platform": CancelledBy.CUSTOMER,
    "customer": CancelledBy.CUSTOMER,
    "service": CancelledBy.SYSTEM,
}
_LOOKUP_FILTERS = ("platform_order_ref", "sales_channel", "status", "customer_id")


class CancelRequest(BaseModel):
    """Body of ``POST /v1/orders/{id}/cancel``."""

    model_config = ConfigDict(extra="forbid")

    reason: CancellationReason = CancellationReason.CUSTOMER_REQUEST
    detail: Text | None = None


def problem(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    """An error response in the service's one error shape."""
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status)


def field_name(loc: Sequence[int | str]) -> str:
    """``("lines", 0, "sku")`` -> ``"lines[0].sku"``."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def field_errors(err: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    return [
        {"field": field_name(e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in err.errors()
    ]


def invalid(errors: list[dict[str, str]], what: str = "request") -> JSONResponse:
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem(
        422, "invalid_request", f"the {what} has invalid fields: {fields}", errors=errors
    )


def rejected(problems: list[Problem]) -> JSONResponse:
    return problem(
        422,
        "order_rejected",
        "the order was rejected: " + "; ".join(p.detail for p in problems),
        reasons=[{"code": p.code.value, "detail": p.detail} for p in problems],
        errors=[{"field": p.field, "message": p.detail, "type": p.code.value} for p in problems],
    )


async def validation_exception_handler(
    request: Request, exc: Exception
) -> JSONResponse:  # pragma: no cover - trivial glue
    assert isinstance(exc, RequestValidationError)
    return invalid(field_errors(exc))


def parse_as_of(value: str) -> datetime:
    """An ISO 8601 timestamp; without an offset it is taken as UTC.

    A ``+`` in a query string decodes to a space, so ``...T10:00:00 02:00`` is read as
    ``+02:00``.
    """
    value = value.strip()
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def create_router(store: PostgresEventStore, engine: Any, handlers: OrderHandlers) -> APIRouter:
    """``/v1/orders`` and ``/v1/rejections`` on the service's store, database and handlers."""
    router = APIRouter()
    orders = APIRouter(prefix="/v1/orders")
    rejections = APIRouter(prefix="/v1/rejections")

    async def load_document(order_id: str, as_of: datetime | None = None) -> dict[str, Any] | None:
        records = [
            Recorded(r.envelope, registry.parse(r.envelope), r.recorded_at)
            for r in await store.read_stream(order_stream(order_id))
            if as_of is None or r.recorded_at <= as_of
        ]
        return order_document(records) if records else None

    @orders.post("")
    async def submit_order(request: Request) -> JSONResponse:
        """Submit an order (the OrderSubmitted v2 fields as JSON)."""
        key = request.headers.get("idempotency-key")
        if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
            return invalid(
                [
                    {
                        "field": "header:Idempotency-Key",
                        "message": "must be 1 to 100 printable ASCII characters without spaces",
                        "type": "idempotency_key",
                    }
                ]
            )
        try:
            body = json.loads(await request.body())
        except ValueError as err:
            return invalid([{"field": "body", "message": f"not JSON: {err}", "type": "json"}])
        if not isinstance(body, dict):
            return invalid([{"field": "body", "message": "must be a JSON object", "type": "json"}])
        actor = request.headers.get("x-actor")
        if actor is not None and not _ACTOR.fullmatch(actor):
            return invalid([_actor_error()])
        causation = request.headers.get("x-request-id") or f"http-{uuid.uuid4()}"
        try:
            sub = OrderSubmitted.model_validate(body)
        except ValidationError as err:
            errors = field_errors(err)
            if _only_empty_lines(errors, body):
                intake = Intake(actor or f"platform:{body['sales_channel']}", causation, key)
                await run_command(
                    store,
                    lambda uow: handlers.reject(
                        uow,
                        str(body["platform_order_ref"]),
                        str(body["sales_channel"]),
                        [EMPTY_ORDER],
                        intake,
                    ),
                )
                return rejected([EMPTY_ORDER])
            return invalid(errors, "order")
        intake = Intake(actor or f"platform:{sub.sales_channel}", causation, key)
        try:
            result = await run_command(store, lambda uow: handlers.submit(uow, sub, intake))
        except IdempotencyKeyReused as err:
            return problem(422, "idempotency_key_reused", str(err), existing_order_id=err.order_id)
        if result.outcome is Outcome.REJECTED:
            return rejected(result.problems)
        assert result.order_id is not None
        doc = await load_document(result.order_id) or {"order_id": result.order_id}
        created = result.outcome is Outcome.CREATED
        return JSONResponse(
            {**doc, "created": created},
            status_code=201 if created else 200,
            headers={"Location": f"/v1/orders/{result.order_id}"},
        )

    @orders.get("")
    async def find(request: Request) -> JSONResponse:
        """Order summaries by ``platform_order_ref``, ``sales_channel``, ``status``..."""
        params = request.query_params
        unknown = sorted(set(params) - {*_LOOKUP_FILTERS, "limit"})
        errors = [
            {"field": f"query:{name}", "message": "unknown filter", "type": "unknown"}
            for name in unknown
        ]
        limit = 100
        if "limit" in params:
            try:
                limit = int(params["limit"])
                if not 1 <= limit <= 1000:
                    raise ValueError
            except ValueError:
                errors.append(
                    {"field": "query:limit", "message": "must be 1..1000", "type": "limit"}
                )
        if errors:
            return invalid(errors)
        filters = {name: params[name] for name in _LOOKUP_FILTERS if name in params}
        async with engine.connect() as conn:
            rows = await find_orders(conn, filters, limit)
        return JSONResponse(rows)

    @orders.get("/{order_id}")
    async def get_order(order_id: str, as_of: str | None = None) -> JSONResponse:
        """The order with its payments, allocations and timeline; ``as_of`` for the past.

        ``as_of`` compares with the time each event was recorded by the order service.
        """
        moment = None
        if as_of is not None:
            try:
                moment = parse_as_of(as_of)
            except ValueError:
                return invalid(
                    [
                        {
                            "field": "query:as_of",
                            "message": "must be an ISO 8601 timestamp, e.g. "
                            "2026-03-02T09:15:00+00:00",
                            "type": "datetime",
                        }
                    ]
                )
        doc = await load_document(order_id, moment)
        if doc is None:
            if moment is not None and await load_document(order_id) is not None:
                return problem(
                    404,
                    "order_not_found",
                    f"order {order_id} did not exist yet at {moment.isoformat()}",
                )
            return problem(404, "order_not_found", f"there is no order {order_id}")
        if moment is not None:
            doc["as_of"] = moment.isoformat()
        return JSONResponse(doc)

    @orders.post("/{order_id}/cancel")
    async def cancel_order(order_id: str, request: Request) -> JSONResponse:
        """Cancel on behalf of customer service; refused (409) once shipped or cancelled."""
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
            body = CancelRequest.model_validate(data)
        except ValidationError as err:
            return invalid(field_errors(err))
        except ValueError as err:
            return invalid([{"field": "body", "message": f"not JSON: {err}", "type": "json"}])
        actor = request.headers.get("x-actor") or "staff:unknown"
        if not _ACTOR.fullmatch(actor):
            return invalid([_actor_error()])
        command = CancelOrder(body.reason, _CANCELLED_BY[actor.split(":", 1)[0]], body.detail)
        cause = request.headers.get("x-request-id") or f"http-{uuid.uuid4()}"
        try:
            await run_command(
                store, lambda uow: handlers.cancel(uow, order_id, command, actor, cause)
            )
        except OrderNotFound:
            return problem(404, "order_not_found", f"there is no order {order_id}")
        except CancellationRefused as err:
            return problem(409, "cancellation_refused", err.message)
        return JSONResponse(await load_document(order_id))

    @rejections.get("")
    async def find_rejections(platform_order_ref: str, sales_channel: str) -> JSONResponse:
        """The rejected submissions of one platform order (oldest first), e.g. unknown SKUs."""
        stream = platform_order_stream(sales_channel, platform_order_ref)
        found = []
        for rec in await store.read_stream(stream):
            if rec.envelope.type != OrderRejected.event_type:
                continue
            event = registry.parse_as(rec.envelope, OrderRejected)
            found.append(
                {
                    **event.model_dump(mode="json"),
                    "recorded_at": rec.recorded_at.isoformat(),
                    "actor": rec.envelope.actor,
                    "cause": rec.envelope.causation_id,
                }
            )
        return JSONResponse(found)

    router.include_router(orders)
    router.include_router(rejections)
    return router


def _actor_error() -> dict[str, str]:
    return {
        "field": "header:X-Actor",
        "message": "must look like staff:<user>, platform:<channel>, customer:<id> "
        "or service:<name>",
        "type": "actor",
    }


def _only_empty_lines(errors: list[dict[str, str]], body: dict[str, Any]) -> bool:
    """The body is a valid order except that it has no lines: an empty order."""
    return (
        body.get("lines") == []
        and len(errors) == 1
        and errors[0]["field"] == "lines"
        and errors[0]["type"] == "too_short"
    )
