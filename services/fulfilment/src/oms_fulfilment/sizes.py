"""The SKU master's sizes, as fulfilment knows them: a table mirroring ``SkuRegistered``.

Packing needs each picked SKU's dimensions and weight. They belong to the inventory's SKU
master, which publishes every registration and change as ``SkuRegistered`` (the whole
record each time); the ``catalogue`` consumer keeps the newest size per SKU here, in the
same transaction as its inbox row, as the order service keeps its ``known_skus``.

It is a table written by a consumer, not a projection over fulfilment's own store: the
facts are another service's, so they arrive through Kafka, not through this store. A SKU
whose ``SkuRegistered`` has not arrived yet has no size, and packing it is refused
(``item_size_unknown``) rather than guessed.

:class:`SqlItemSizes` is the real thing; :class:`InMemoryItemSizes` serves a host on the
in-memory event store (route tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_fulfilment.domain.packaging import ItemSize
from oms_platform.eventstore.base import UnitOfWork

SCHEMA = """
CREATE TABLE IF NOT EXISTS fulfilment_item_sizes (
    sku            text PRIMARY KEY,
    length_mm      integer NOT NULL,
    width_mm       integer NOT NULL,
    height_mm      integer NOT NULL,
    weight_grams   integer NOT NULL,
    registered_at  timestamptz NOT NULL
)
"""

# A change replaces the size; an older registration arriving late (a replay) does not.
_UPSERT = text(
    "INSERT INTO fulfilment_item_sizes AS s "
    "(sku, length_mm, width_mm, height_mm, weight_grams, registered_at) "
    "VALUES (:sku, :length_mm, :width_mm, :height_mm, :weight_grams, :registered_at) "
    "ON CONFLICT (sku) DO UPDATE SET length_mm = EXCLUDED.length_mm, "
    "width_mm = EXCLUDED.width_mm, height_mm = EXCLUDED.height_mm, "
    "weight_grams = EXCLUDED.weight_grams, registered_at = EXCLUDED.registered_at "
    "WHERE s.registered_at <= EXCLUDED.registered_at"
)


class ItemSizes(Protocol):
    """Where the handlers keep and find SKU sizes (inside the caller's unit of work)."""

    async def remember(
        self, uow: UnitOfWork, sku: str, size: ItemSize, registered_at: datetime
    ) -> None: ...

    async def sizes(self, uow: UnitOfWork, skus: Iterable[str]) -> dict[str, ItemSize]: ...


class SqlItemSizes:
    """``fulfilment_item_sizes`` in the service's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('oms.fulfilment.tables'))")
            )
            await conn.execute(text(SCHEMA))

    async def remember(
        self, uow: UnitOfWork, sku: str, size: ItemSize, registered_at: datetime
    ) -> None:
        await uow.connection.execute(
            _UPSERT,
            {
                "sku": sku,
                "length_mm": size.length_mm,
                "width_mm": size.width_mm,
                "height_mm": size.height_mm,
                "weight_grams": size.weight_g,
                "registered_at": registered_at,
            },
        )

    async def sizes(self, uow: UnitOfWork, skus: Iterable[str]) -> dict[str, ItemSize]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows = await uow.connection.execute(
            text(
                "SELECT sku, length_mm, width_mm, height_mm, weight_grams "
                "FROM fulfilment_item_sizes WHERE sku = ANY(:skus)"
            ),
            {"skus": wanted},
        )
        return {r.sku: ItemSize(r.length_mm, r.width_mm, r.height_mm, r.weight_grams) for r in rows}


class InMemoryItemSizes:
    """Sizes in a dict, for a host on the in-memory event store."""

    def __init__(self, sizes: dict[str, ItemSize] | None = None) -> None:
        self.known: dict[str, tuple[ItemSize, datetime | None]] = {
            sku: (size, None) for sku, size in (sizes or {}).items()
        }

    async def remember(
        self, uow: UnitOfWork, sku: str, size: ItemSize, registered_at: datetime
    ) -> None:
        known = self.known.get(sku)
        if known is None or known[1] is None or known[1] <= registered_at:
            self.known[sku] = (size, registered_at)

    async def sizes(self, uow: UnitOfWork, skus: Iterable[str]) -> dict[str, ItemSize]:
        return {sku: self.known[sku][0] for sku in set(skus) if sku in self.known}
