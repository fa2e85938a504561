"""Settings of the order service (environment variables ``OMS_ORDER_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms_events.contracts.order import ShortShipRemedy
from oms_platform.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    """``OMS_ORDER_DATABASE_DSN``, ``OMS_ORDER_KAFKA_BOOTSTRAP``, ``OMS_ORDER_HTTP_PORT``...

    ``check_skus`` (``OMS_ORDER_CHECK_SKUS``, default true): reject orders with SKUs that
    inventory has not registered (``SkuRegistered``). Turn off only to run the order
    service without inventory.

    ``stall_after_s`` (``OMS_ORDER_STALL_AFTER_S``, default 60): an order still ``placed``
    that long after the order service placed it is reported as stalled; checked every
    ``stall_check_s`` (``OMS_ORDER_STALL_CHECK_S``, default 10).

    ``short_pick_remedy`` (``OMS_ORDER_SHORT_PICK_REMEDY``, ``refund`` or ``back_order``,
    default ``refund``): what the shop offers for units a warehouse could not find.
    Refunded units are no longer due (the order can be delivered without them);
    back-ordered units still are.
    """

    model_config = SettingsConfigDict(env_prefix="OMS_ORDER_", extra="ignore")

    service: str = "order"
    check_skus: bool = True
    stall_after_s: float = Field(default=60.0, gt=0)
    stall_check_s: float = Field(default=10.0, gt=0)
    short_pick_remedy: ShortShipRemedy = ShortShipRemedy.REFUND
