"""Taking a platform's order: refused with reasons, or one ``OrderSubmitted`` on the
ingress topic, whatever happens between the platform and the OMS.

One unit of work per delivery: the delivery's key is locked and looked up (a redelivery
answers what the first delivery answered, changing nothing); the payload is mapped; a
payload that cannot be mapped is recorded as a refusal for the shop to see; a mapped order
is recorded under its shop and platform id (an order seen before by another path, a
webhook and the poller, or a webhook id Shopify renewed, is a duplicate) and its
``OrderSubmitted`` appended to the connector's event store, whose relay publishes it on
``oms.platform.ingress``: taken and published commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oms_connectors.mapping import adobe, shopify
from oms_connectors.mapping.common import MappedOrder
from oms_connectors.shops import Platform, ShopConfig
from oms_connectors.tables import Tables
from oms_events.contracts import OrderSubmitted
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.refusal import FieldError, Refusal
from oms_platform.session import StreamSession

PRODUCER = "connectors"

MAPPERS: dict[Platform, Callable[[ShopConfig, Any], MappedOrder]] = {
    Platform.SHOPIFY: shopify.map_order,
    Platform.ADOBE_COMMERCE: adobe.map_order,
}


def submission_stream(order: OrderSubmitted) -> str:
    """The stream of a platform order's submission: one per sales channel and reference."""
    return f"platform-{order.sales_channel}-{order.platform_order_ref}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a delivery is answered, the first time and on every redelivery."""

    status: int
    body: dict[str, Any]
    outcome: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def refusal_body(err: Refusal) -> dict[str, Any]:
    return {
        "code": err.code,
        "detail": err.reason,
        "errors": [e.as_dict() for e in err.field_errors()],
    }


class OrderIntake:
    def __init__(self, tables: Tables, clock: Callable[[], datetime] = _utc_now) -> None:
        self.tables = tables
        self.clock = clock

    async def take(
        self, uow: UnitOfWork, shop: ShopConfig, delivery_id: str, payload: Any, via: str
    ) -> Answer:
        """Take one delivery of ``payload`` (already verified to come from ``shop``)."""
        seen = await self.tables.delivery(uow, shop.shop, delivery_id)
        if seen is not None:
            status, body = seen
            return Answer(status, {**body, "redelivery": True}, "redelivery")
        answer = await self._take(uow, shop, payload, via)
        await self.tables.record_delivery(
            uow, shop.shop, delivery_id, answer.outcome, answer.status, answer.body, self.clock()
        )
        return answer

    async def _take(self, uow: UnitOfWork, shop: ShopConfig, payload: Any, via: str) -> Answer:
        now = self.clock()
        ref, platform_id = _identity(shop, payload)
        if platform_id is not None:
            known = await self.tables.taken(uow, shop.shop, platform_id)
            if known is not None:
                # Taken before (the webhook and the poller, or the order changed since at
                # the shop): never mapped again, so a later state of it changes nothing.
                body = {
                    "platform_order_id": platform_id,
                    "platform_order_ref": known,
                    "sales_channel": shop.sales_channel,
                    "status": "duplicate",
                }
                return Answer(200, body, "duplicate")
        try:
            mapped = MAPPERS[shop.platform](shop, payload)
        except Refusal as err:
            await self.tables.refuse(
                uow,
                shop.shop,
                via,
                err.code,
                err.reason,
                err.field_errors(),
                now,
                ref,
                platform_id,
            )
            return Answer(err.status, refusal_body(err), "refused")
        order = mapped.order
        taken = await self.tables.add_order(
            uow,
            shop.shop,
            shop.platform.value,
            mapped.platform_order_id,
            order.platform_order_ref,
            order.sales_channel,
            mapped.lines,
            via,
            now,
        )
        body = {
            "platform_order_id": mapped.platform_order_id,
            "platform_order_ref": order.platform_order_ref,
            "sales_channel": order.sales_channel,
        }
        if not taken:
            return Answer(200, {**body, "status": "duplicate"}, "duplicate")
        session = StreamSession(
            uow,
            producer=PRODUCER,
            correlation_id=order.platform_order_ref,
            causation_id=None,
            actor=f"platform:{shop.shop}",
            occurred_at=now,
        )
        stream = submission_stream(order)
        session.create(stream, None, lambda state, _event: state)
        session.record(stream, [order])
        await session.flush()
        return Answer(202, {**body, "status": "accepted"}, "accepted")

    async def record_rejection(
        self,
        uow: UnitOfWork,
        shop: str,
        ref: str,
        platform_id: str | None,
        reasons: list[FieldError],
    ) -> None:
        """The OMS rejected an order the connector submitted: the shop sees why."""
        await self.tables.refuse(
            uow,
            shop,
            "oms",
            "rejected_by_oms",
            "the OMS rejected the order: " + "; ".join(r.reason for r in reasons)[:1500],
            reasons,
            self.clock(),
            ref,
            platform_id,
        )


def _identity(shop: ShopConfig, payload: Any) -> tuple[str | None, str | None]:
    """The order's reference and platform id, as far as a refused payload gives them."""
    entity = adobe.order_entity(payload) if shop.platform is Platform.ADOBE_COMMERCE else payload
    if not isinstance(entity, dict):
        return None, None
    if shop.platform is Platform.ADOBE_COMMERCE:
        ref, pid = entity.get("increment_id"), entity.get("entity_id")
    else:
        ref, pid = entity.get("name"), entity.get("id")
    return (
        str(ref)[:100] if ref is not None else None,
        str(pid)[:100] if pid is not None else None,
    )
