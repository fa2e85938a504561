"""Request bodies and query parameters of the HTTP API, built from the contract types.

Every field is bounded by ``oms_events`` (lengths, no control characters, quantities,
money), so HTTP input is held to the same limits as Kafka input.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from oms_events.contracts import CancellationReason, OrderSubmitted
from oms_events.contracts.common import Id, Name, OrderLine, Text
from oms_events.contracts.order import Rating
from oms_events.limits import MAX_LINES, SINGLE_LINE_PATTERN
from oms_order.domain.state import OrderStatus
from oms_order.projections.read_models import OrderQuery


class OrderSubmission(OrderSubmitted):
    """Body of ``POST /v1/orders``: the fields of ``OrderSubmitted`` v2.

    Unlike the contract, ``lines`` may be empty: an order without lines is well formed and
    answered as a rejected order (recorded as ``OrderRejected``), not as malformed input.
    """

    lines: tuple[OrderLine, ...] = Field(max_length=MAX_LINES)

    def contract(self) -> OrderSubmitted:
        """The submission as the contract (it has at least one line)."""
        return OrderSubmitted.model_validate(dict(self))


class CancelRequest(BaseModel):
    """Body of ``POST /v1/orders/{id}/cancel`` (optional: the defaults apply)."""

    model_config = ConfigDict(extra="forbid")

    reason: CancellationReason = CancellationReason.CUSTOMER_REQUEST
    detail: Text | None = None


class FeedbackRequest(BaseModel):
    """Body of ``POST /v1/orders/{id}/feedback``: a rating 1-5 (a JSON integer, not a
    string) and an optional comment of at most 2,000 characters."""

    model_config = ConfigDict(extra="forbid")

    rating: Rating
    comment: Text | None = None


class OrderFilters(BaseModel):
    """Query of ``GET /v1/orders``; any other parameter is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    platform_order_ref: Id | None = None
    sales_channel: Name | None = None
    status: OrderStatus | None = None
    customer_id: Id | None = None
    stalled: bool | None = Field(
        default=None,
        description="true: only orders waiting for stock or payment for longer than the "
        "stall threshold; false: only orders that are not.",
    )
    limit: int = Field(default=100, ge=1, le=1000)

    def query(self) -> OrderQuery:
        status = None if self.status is None else self.status.value
        return OrderQuery(
            platform_order_ref=self.platform_order_ref,
            sales_channel=self.sales_channel,
            status=status,
            customer_id=self.customer_id,
            stalled=self.stalled,
            limit=self.limit,
        )


_SINGLE_LINE = re.compile(SINGLE_LINE_PATTERN)
_AS_OF = "must be an ISO 8601 timestamp, e.g. 2026-03-02T09:15:00+00:00"


def parse_as_of(value: Any) -> Any:
    """An ISO 8601 timestamp; without an offset it is taken as UTC.

    A ``+`` in a query string decodes to a space, so ``...T10:00:00 02:00`` is read as
    ``+02:00``. Anything else than a string is left to pydantic.
    """
    if not isinstance(value, str):
        return value
    # fromisoformat stops at a NUL and takes what came before it, so such input (and any
    # other control character) is refused before it gets there.
    if len(value) > 64 or not _SINGLE_LINE.fullmatch(value):
        raise ValueError(_AS_OF)
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value.strip())
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(_AS_OF) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


AsOf = Annotated[datetime, BeforeValidator(parse_as_of)]
"""A moment in the past: ISO 8601, UTC when it has no offset."""
