"""Request bodies and parameters of the fulfilment API, built from the contract types.

Every field is bounded by the types the events use (numbers in ``oms_events.limits``): at
most ``MAX_LINES`` lines, a quantity found 0 to ``MAX_STOCK_LEVEL`` (the most a pick list
line can hold; more than the line asks for is refused by the decider, ``over_picked``),
SKUs and ids bounded in length and free of control characters, a reason up to
``MAX_TEXT_LENGTH`` characters. Unknown fields are refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from oms_events.contracts.common import Sku, StockLevel, Text
from oms_events.limits import MAX_LINES

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
"""A warehouse code as the inventory's master data allows it."""

WarehouseCode = Annotated[
    str, Field(pattern=CODE_PATTERN, description="Letters, digits, '_', '.', '-'; up to 64.")
]

MAX_PAGE = MAX_LINES
"""The most pick lists one request returns."""


class PicklistStatus(StrEnum):
    OPEN = "open"
    PICKED = "picked"
    PACKED = "packed"
    CANCELLED = "cancelled"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PickedLineIn(_In):
    sku: Sku
    quantity: StockLevel = Field(description="Units found: 0 up to the units on the pick list.")


class PickIn(_In):
    lines: list[PickedLineIn] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="Every SKU of the pick list once, with the units found (0 if none).",
    )


class CancelIn(_In):
    reason: Text
