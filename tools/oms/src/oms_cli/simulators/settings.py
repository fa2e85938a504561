"""The simulators' settings, from ``OMS_SIM_*`` environment variables.

Warehouse (:class:`WarehouseSimSettings`):

- ``OMS_SIM_FULFILMENT_URL`` (default ``http://127.0.0.1:58084``): the fulfilment service;
- ``OMS_SIM_INVENTORY_URL`` (default ``http://127.0.0.1:58082``): where the warehouse codes
  come from (``GET /v1/warehouses``, the active ones, re-read every
  ``OMS_SIM_WAREHOUSES_REFRESH_S``, default 30, and every poll while there are none);
- ``OMS_SIM_WAREHOUSES``: a comma list of warehouse codes to work instead (overrides);
- ``OMS_SIM_PICK_DELAY_S`` (2), ``OMS_SIM_PACK_DELAY_S`` (2): seconds from seeing a pick
  list to reporting it picked, and from picked to packed;
- ``OMS_SIM_SHORT_PICK_RATE`` (0.05): the probability that a fulfilment is picked one unit
  short (only fulfilments of two units or more: a pick that finds nothing packs nothing).

Carrier (:class:`CarrierSimSettings`):

- ``OMS_SIM_SHIPPING_URL`` (default ``http://127.0.0.1:58085``): the shipping service;
- ``OMS_SIM_CARRIERS``: comma list of carrier codes (default every carrier shipping knows);
- ``OMS_SIM_TRANSIT_S`` (10): seconds from dispatch to the delivery scan, with an
  in-transit scan half-way;
- ``OMS_SIM_DELIVERY_FAILURE_RATE`` (0.05): probability of a failed delivery attempt
  (at three quarters of the transit) before the delivery;
- ``OMS_SIM_LOST_RATE`` (0.0), ``OMS_SIM_RETURN_TO_SENDER_RATE`` (0.0): probability that
  a parcel ends lost, or returned to sender after a failed attempt, instead of delivered.
- The webhook secrets are the shipping service's own (``OMS_SHIPPING_WEBHOOK_SECRET_*``,
  development defaults otherwise; see ``oms_shipping.settings``).

Both: ``OMS_SIM_POLL_S`` (1) between polls, ``OMS_SIM_SEED`` (0) for every random choice,
``OMS_SIM_MAX_BACKOFF_S`` (30) the longest wait after failures, ``OMS_SIM_LOG_JSON``
(default: JSON unless on a terminal), ``OMS_SIM_LOG_LEVEL`` (INFO).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Rate = float


def _codes(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


class SimSettings(BaseSettings):
    """What both simulators share."""

    model_config = SettingsConfigDict(env_prefix="OMS_SIM_", extra="ignore")

    poll_s: float = Field(default=1.0, gt=0, le=600)
    seed: int = 0
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600)
    http_timeout_s: float = Field(default=10.0, gt=0, le=600)
    log_json: bool | None = None
    log_level: str = "INFO"
    token: SecretStr | None = None
    """Bearer token for the services' APIs (``oms up`` mints one per simulator)."""

    def auth_headers(self) -> dict[str, str]:
        if self.token is None:
            return {}
        return {"Authorization": f"Bearer {self.token.get_secret_value()}"}

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # An exported but empty variable (``OMS_SIM_WAREHOUSES=``) means "not set".
        return None if value == "" else value


class WarehouseSimSettings(SimSettings):
    fulfilment_url: str = "http://127.0.0.1:58084"
    inventory_url: str = "http://127.0.0.1:58082"
    warehouses: str | None = None
    """Comma list; when set, these codes instead of inventory's active warehouses."""
    warehouses_refresh_s: float = Field(default=30.0, gt=0)
    pick_delay_s: float = Field(default=2.0, ge=0, le=3600)
    pack_delay_s: float = Field(default=2.0, ge=0, le=3600)
    short_pick_rate: Rate = Field(default=0.05, ge=0, le=1)

    def warehouse_codes(self) -> tuple[str, ...]:
        return _codes(self.warehouses)


class CarrierSimSettings(SimSettings):
    shipping_url: str = "http://127.0.0.1:58085"
    carriers: str | None = None
    """Comma list of carrier codes; default every carrier the shipping service knows."""
    transit_s: float = Field(default=10.0, ge=0, le=86_400)
    delivery_failure_rate: Rate = Field(default=0.05, ge=0, le=1)
    lost_rate: Rate = Field(default=0.0, ge=0, le=1)
    return_to_sender_rate: Rate = Field(default=0.0, ge=0, le=1)

    def carrier_codes(self) -> tuple[str, ...]:
        return _codes(self.carriers)
