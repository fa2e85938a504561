"""Fixtures for the inventory's unit tests: handlers over the in-memory event store, and
the events the decider specifications are given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from oms_events.base import Event
from oms_events.contracts import AllocationStrategy, SkuRegistered, WarehouseRegistered
from oms_events.registry import registry
from oms_inventory.domain.allocation import LineRequest
from oms_inventory.domain.commands import (
    ReceiveStock,
    RegisterSku,
    RegisterWarehouse,
    ReserveStock,
)
from oms_inventory.handlers import Cause, Inventory
from oms_platform.commands import run_command
from oms_platform.eventstore import InMemoryEventStore, UnitOfWork
from oms_platform.testing.keys import TEST_CHAIN_KEY

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def warehouse_registered(
    code: str, country: str, priority: int, active: bool = True
) -> WarehouseRegistered:
    return WarehouseRegistered(
        warehouse_id=code, name=f"{code} DC", country=country, priority=priority, active=active
    )


AMS = warehouse_registered("AMS", "NL", 1)
BER = warehouse_registered("BER", "DE", 2)
TEE = SkuRegistered(
    sku="TEE", name="Tee", weight_grams=180, length_mm=300, width_mm=250, height_mm=20
)


@dataclass
class World:
    """An inventory on a fresh in-memory store, with helpers to set the scene."""

    store: InMemoryEventStore = field(default_factory=lambda: InMemoryEventStore(TEST_CHAIN_KEY))
    inventory: Inventory = field(default_factory=lambda: Inventory(clock=lambda: NOW))

    async def run(self, work: Callable[[UnitOfWork], Awaitable[list[Event]]]) -> list[Event]:
        return await run_command(self.store, work)

    async def warehouse(self, code: str, country: str, priority: int, active: bool = True) -> None:
        cmd = RegisterWarehouse(code, f"{code} DC", country, priority, active)
        await self.run(lambda uow: self.inventory.register_warehouse(uow, cmd, Cause(code)))

    async def sku(self, sku: str, **stock: int) -> None:
        cmd = RegisterSku(sku, sku.title(), 250, 100, 80, 60)
        await self.run(lambda uow: self.inventory.change_stock(uow, cmd, Cause(sku)))
        for wh, qty in stock.items():
            receipt = ReceiveStock(sku, wh, qty)
            await self.run(lambda uow, r=receipt: self.inventory.change_stock(uow, r, Cause(sku)))

    async def reserve(
        self,
        order_id: str,
        *lines: tuple[str, int],
        country: str = "NL",
        strategy: AllocationStrategy = AllocationStrategy.NEAREST,
    ) -> list[Event]:
        cmd = ReserveStock(
            order_id,
            tuple(LineRequest(str(i), sku, q) for i, (sku, q) in enumerate(lines, 1)),
            country,
            strategy,
        )
        return await self.run(lambda uow: self.inventory.reserve_stock(uow, cmd, Cause(order_id)))

    async def stream(self, stream_id: str) -> list[Event]:
        return [registry.parse(r.envelope) for r in await self.store.read_stream(stream_id)]

    async def available(self, sku: str) -> dict[str, int]:
        state, _ = await Inventory().load_stock(self.store, sku)
        return state.available()


@pytest.fixture
async def world() -> World:
    w = World()
    await w.warehouse("AMS", "NL", 1)
    await w.warehouse("BER", "DE", 2)
    await w.warehouse("MAD", "ES", 3)
    return w
