"""Settings of the fulfilment service (environment variables ``OMS_FULFILMENT_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_platform.settings import ServiceSettings


class FulfilmentSettings(ServiceSettings):
    """The shared service settings (DSN, Kafka, HTTP, topic prefix, logging), e.g.
    ``OMS_FULFILMENT_DATABASE_DSN`` and ``OMS_FULFILMENT_HTTP_PORT``; nothing of its own yet
    (the box catalogue is :data:`~oms_fulfilment.domain.packaging.BOXES`)."""

    model_config = SettingsConfigDict(env_prefix="OMS_FULFILMENT_", extra="ignore")

    service: str = "fulfilment"
