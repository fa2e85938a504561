"""What the shops and their staff can read: refusals, an order's way through, the way back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from oms_connectors.api.context import Ctx
from oms_connectors.api.webhooks import ShopId
from oms_platform.auth import Scope, allow
from oms_platform.refusal import Refusal

router = APIRouter()

PlatformOrderId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_-]+$")]


@router.get("/shops", dependencies=[allow(Scope.PLATFORM, Scope.OPERATIONS)])
async def list_shops(ctx: Ctx) -> dict[str, Any]:
    """The shops this connector serves (no secrets)."""
    return {
        "shops": [
            {
                "shop": s.shop,
                "platform": s.platform.value,
                "sales_channel": s.sales_channel,
                "currencies": list(s.currencies),
                "intake": s.intake.value if s.platform.value == "adobe-commerce" else "webhook",
                "payment_methods": {k: v.value for k, v in sorted(s.payment_table().items())},
            }
            for s in ctx.shops.values()
        ]
    }


@router.get(
    "/shops/{shop}/refusals",
    dependencies=[allow(Scope.PLATFORM, Scope.OPERATIONS, Scope.CUSTOMER_SERVICE)],
)
async def refusals(
    ctx: Ctx,
    shop: ShopId,
    after: Annotated[int, Query(ge=0, le=2**62, description="Refusals after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Orders of the shop that could not be taken, or that the OMS rejected, oldest first,
    each with its reasons per field."""
    ctx.shop(shop)
    found = await ctx.tables.refusals(shop, after, limit)
    return {"shop": shop, "refusals": found, "count": len(found)}


@router.get(
    "/shops/{shop}/orders/{platform_order_id}",
    dependencies=[allow(Scope.PLATFORM, Scope.OPERATIONS, Scope.CUSTOMER_SERVICE)],
)
async def platform_order(
    ctx: Ctx, shop: ShopId, platform_order_id: PlatformOrderId
) -> dict[str, Any]:
    """A platform order the connector took: the OMS order it became, its lines, and every
    action sent (or still to send) back to the platform."""
    ctx.shop(shop)
    order = await ctx.tables.order(shop, platform_order_id)
    if order is None:
        raise Refusal.not_found(
            "platform_order_not_found",
            f"shop {shop} sent no order {platform_order_id} that was taken",
            "platform_order_id",
        )
    actions = (
        await ctx.tables.outbound(shop, None, 500, order_id=order.order_id)
        if order.order_id
        else []
    )
    return {
        "shop": shop,
        "platform_order_id": order.platform_order_id,
        "platform_order_ref": order.platform_order_ref,
        "order_id": order.order_id,
        "lines": [
            {"line_id": ln.line_id, "item_id": ln.item_id, "sku": ln.sku, "quantity": ln.quantity}
            for ln in order.lines
        ],
        "outbound": [a.view() for a in actions],
    }


@router.get("/shops/{shop}/outbound", dependencies=[allow(Scope.OPERATIONS)])
async def outbound(
    ctx: Ctx,
    shop: ShopId,
    status: Literal["pending", "done", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """What the platform was told or is still to be told, oldest first."""
    ctx.shop(shop)
    found = await ctx.tables.outbound(shop, status, limit)
    return {"shop": shop, "actions": [a.view() for a in found], "count": len(found)}
