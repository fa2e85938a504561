"""Request bodies of the inventory API, built from the contract types.

Every field is bounded by the same types the events use (``oms_events.contracts``, whose
numbers live in ``oms_events.limits``): quantities on an order line 1 to ``MAX_QUANTITY``,
stock movements 1 to ``MAX_STOCK_LEVEL``, a count or threshold 0 to ``MAX_STOCK_LEVEL``,
text bounded in length and free of control characters. Unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from oms_events.contracts import AllocationStrategy
from oms_events.contracts.common import (
    CountryCode,
    Grams,
    Id,
    Name,
    Quantity,
    Sku,
    StockLevel,
    Text,
    Units,
)
from oms_events.contracts.inventory import Millimetres, Uplift
from oms_events.limits import MAX_LINES, MAX_PROMOTION_SKUS, MAX_WAREHOUSE_PRIORITY
from oms_inventory.domain.allocation import STRATEGIES

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"

WarehouseCode = Annotated[
    str, Field(pattern=CODE_PATTERN, description="Letters, digits, '_', '.', '-'; up to 64.")
]
PromotionId = Annotated[str, Field(pattern=CODE_PATTERN)]
Priority = Annotated[
    int,
    Field(
        strict=True,
        ge=0,
        le=MAX_WAREHOUSE_PRIORITY,
        description="1 is the most preferred; ties go by code.",
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseChange(_In):
    name: Name
    country: CountryCode
    priority: Priority
    active: bool = True


class WarehouseIn(WarehouseChange):
    code: WarehouseCode


class SkuChange(_In):
    name: Name
    weight_grams: Grams
    length_mm: Millimetres
    width_mm: Millimetres
    height_mm: Millimetres


class SkuIn(SkuChange):
    sku: Sku


class ReceiptIn(_In):
    sku: Sku
    warehouse: WarehouseCode
    quantity: Units
    reference: Id | None = Field(
        default=None, description="Delivery note or PO; the same one is booked in once."
    )


class AdjustmentIn(_In):
    sku: Sku
    warehouse: WarehouseCode
    counted_quantity: StockLevel = Field(description="Units counted: on hand becomes this.")
    reason: Text


class TransferIn(_In):
    sku: Sku
    from_warehouse: WarehouseCode
    to_warehouse: WarehouseCode
    quantity: Units


class ThresholdIn(_In):
    low_stock_threshold: StockLevel = Field(description="0 switches the alert off.")


class PreviewLine(_In):
    line_id: Id
    sku: Sku
    quantity: Quantity


class PreviewIn(_In):
    lines: Annotated[list[PreviewLine], Field(min_length=1, max_length=MAX_LINES)]
    country: CountryCode
    strategy: AllocationStrategy | None = Field(
        default=None, description="Default: the service's configured strategy."
    )

    @field_validator("strategy")
    @classmethod
    def _implemented(cls, value: AllocationStrategy | None) -> AllocationStrategy | None:
        if value is not None and value not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
        return value


class PromotionIn(_In):
    promotion_id: PromotionId | None = Field(default=None, description="Generated when omitted.")
    name: Name
    skus: Annotated[list[Sku], Field(min_length=1, max_length=MAX_PROMOTION_SKUS)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime = Field(description="After starts_at.")
    expected_uplift: Uplift = Field(
        description="Sales multiplier during the promotion: 2.5 = 2.5 times the normal rate."
    )
