"""Settings of the inventory service (environment variables ``OMS_INVENTORY_*``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from oms_events.contracts import AllocationStrategy
from oms_inventory.domain.allocation import STRATEGIES
from oms_platform.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    """Besides the shared service settings (DSN, Kafka, HTTP, topic prefix, logging):

    - ``OMS_INVENTORY_ALLOCATION_STRATEGY``: ``nearest`` (default), ``by_priority`` or
      ``fewest_parcels``: how orders are allocated to warehouses;
    - ``OMS_INVENTORY_VELOCITY_WINDOW_DAYS``: trailing days of reservations that make up the
      sales velocity used by promotion readiness (default 28).
    """

    model_config = SettingsConfigDict(env_prefix="OMS_INVENTORY_", extra="ignore")

    service: str = "inventory"
    allocation_strategy: AllocationStrategy = AllocationStrategy.NEAREST
    velocity_window_days: int = Field(default=28, ge=1, le=365)

    @field_validator("allocation_strategy")
    @classmethod
    def _implemented(cls, value: AllocationStrategy) -> AllocationStrategy:
        if value not in STRATEGIES:
            names = ", ".join(s.value for s in STRATEGIES)
            raise ValueError(f"allocation_strategy must be one of {names}")
        return value
