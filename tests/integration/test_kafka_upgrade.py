"""A broker whose storage was formatted without the SCRAM users gets them at its next start.

A broker of its own (a scratch ``OMS_HOME``, free ports), not the shared stack's: it is
formatted without users, as a ``.oms/kafka`` from before SCRAM came in was, then started
the way ``oms up`` starts it. Three JVM starts: about a minute.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError

from oms_cli import kafka
from oms_cli.config import StackConfig
from oms_platform.access import ADMIN_USER, kafka_user, users
from oms_platform.kafka_topics import ensure_topics

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def old_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackConfig]:
    """A formatted broker with no SCRAM user at all, stopped."""
    config = StackConfig(
        home=tmp_path / "oms", kafka_port=free_port(), kafka_controller_port=free_port()
    )
    with monkeypatch.context() as before_scram:
        before_scram.setattr(kafka, "users", lambda: [])
        kafka.start(config)
        kafka.stop(config)
    try:
        yield config
    finally:
        kafka.stop(config)


async def test_the_users_are_added_and_plain_is_off_again_after(old_cluster: StackConfig) -> None:
    config = old_cluster
    assert (config.kafka_dir / "scram-users").read_text().split() == []
    assert kafka.start(config)
    assert sorted((config.kafka_dir / "scram-users").read_text().split()) == sorted(users())
    # The admin and a service log in with their SCRAM passwords...
    counts = await ensure_topics(kafka.connection(config), ["oms.order.events"], partitions=1)
    assert counts == {"oms.order.events": 1}
    service = kafka.connection(config, kafka_user("order")).options()
    del service["bootstrap_servers"]
    conn = await create_conn(config.host, config.kafka_port, **service)
    conn.close()
    # ...and PLAIN, on for the admin only while the users were added, is refused again.
    plain = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": ADMIN_USER,
        "sasl_plain_password": kafka.kafka_password(config, ADMIN_USER),
    }
    with pytest.raises(KafkaError):
        await create_conn(config.host, config.kafka_port, **plain)
    assert not (config.kafka_dir / "admin-plain.properties").exists()
