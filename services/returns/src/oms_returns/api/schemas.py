"""Request bodies and parameters of the returns API, built from the contract types.

Every field is bounded by the types the events use (``oms_events.limits``): at most
``MAX_LINES`` lines, units 1 to ``MAX_STOCK_LEVEL``, SKUs bounded and free of control
characters, comments up to ``MAX_TEXT_LENGTH`` characters, reasons and conditions from
their closed lists. Unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from oms_events.contracts.common import Sku, Text, Units
from oms_events.contracts.returns import ReturnReason
from oms_events.limits import MAX_LINES
from oms_returns.domain.commands import Condition

RMA_PATTERN = r"^RMA-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"

RmaPath = Annotated[
    str, Path(pattern=RMA_PATTERN, description="The RMA number, e.g. RMA-7KQ2-M9XD.")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReturnLineIn(_In):
    sku: Sku
    quantity: Units
    reason: ReturnReason | None = Field(
        default=None, description="This line's reason; the request's reason when absent."
    )
    comment: Text | None = None


class ReturnIn(_In):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=MAX_LINES)
    reason: ReturnReason = Field(description="Why the items come back (the managed list).")
    comment: Text | None = Field(
        default=None, description="The customer's words; given to lines without their own."
    )


class ReceivedLineIn(_In):
    sku: Sku
    quantity: Units
    condition: Condition


class ReceiptIn(_In):
    lines: list[ReceivedLineIn] = Field(
        default_factory=list,
        max_length=MAX_LINES,
        description="What arrived per SKU and condition; authorised units not listed are "
        "missing (an empty list: nothing arrived).",
    )
