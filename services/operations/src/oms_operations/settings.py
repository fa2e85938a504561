"""Settings of the operations service (environment variables ``OMS_OPERATIONS_*``)."""

from __future__ import annotations

from pydantic import Field
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
