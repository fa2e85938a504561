"""Settings of the operations service (environment variables ``OMS_OPERATIONS_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from oms_platform.settings import ServiceSettings


class OperationsSettings(ServiceSettings):
    """The shared service settings (DSN, Kafka, HTTP, topic prefix, logging), e.g.
    ``OMS_OPERATIONS_DATABASE_DSN``, and the projections' generation."""

    model_config = SettingsConfigDict(env_prefix="OMS_OPERATIONS_", extra="ignore")

    service: str = "operations"
    generation: int = Field(default=1, ge=1, le=1_000_000)
    """Part of every consumer's name (so of its group and inbox): a new generation reads
    every topic from its beginning, which is how the read models are rebuilt from zero
    (empty the tables, raise the generation, start)."""

    order_url: str | None = None
    returns_url: str | None = None
    payments_url: str | None = None
    """The services the customer-service console calls (cancel, start a return, goodwill
    refund); ``oms up`` sets them (``OMS_OPERATIONS_ORDER_URL`` ...). Unset: the console
    shows the action as unavailable."""
    tracking_key: SecretStr = SecretStr("oms-development-tracking-key-change-me")
    """Signs the public tracking links (HMAC-SHA256). The default is for development only;
    every deployment sets its own (``OMS_OPERATIONS_TRACKING_KEY``)."""
