"""Promotions: plan one, read it, and whether stock will last through it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime

from oms_events.contracts.common import Id
from oms_inventory.api.context import STAFF_READ, Ctx, Planner, cause, recorded
from oms_inventory.api.schemas import PromotionIn
from oms_inventory.domain.commands import PlanPromotion
from oms_platform.http import RequestIdHeader

router = APIRouter()

EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def _plausible(as_of: datetime | None) -> datetime | None:
    # The velocity window reaches back from as_of: year 1 would overflow the date type.
    if as_of is not None and not EARLIEST <= as_of <= LATEST:
        raise ValueError(f"as_of must lie between {EARLIEST.year} and {LATEST.year}")
    return as_of


AsOf = Annotated[
    AwareDatetime | None, AfterValidator(_plausible), Query(description="Default: now.")
]


@router.post("/promotions", status_code=201)
async def plan_promotion(
    ctx: Ctx, body: PromotionIn, caller: Planner, request_id: RequestIdHeader = None
) -> JSONResponse:
    """Plan a promotion for registered SKUs; the same plan again answers 200."""
    promotion_id = body.promotion_id or f"promo-{uuid.uuid4().hex[:12]}"
    skus = tuple(dict.fromkeys(body.skus))
    cmd = PlanPromotion(
        promotion_id, body.name, skus, body.starts_at, body.ends_at, body.expected_uplift
    )
    c = cause(promotion_id, caller, request_id)
    events = await ctx.run(lambda uow: ctx.inventory.plan_promotion(uow, cmd, c))
    return recorded(events, {**body.model_dump(mode="json"), "promotion_id": promotion_id})


@router.get("/promotions/{promotion_id}", dependencies=[STAFF_READ])
async def get_promotion(ctx: Ctx, promotion_id: Id) -> dict[str, Any]:
    return await ctx.queries.promotion(promotion_id)


@router.get("/promotions/{promotion_id}/readiness", dependencies=[STAFF_READ])
async def promotion_readiness(ctx: Ctx, promotion_id: Id, as_of: AsOf = None) -> dict[str, Any]:
    """Per SKU and warehouse: projected stock at the start, promotion demand, shortfall."""
    return await ctx.queries.readiness(promotion_id, as_of or datetime.now(UTC))
