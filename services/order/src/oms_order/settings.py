"""Settings of the order service (environment variables ``OMS_ORDER_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_platform.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    """``OMS_ORDER_DATABASE_DSN``, ``OMS_ORDER_KAFKA_BOOTSTRAP``, ``OMS_ORDER_HTTP_PORT``...

    ``check_skus`` (``OMS_ORDER_CHECK_SKUS``, default true): reject orders with SKUs that
    inventory has not registered (``SkuRegistered``). Turn off only to run the order
    service without inventory.
    """

    model_config = SettingsConfigDict(env_prefix="OMS_ORDER_", extra="ignore")

    service: str = "order"
    check_skus: bool = True
