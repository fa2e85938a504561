"""The local broker's security settings, ACL bookkeeping and the services' Kafka logins
(no broker here: ``tests/integration/test_kafka_acl.py`` checks them on the real one)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from oms_cli import kafka
from oms_cli.config import StackConfig
from oms_cli.services import service_env
from oms_events.topics import ORDER_EVENTS, PLATFORM_INGRESS
from oms_platform.access import (
    ACCESS,
    AclRule,
    Operation,
    PatternType,
    ResourceType,
    acl_rules,
)


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(home=tmp_path / "oms", kafka_port=59998, kafka_controller_port=59999)


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


def test_the_client_listener_takes_scram_only_and_nothing_without_an_acl(
    config: StackConfig,
) -> None:
    props = properties(kafka.server_properties(config))
    assert props["listeners"].startswith("SASL_PLAINTEXT://127.0.0.1:59998,")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert "listener.name.sasl_plaintext.plain.sasl.jaas.config" not in props
    # Only while users are added to an old cluster may the admin use PLAIN there.
    upgrade = properties(kafka.server_properties(config, admin_plain=True))
    assert upgrade["sasl.enabled.mechanisms"] == "SCRAM-SHA-512,PLAIN"
    assert "listener.name.sasl_plaintext.plain.sasl.jaas.config" in upgrade


def test_passwords_are_made_once_readable_by_their_owner_only(config: StackConfig) -> None:
    first = kafka.kafka_password(config, "oms-order")
    assert first == kafka.kafka_password(config, "oms-order")
    assert first != kafka.kafka_password(config, "oms-inventory")
    path = config.home / "secrets" / "kafka-oms-order.password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


LISTING = """\
Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=oms.order.events, patternType=LITERAL)`:
 \t(principal=User:oms-order, host=*, operation=WRITE, permissionType=ALLOW)
 \t(principal=User:oms-inventory, host=*, operation=READ, permissionType=ALLOW)
 \t(principal=User:someone-else, host=*, operation=READ, permissionType=ALLOW)

Current ACLs for resource `ResourcePattern(resourceType=GROUP, name=inventory., patternType=PREFIXED)`:
 \t(principal=User:oms-inventory, host=*, operation=READ, permissionType=ALLOW)
"""  # noqa: E501


def test_an_acl_listing_reads_back_as_the_oms_users_rules() -> None:
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    literal, prefixed = PatternType.LITERAL, PatternType.PREFIXED
    assert kafka._parse_acls(LISTING) == {
        AclRule("oms-order", topic, ORDER_EVENTS, literal, Operation.WRITE),
        AclRule("oms-inventory", topic, ORDER_EVENTS, literal, Operation.READ),
        AclRule("oms-inventory", group, "inventory.", prefixed, Operation.READ),
    }


def test_rules_are_applied_in_one_run_per_user_operation_and_resource_kind() -> None:
    runs = kafka._acl_args("--add", acl_rules([ACCESS["platform"], ACCESS["fulfilment"]]))
    assert ["--add", "--allow-principal", "User:oms-platform", "--operation", "Write",
            "--resource-pattern-type", "literal", "--topic", PLATFORM_INGRESS] in runs  # fmt: skip
    # fulfilment: Write (own topic, anchors, dead letters), Read (two topics), its group
    assert len(runs) == 4
    removal = kafka._acl_args("--remove", acl_rules([ACCESS["platform"]]))
    assert removal[0][:2] == ["--remove", "--force"]


def test_a_service_logs_in_as_its_own_user_and_a_test_service_as_the_admin(
    config: StackConfig,
) -> None:
    config.kafka_dir.mkdir(parents=True)
    config.kafka_properties.write_text(kafka.server_properties(config))
    own = service_env(config, "inventory")
    assert own["OMS_INVENTORY_KAFKA_USERNAME"] == "oms-inventory"
    assert own["OMS_INVENTORY_KAFKA_PASSWORD"] == kafka.kafka_password(config, "oms-inventory")
    prefixed = service_env(config, "inventory", topic_prefix="t1234.")
    assert prefixed["OMS_INVENTORY_KAFKA_USERNAME"] == "admin"
    assert config.kafka.username == "admin"


def test_a_broker_started_before_sasl_gets_unauthenticated_clients(config: StackConfig) -> None:
    config.kafka_dir.mkdir(parents=True)
    config.kafka_properties.write_text("listeners=PLAINTEXT://127.0.0.1:59998\n")
    assert not kafka.secured(config)
    assert config.kafka.username is None
    assert "OMS_ORDER_KAFKA_USERNAME" not in service_env(config, "order")
