"""Settings of the connectors service (environment variables ``OMS_CONNECTORS_*``).

Besides the shared service settings (DSN, Kafka, HTTP, keys, logging):

- ``OMS_CONNECTORS_SHOPS``: the shops, a JSON list of :class:`ShopConfig` (or
  ``OMS_CONNECTORS_SHOPS_FILE``, a JSON file of the same list: secrets stay out of the
  environment when each shop names its ``*_file``s);
- ``OMS_CONNECTORS_OUTBOUND_EVERY_S`` (0.5): how often the outbound loop looks for due
  actions when idle; ``_MAX_BACKOFF_S`` (300): the longest wait between two tries;
- ``OMS_CONNECTORS_PLATFORM_TIMEOUT_S`` (10): one call to a platform;
- ``OMS_CONNECTORS_MAX_OVERDUE_S`` (600): an action pending longer than this makes the
  service not ready (a platform that stays unreachable is an outage someone must see).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms_connectors.shops import ShopConfig
from oms_platform.settings import ServiceSettings


class ConnectorsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_CONNECTORS_", extra="ignore")

    service: str = "connectors"
    shops: list[ShopConfig] = Field(default_factory=list)
    shops_file: Path | None = None
    outbound_every_s: float = Field(default=0.5, gt=0, le=60)
    max_backoff_s: float = Field(default=300.0, gt=0, le=86_400)
    platform_timeout_s: float = Field(default=10.0, gt=0, le=300)
    max_overdue_s: float = Field(default=600.0, gt=0)

    def all_shops(self) -> list[ShopConfig]:
        shops = list(self.shops)
        if self.shops_file is not None:
            shops += [ShopConfig.model_validate(s) for s in json.loads(self.shops_file.read_text())]
        ids = [s.shop for s in shops]
        if len(set(ids)) != len(ids):
            raise ValueError(f"shop ids must be unique: {ids}")
        return shops
