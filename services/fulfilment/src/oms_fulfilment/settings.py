"""Settings of the fulfilment service (environment variables ``OMS_FULFILMENT_*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from oms_fulfilment.domain.capacity import CAPACITY, DEFAULT_CAPACITY, Capacity, CapacityTable
from oms_platform.settings import ServiceSettings

MAX_PER_HOUR = 1_000_000


class WarehouseCapacity(BaseModel):
    """Units picked and packed per hour in one warehouse."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    picks_per_hour: int = Field(gt=0, le=MAX_PER_HOUR)
    packs_per_hour: int = Field(gt=0, le=MAX_PER_HOUR)

    def capacity(self) -> Capacity:
        return Capacity(self.picks_per_hour, self.packs_per_hour)


class FulfilmentSettings(ServiceSettings):
    """The shared service settings (DSN, Kafka, HTTP, topic prefix, logging), e.g.
    ``OMS_FULFILMENT_DATABASE_DSN`` and ``OMS_FULFILMENT_HTTP_PORT``, and the warehouses'
    capacity (the box catalogue is :data:`~oms_fulfilment.domain.packaging.BOXES`)."""

    model_config = SettingsConfigDict(env_prefix="OMS_FULFILMENT_", extra="ignore")

    service: str = "fulfilment"
    capacity: dict[str, WarehouseCapacity] = Field(default_factory=dict)
    """Per warehouse code, replacing :data:`~oms_fulfilment.domain.capacity.CAPACITY`'s entry,
    e.g. ``OMS_FULFILMENT_CAPACITY='{"AMS": {"picks_per_hour": 300, "packs_per_hour": 200}}'``."""
    default_capacity: WarehouseCapacity | None = None
    """For codes listed nowhere (else :data:`~oms_fulfilment.domain.capacity.DEFAULT_CAPACITY`)."""

    def capacity_table(self) -> CapacityTable:
        by_warehouse = {**CAPACITY, **{code: c.capacity() for code, c in self.capacity.items()}}
        default = self.default_capacity.capacity() if self.default_capacity else DEFAULT_CAPACITY
        return CapacityTable(by_warehouse, default)
