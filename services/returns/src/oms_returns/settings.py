"""Settings of the returns service (environment variables ``OMS_RETURNS_*``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms_platform.settings import ServiceSettings
from oms_returns.domain.policy import RefundRules, ReturnWindow


class ReturnsSettings(ServiceSettings):
    """Besides the shared service settings (DSN, Kafka, HTTP, topic prefix, logging):

    - ``OMS_RETURNS_RETURN_WINDOW_DAYS`` (30): a SKU may be asked back up to this many
      days after its delivery, the last moment included;
    - ``OMS_RETURNS_AUTHORISATION_VALID_DAYS`` (30): an authorised return not received by
      then expires (``ReturnExpired``);
    - ``OMS_RETURNS_EXPIRY_CHECK_S`` (60): how often the expiry loop looks for due returns;
    - ``OMS_RETURNS_GIFT_CARD_FIRST`` (false): refund gift cards first instead of last;
    - ``OMS_RETURNS_REFUND_SHIPPING_ON_WHOLE_ORDER`` / ``_ON_SHOP_FAULT`` (true): when the
      order's shipping charge is refunded (see ``domain.policy.RefundRules``).
    """

    model_config = SettingsConfigDict(env_prefix="OMS_RETURNS_", extra="ignore")

    service: str = "returns"
    return_window_days: int = Field(default=30, ge=1, le=3650)
    authorisation_valid_days: int = Field(default=30, ge=1, le=3650)
    expiry_check_s: float = Field(default=60.0, gt=0, le=86_400)
    gift_card_first: bool = False
    refund_shipping_on_whole_order: bool = True
    refund_shipping_on_shop_fault: bool = True

    def window(self) -> ReturnWindow:
        return ReturnWindow(
            days_after_delivery=timedelta(days=self.return_window_days),
            authorisation_valid_for=timedelta(days=self.authorisation_valid_days),
        )

    def rules(self) -> RefundRules:
        return RefundRules(
            refund_shipping_on_whole_order=self.refund_shipping_on_whole_order,
            refund_shipping_on_shop_fault=self.refund_shipping_on_shop_fault,
            gift_card_first=self.gift_card_first,
        )
