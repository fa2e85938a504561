"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms_platform.kafka_client import KafkaConnection


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_KAFKA_", extra="ignore")

    bootstrap: str = "127.0.0.1:29092"


class RetrySettings(BaseSettings):
    """Bounded retry with exponential backoff for transient handler errors."""

    model_config = SettingsConfigDict(env_prefix="OMS_RETRY_", extra="ignore")

    max_attempts: int = Field(default=5, ge=1)
    initial_backoff_s: float = Field(default=0.1, gt=0)
    max_backoff_s: float = Field(default=5.0, gt=0)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_backoff_s, self.initial_backoff_s * 2 ** (attempt - 1)))


class ServiceSettings(BaseSettings):
    """What every service process needs; subclass with ``env_prefix="OMS_<SERVICE>_"``."""

    model_config = SettingsConfigDict(extra="ignore")

    service: str
    database_dsn: SecretStr
    kafka_bootstrap: str = "127.0.0.1:29092"
    http_host: str = "127.0.0.1"
    http_port: int = 0
    log_json: bool | None = None
    log_level: str = "INFO"
    db_pool_size: int = 10
    relay_batch_size: int = 500
    topic_prefix: str = ""
    """Prepended to every topic and consumer group: isolates test runs on a shared broker."""
    retry: RetrySettings = Field(default_factory=RetrySettings)
    ready_grace_s: float = Field(default=5.0, gt=0)
    """A background loop failing for longer than this makes the service not ready."""
    relay_max_lag_s: float = Field(default=10.0, gt=0)
    """Not ready while the oldest unpublished event is older than this."""
    consumer_batch_size: int = Field(default=200, ge=1, le=10_000)
    """Most messages one fetch hands to the consumers (split over its partitions)."""
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    """Partitions of each topic this service creates at start (existing ones stay)."""
    topic_replication: int = Field(default=1, ge=1, le=10)
    relay_linger_s: float = Field(default=0.02, ge=0, le=1)
    """After a batch that was not full, the relay waits this long for more commits."""
    relay_idle_poll_s: float = Field(default=5.0, gt=0)
    """With nothing to publish, the relay waits for a commit notification this long at most."""
    projection_idle_poll_s: float = Field(default=5.0, gt=0)
    """With nothing to apply, a projection waits for a commit notification this long at most."""
    auth_public_key: str | None = None
    """PEM of the Ed25519 public key that verifies bearer tokens (``oms token`` signs)."""
    chain_key: SecretStr | None = None
    """Hex HMAC key of the events' hash chain; held outside the database."""
    anchor_signing_key: SecretStr | None = None
    """PEM of the Ed25519 private key that signs the chain heads published for audit."""
    anchor_interval_s: float = Field(default=5.0, gt=0, le=3600)
    """How often the heads that moved are published as signed anchors (and at shutdown)."""
    kafka_username: str | None = None
    """This service's SASL/SCRAM user on the broker (None: the broker has no SASL)."""
    kafka_password: SecretStr | None = None

    @property
    def kafka(self) -> KafkaConnection:
        """The broker and this service's login on it, for every Kafka client it makes."""
        return KafkaConnection(self.kafka_bootstrap, self.kafka_username, self.kafka_password)
