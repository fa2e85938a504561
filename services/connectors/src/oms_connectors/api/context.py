"""What every route needs, as one FastAPI dependency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from oms_connectors.intake import OrderIntake
from oms_connectors.shops import ShopConfig
from oms_connectors.signatures import AdobeVerifier
from oms_connectors.tables import Tables
from oms_platform.eventstore.base import EventStore
from oms_platform.refusal import Refusal


@dataclass(frozen=True)
class ApiContext:
    store: EventStore
    tables: Tables
    intake: OrderIntake
    shops: Mapping[str, ShopConfig]
    adobe_keys: Mapping[str, AdobeVerifier]

    def shop(self, shop: str, platform: str | None = None) -> ShopConfig:
        found = self.shops.get(shop)
        if found is None or (platform is not None and found.platform.value != platform):
            raise Refusal.not_found(
                "unknown_shop", f"no {platform or ''} shop {shop!r} is set up", "shop"
            )
        return found


def _context(request: Request) -> ApiContext:
    context = request.app.state.connectors
    assert isinstance(context, ApiContext)
    return context


Ctx = Annotated[ApiContext, Depends(_context)]
