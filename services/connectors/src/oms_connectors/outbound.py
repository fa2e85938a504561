"""From the OMS's order events to what each platform is told.

The ``status`` consumer reads the order service's topic (one order's events arrive in
order: they are keyed by the order) and, in the inbox's transaction:

- ``OrderPlaced`` of a platform order: links the OMS order id to the platform order;
- ``OrderRejected``: records the OMS's reasons as a refusal the shop can read;
- ``OrderShipped`` -> ``ship`` (carrier, tracking number, SKU quantities),
  ``OrderDelivered`` -> ``deliver``, ``OrderCancelled`` -> ``cancel``,
  ``OrderReturnRecorded`` with a refund -> ``refund``: one ``connector_outbound`` row each,
  under an idempotency key made of what the OMS names it (``ship:<shipment_id>``...).

Orders that did not come through a connector are none of its business and are skipped.

The ``outbound`` loop sends what is due, an order's actions in the order they happened,
through the shop's adapter: done, retried with exponential back-off (capped) while the
platform is unavailable, or failed with the platform's reason when it refuses for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from oms_connectors.intake import OrderIntake
from oms_connectors.platforms.base import (
    Action,
    PlatformAdapter,
    PlatformRefused,
    PlatformUnavailable,
)
from oms_connectors.tables import Tables, conn_of
from oms_events.base import Event
from oms_events.contracts import OrderCancelled, OrderPlaced, OrderRejected
from oms_events.contracts.order import OrderDelivered, OrderReturnRecorded, OrderShipped
from oms_events.envelope import Envelope
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.health import LoopStatus
from oms_platform.logging import get_logger
from oms_platform.refusal import FieldError

log = get_logger(__name__)

LOOP = "outbound"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StatusOut:
    """The consumer side: order events -> links, refusals and outbound rows."""

    def __init__(
        self, tables: Tables, intake: OrderIntake, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.tables = tables
        self.intake = intake
        self.clock = clock

    async def handle(self, uow: UnitOfWork, env: Envelope, event: Event) -> None:
        now = self.clock()
        if isinstance(event, OrderPlaced):
            await self.tables.link(
                uow, event.sales_channel, event.platform_order_ref, event.order_id
            )
            return
        if isinstance(event, OrderRejected):
            found = await self.tables.by_ref(uow, event.sales_channel, event.platform_order_ref)
            if found is not None:
                reasons = [FieldError("order", r.detail, r.code.value) for r in event.reasons]
                await self.intake.record_rejection(
                    uow, found.shop, found.platform_order_ref, found.platform_order_id, reasons
                )
            return
        order_id = getattr(event, "order_id", None)
        if order_id is None:
            return
        order = await self.tables.by_order_id(conn_of(uow), order_id)
        if order is None:
            return
        if isinstance(event, OrderShipped):
            body: dict[str, Any] = {
                "shipment_id": event.shipment_id,
                "carrier": event.carrier,
                "tracking_number": event.tracking_number,
                "lines": [ln.model_dump(mode="json") for ln in event.lines],
            }
            await self.tables.enqueue(uow, f"ship:{event.shipment_id}", order, "ship", body, now)
        elif isinstance(event, OrderDelivered):
            body = {
                "shipment_id": event.shipment_id,
                "carrier": event.carrier,
                "tracking_number": event.tracking_number,
                "delivered_at": event.delivered_at.isoformat(),
            }
            await self.tables.enqueue(
                uow, f"deliver:{event.shipment_id}", order, "deliver", body, now
            )
        elif isinstance(event, OrderCancelled):
            body = {"reason": event.reason.value, "detail": event.detail}
            await self.tables.enqueue(uow, f"cancel:{order_id}", order, "cancel", body, now)
        elif isinstance(event, OrderReturnRecorded) and not event.refund_amount.is_zero():
            body = {
                "return_id": event.return_id,
                "lines": [ln.model_dump(mode="json") for ln in event.lines],
                "amount": event.refund_amount.model_dump(mode="json"),
                "reason": f"Return {event.return_id}",
            }
            await self.tables.enqueue(uow, f"refund:{event.return_id}", order, "refund", body, now)


HANDLED = (
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    OrderReturnRecorded,
)


class OutboundLoop:
    """Sends what is due through each shop's adapter (see the module docstring)."""

    def __init__(
        self,
        tables: Tables,
        adapters: Mapping[str, PlatformAdapter],
        *,
        every_s: float = 0.5,
        batch: int = 20,
        lease_s: float = 60.0,
        max_backoff_s: float = 300.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.tables = tables
        self.adapters = adapters
        self.every_s = every_s
        self.batch = batch
        self.lease_s = lease_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.sent = 0
        self.status: LoopStatus | None = None

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones: 1, 2, 4... capped,
        with jitter so that many actions waiting on one platform do not retry in step."""
        base = min(self.max_backoff_s, 2.0 ** min(attempts, 20))
        return base * random.uniform(0.8, 1.2)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = await self.once()
            if self.status is not None:
                self.status.ok()
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every_s)

    async def once(self) -> int:
        """Send one batch of due actions; returns how many were tried."""
        due = await self.tables.due(self.clock(), self.lease_s, self.batch)
        for row in due:
            adapter = self.adapters.get(row.shop)
            if adapter is None:
                await self.tables.finish(
                    row.key,
                    "pending",
                    self.clock(),
                    error=f"no shop {row.shop} is configured",
                    next_at=self.clock() + timedelta(seconds=self.max_backoff_s),
                )
                continue
            order = await self.tables.order(row.shop, row.platform_order_id)
            assert order is not None, "outbound rows are written for linked orders only"
            action = Action(row.key, row.action, row.body)
            try:
                remote = await getattr(adapter, row.action)(order, action)
            except PlatformUnavailable as err:
                wait = self.backoff(row.attempts)
                log.warning(
                    "outbound.retry",
                    key=row.key,
                    shop=row.shop,
                    error=str(err)[:300],
                    retry_in_s=round(wait, 1),
                )
                await self.tables.finish(
                    row.key,
                    "pending",
                    self.clock(),
                    error=str(err)[:1000],
                    next_at=self.clock() + timedelta(seconds=wait),
                )
            except PlatformRefused as err:
                log.error("outbound.refused", key=row.key, shop=row.shop, reason=err.reason[:300])
                await self.tables.finish(row.key, "failed", self.clock(), error=err.reason[:1000])
            else:
                self.sent += 1
                log.info("outbound.done", key=row.key, shop=row.shop, remote_id=remote)
                await self.tables.finish(row.key, "done", self.clock(), remote_id=remote)
        return len(due)
