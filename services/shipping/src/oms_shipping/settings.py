"""Settings of the shipping service (environment variables ``OMS_SHIPPING_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from oms_events.contracts.common import CountryCode
from oms_events.contracts.shipping import ShippingMethod
from oms_platform.settings import ServiceSettings

DEVELOPMENT_SECRETS = {
    "postnl": "dev-postnl-webhook-secret",
    "dhl": "dev-dhl-webhook-secret",
    "dpd": "dev-dpd-webhook-secret",
    "ups": "dev-ups-webhook-secret",
}
"""The webhook secrets a local stack runs with: for development only, public by being
written here. Every deployment sets its own (``OMS_SHIPPING_WEBHOOK_SECRET_<CARRIER>``)."""


class ShippingSettings(ServiceSettings):
    """Besides the shared service settings (DSN, Kafka, HTTP, topic prefix, logging):

    - ``OMS_SHIPPING_WEBHOOK_SECRET_POSTNL`` / ``_DHL`` / ``_DPD`` / ``_UPS``: the secret
      each carrier signs its webhooks with (HMAC-SHA256 of the raw body). The defaults
      (:data:`DEVELOPMENT_SECRETS`) are **development values**; an empty secret refuses
      every webhook of that carrier;
    - ``OMS_SHIPPING_WAREHOUSE_COUNTRIES``: JSON object, warehouse code -> country, the
      origin of its parcels (default the demo's ``AMS`` NL, ``BER`` DE, ``MAD`` ES);
    - ``OMS_SHIPPING_PROMISED_METHOD``: the shipping method every order is taken to be
      promised (``standard``, the default, or ``express``): the order contracts do not
      carry the method the customer chose yet.
    """

    model_config = SettingsConfigDict(env_prefix="OMS_SHIPPING_", extra="ignore")

    service: str = "shipping"
    webhook_secret_postnl: SecretStr = SecretStr(DEVELOPMENT_SECRETS["postnl"])
    webhook_secret_dhl: SecretStr = SecretStr(DEVELOPMENT_SECRETS["dhl"])
    webhook_secret_dpd: SecretStr = SecretStr(DEVELOPMENT_SECRETS["dpd"])
    webhook_secret_ups: SecretStr = SecretStr(DEVELOPMENT_SECRETS["ups"])
    warehouse_countries: dict[str, CountryCode] = Field(
        default_factory=lambda: {"AMS": "NL", "BER": "DE", "MAD": "ES"}
    )
    promised_method: ShippingMethod = ShippingMethod.STANDARD

    def webhook_secrets(self) -> dict[str, bytes]:
        """Carrier code -> the secret its webhooks are signed with."""
        return {
            "postnl": self.webhook_secret_postnl.get_secret_value().encode(),
            "dhl": self.webhook_secret_dhl.get_secret_value().encode(),
            "dpd": self.webhook_secret_dpd.get_secret_value().encode(),
            "ups": self.webhook_secret_ups.get_secret_value().encode(),
        }


def webhook_secrets_from_environment() -> dict[str, bytes]:
    """Carrier code -> webhook secret, read as the service reads them (the same
    ``OMS_SHIPPING_WEBHOOK_SECRET_*`` variables and defaults), for a process that signs
    webhooks without being the service: the carrier simulator. It never connects, so the
    database DSN does not matter here."""
    return ShippingSettings(database_dsn=SecretStr("postgresql://unused")).webhook_secrets()
