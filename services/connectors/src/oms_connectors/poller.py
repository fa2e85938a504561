"""The Adobe Commerce poller: for shops that allow no webhook (or as a safety net beside
one), fetch the orders updated since the last poll and take each one.

``GET <base>/V1/orders`` with ``searchCriteria`` on ``updated_at`` (``gteq`` the cursor),
sorted by ``updated_at`` then ``entity_id``, a page at a time. The cursor is the last
order's ``updated_at`` and ``entity_id``; the same second is asked again on the next poll
(``gteq``), since orders updated within one second may arrive after the poll, and orders
already seen are recognised by their delivery key (``poll:<entity_id>:<updated_at>``) and
taken ones by their platform id, so asking twice adds nothing; a refused order the shop
corrects (a new ``updated_at``) is taken anew. The cursor moves in the unit of work of the
page's orders: a crash repeats at most one page. An unreachable platform is waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from oms_connectors.intake import OrderIntake
from oms_connectors.platforms.base import PlatformRefused, PlatformUnavailable, call
from oms_connectors.shops import Intake, Platform, ShopConfig
from oms_connectors.tables import Tables
from oms_platform.commands import run_command
from oms_platform.eventstore.base import EventStore, UnitOfWork
from oms_platform.health import LoopStatus
from oms_platform.logging import get_logger

log = get_logger(__name__)

LOOP = "adobe-poller"
PAGE_SIZE = 50
EPOCH = "1970-01-01 00:00:00"


def search_params(since: str, page: int, size: int = PAGE_SIZE) -> dict[str, str]:
    """The ``searchCriteria`` query of orders updated at or after ``since``."""
    f = "searchCriteria[filter_groups][0][filters][0]"
    return {
        f"{f}[field]": "updated_at",
        f"{f}[value]": since,
        f"{f}[condition_type]": "gteq",
        "searchCriteria[sortOrders][0][field]": "updated_at",
        "searchCriteria[sortOrders][0][direction]": "ASC",
        "searchCriteria[sortOrders][1][field]": "entity_id",
        "searchCriteria[sortOrders][1][direction]": "ASC",
        "searchCriteria[pageSize]": str(size),
        "searchCriteria[currentPage]": str(page),
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AdobePoller:
    def __init__(
        self,
        store: EventStore,
        tables: Tables,
        intake: OrderIntake,
        shops: Sequence[ShopConfig],
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.tables = tables
        self.intake = intake
        self.shops = [
            s
            for s in shops
            if s.platform is Platform.ADOBE_COMMERCE and s.intake is not Intake.WEBHOOK
        ]
        self.client = client
        self.clock = clock
        self.polled: dict[str, int] = {}
        self.status: LoopStatus | None = None
        """Set by the host: a round that polled every shop reports the loop healthy again."""

    async def run(self, stop: asyncio.Event) -> None:
        if not self.shops:
            await stop.wait()
            return
        every = min(s.poll_every_s for s in self.shops)
        while not stop.is_set():
            for shop in self.shops:
                await self.poll(shop)
            if self.status is not None:
                self.status.ok()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def poll(self, shop: ShopConfig) -> int:
        """Take every order of ``shop`` updated since its cursor; returns how many were seen.
        Raises ``PlatformUnavailable`` when the platform cannot be reached (the loop's
        runner reports it and tries again)."""
        cursor = await self.tables.cursor(shop.shop)
        since, _last_id = cursor or (EPOCH, 0)
        token = shop.token()
        headers = {"Authorization": f"Bearer {token.get_secret_value() if token else ''}"}
        url = f"{shop.api_url.rstrip('/')}/V1/orders"
        seen = 0
        page = 1
        while True:
            try:
                found = await call(
                    self.client,
                    "GET",
                    url,
                    "search orders",
                    params=search_params(since, page),
                    headers=headers,
                )
            except PlatformRefused as err:
                raise PlatformUnavailable(str(err)) from err
            items: list[Any] = list((found or {}).get("items") or [])
            if not items:
                break
            await run_command(self.store, self._page(shop, items))
            seen += len(items)
            total = int((found or {}).get("total_count") or 0)
            if page * PAGE_SIZE >= total:
                break
            page += 1
        self.polled[shop.shop] = self.polled.get(shop.shop, 0) + seen
        return seen

    def _page(self, shop: ShopConfig, items: list[Any]) -> Callable[[UnitOfWork], Awaitable[None]]:
        async def work(uow: UnitOfWork) -> None:
            await self._take_page(uow, shop, items)

        return work

    async def _take_page(self, uow: UnitOfWork, shop: ShopConfig, items: list[Any]) -> None:
        last: tuple[str, int] | None = None
        for entity in items:
            if not isinstance(entity, dict):
                continue
            entity_id = entity.get("entity_id")
            updated = entity.get("updated_at")
            # Keyed by the order's version: a refused order the shop corrects is taken anew.
            await self.intake.take(uow, shop, f"poll:{entity_id}:{updated}", entity, "poll")
            if isinstance(updated, str) and isinstance(entity_id, int):
                last = (updated, entity_id)
        if last is not None:
            await self.tables.move_cursor(uow, shop.shop, last[0], last[1], self.clock())
