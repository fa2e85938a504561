"""Where the broker is and who a client is on it: the options every aiokafka client gets.

The local stack and a deployment authenticate clients with SASL/SCRAM-SHA-512, one user
per service (see :mod:`oms_platform.access`); without a user name a client connects
unauthenticated, which only a broker without SASL accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

SASL_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaConnection:
    """The bootstrap servers and, on a broker with SASL, the user and password."""

    bootstrap: str
    username: str | None = None
    password: SecretStr | None = None

    def __post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise ValueError("a Kafka user name needs a password and a password a user name")

    def options(self) -> dict[str, Any]:
        """Keyword arguments for an aiokafka producer, consumer or admin client."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.username is not None and self.password is not None:
            options |= {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": SASL_MECHANISM,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password.get_secret_value(),
            }
        return options

    def settings(self) -> dict[str, Any]:
        """The ``kafka_*`` fields of :class:`~oms_platform.settings.ServiceSettings`."""
        return {
            "kafka_bootstrap": self.bootstrap,
            "kafka_username": self.username,
            "kafka_password": self.password,
        }
