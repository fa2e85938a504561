"""The warehouses, kept in one stream: registering one never touches stock streams."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from oms_events.base import Event
from oms_events.contracts import WarehouseRegistered
from oms_inventory.domain.allocation import Warehouse
from oms_inventory.domain.commands import RegisterWarehouse
from oms_inventory.domain.errors import Conflict, NotFound


@dataclass(frozen=True, slots=True)
class Warehouses:
    """Every registered warehouse by code."""

    by_code: dict[str, Warehouse] = field(default_factory=dict)

    def get(self, code: str) -> Warehouse:
        """The warehouse ``code``; raises :class:`NotFound` if it was never registered."""
        try:
            return self.by_code[code]
        except KeyError:
            raise NotFound(f"warehouse {code!r} is not registered", field="warehouse") from None

    def all(self) -> list[Warehouse]:
        return sorted(self.by_code.values(), key=lambda w: (w.priority, w.code))


def evolve(state: Warehouses, event: Event) -> Warehouses:
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


def decide(cmd: RegisterWarehouse, state: Warehouses) -> list[Event]:
    """Register a warehouse; the same details again are a no-op."""
    wanted = Warehouse(cmd.code, cmd.country, cmd.priority, cmd.active, cmd.name)
    current = state.by_code.get(cmd.code)
    if current == wanted:
        return []
    if current is not None and not cmd.replace:
        raise Conflict(
            f"warehouse {cmd.code!r} is already registered with other details; "
            f"PUT /v1/warehouses/{cmd.code} changes them",
            field="code",
        )
    return [
        WarehouseRegistered(
            warehouse_id=cmd.code,
            name=cmd.name,
            country=cmd.country,
            priority=cmd.priority,
            active=cmd.active,
        )
    ]
