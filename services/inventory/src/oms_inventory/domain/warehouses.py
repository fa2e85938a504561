"""The warehouses, kept in one stream (``warehouses``): registering one never touches stock.

:data:`WAREHOUSES` is its decider: ``RegisterWarehouse`` (the same details again are a
no-op, other details for a known code are refused ``warehouse_exists``) and
``ChangeWarehouse`` (refused ``warehouse_not_found`` for an unknown code).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import assert_never

from oms_events.base import Event
from oms_events.contracts import WarehouseRegistered
from oms_inventory.domain.allocation import Warehouse
from oms_inventory.domain.commands import ChangeWarehouse, RegisterWarehouse, WarehouseCommand
from oms_inventory.domain.refusals import warehouse_not_found
from oms_platform.decider import Decider, Decision
from oms_platform.refusal import Refusal


@dataclass(frozen=True, slots=True)
class Warehouses:
    """Every registered warehouse by code."""

    by_code: dict[str, Warehouse] = field(default_factory=dict)

    def get(self, code: str, field: str = "warehouse") -> Warehouse:
        """The warehouse ``code``; refuses ``warehouse_not_found`` (404) if never registered."""
        found = self.by_code.get(code)
        if found is None:
            raise warehouse_not_found(code, field)
        return found

    def all(self) -> list[Warehouse]:
        return sorted(self.by_code.values(), key=lambda w: (w.priority, w.code))


def evolve(state: Warehouses, event: Event) -> Warehouses:
    """The warehouses after ``event`` (events of other kinds leave them unchanged)."""
    if isinstance(event, WarehouseRegistered):
        wh = Warehouse(
            code=event.warehouse_id,
            country=event.country,
            priority=event.priority,
            active=event.active,
            name=event.name,
        )
        return replace(state, by_code={**state.by_code, wh.code: wh})
    return state


class WarehousesDecider:
    def initial_state(self) -> Warehouses:
        return Warehouses()

    def evolve(self, state: Warehouses, event: Event) -> Warehouses:
        return evolve(state, event)

    def decide(self, command: WarehouseCommand, state: Warehouses) -> Decision:
        match command:
            case RegisterWarehouse():
                current = state.by_code.get(command.code)
                if current is not None and current != _wanted(command):
                    raise Refusal(
                        "warehouse_exists",
                        f"warehouse {command.code!r} is already registered with other "
                        f"details; PUT /v1/warehouses/{command.code} changes them",
                        "code",
                    )
            case ChangeWarehouse():
                state.get(command.code, "code")
            case _:
                assert_never(command)
        if state.by_code.get(command.code) == _wanted(command):
            return []
        return [
            WarehouseRegistered(
                warehouse_id=command.code,
                name=command.name,
                country=command.country,
                priority=command.priority,
                active=command.active,
            )
        ]


def _wanted(cmd: WarehouseCommand) -> Warehouse:
    return Warehouse(cmd.code, cmd.country, cmd.priority, cmd.active, cmd.name)


WAREHOUSES: Decider[WarehouseCommand, Warehouses] = WarehousesDecider()
