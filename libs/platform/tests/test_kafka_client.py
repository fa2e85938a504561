"""The options every aiokafka client of the OMS gets from its ``KafkaConnection``."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from oms_platform.kafka_client import KafkaConnection
from oms_platform.settings import ServiceSettings


def test_without_a_user_a_client_connects_unauthenticated() -> None:
    assert KafkaConnection("b:9092").options() == {"bootstrap_servers": "b:9092"}


def test_with_a_user_it_logs_in_with_scram_sha_512() -> None:
    conn = KafkaConnection("b:9092", "oms-order", SecretStr("s3cret"))
    assert conn.options() == {
        "bootstrap_servers": "b:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "oms-order",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(conn)


@pytest.mark.parametrize(
    ("username", "password"), [("oms-order", None), (None, SecretStr("s3cret"))]
)
def test_a_user_without_a_password_or_the_reverse_is_refused(
    username: str | None, password: SecretStr | None
) -> None:
    with pytest.raises(ValueError, match="needs a password"):
        KafkaConnection("b:9092", username, password)


def test_a_services_settings_carry_its_login_to_every_client() -> None:
    conn = KafkaConnection("b:9092", "oms-order", SecretStr("s3cret"))
    settings = ServiceSettings(
        service="order", database_dsn=SecretStr("postgresql://x"), **conn.settings()
    )
    assert settings.kafka == conn
    env = {"OMS_ORDER_KAFKA_USERNAME": "oms-order", "OMS_ORDER_KAFKA_PASSWORD": "s3cret"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        from_env = _OrderLike(database_dsn=SecretStr("postgresql://x"))
    assert from_env.kafka.options()["sasl_plain_password"] == "s3cret"


class _OrderLike(ServiceSettings):
    """A service's settings class as each service declares it (its own env prefix)."""

    model_config = ServiceSettings.model_config | {"env_prefix": "OMS_ORDER_"}
    service: str = "order"
