"""The ACL rules derived from the access map (what ``oms up`` applies to the broker)."""

from __future__ import annotations

from oms_events.topics import PAYMENTS_EVENTS, PLATFORM_INGRESS
from oms_platform.access import (
    ACCESS,
    ADMIN_USER,
    PLATFORM,
    AclRule,
    KafkaAccess,
    Operation,
    PatternType,
    ResourceType,
    acl_rules,
    kafka_user,
    users,
)


def test_the_platform_may_write_the_ingress_topic_and_nothing_else() -> None:
    assert acl_rules([ACCESS[PLATFORM]]) == [
        AclRule(
            "oms-platform",
            ResourceType.TOPIC,
            PLATFORM_INGRESS,
            PatternType.LITERAL,
            Operation.WRITE,
        )
    ]


def test_a_consumer_gets_read_on_its_topics_and_its_group_prefix() -> None:
    access = KafkaAccess("x", frozenset({"oms.x.events"}), frozenset({"oms.y.events"}))
    assert acl_rules([access]) == sorted(
        [
            AclRule(
                "oms-x", ResourceType.TOPIC, "oms.x.events", PatternType.LITERAL, Operation.WRITE
            ),
            AclRule(
                "oms-x", ResourceType.TOPIC, "oms.y.events", PatternType.LITERAL, Operation.READ
            ),
            AclRule("oms-x", ResourceType.GROUP, "x.", PatternType.PREFIXED, Operation.READ),
        ]
    )


def test_only_payments_may_write_the_payments_topic() -> None:
    writers = {
        r.user for r in acl_rules() if r.name == PAYMENTS_EVENTS and r.operation is Operation.WRITE
    }
    assert writers == {kafka_user("payments")}


def test_every_rule_is_a_literal_topic_or_the_principals_own_group_prefix() -> None:
    for rule in acl_rules():
        if rule.resource is ResourceType.GROUP:
            assert rule.pattern is PatternType.PREFIXED
            assert rule.name == rule.user.removeprefix("oms-") + "."
        else:
            assert rule.pattern is PatternType.LITERAL


def test_one_user_per_principal_and_the_admin() -> None:
    assert users() == [ADMIN_USER, *(f"oms-{p}" for p in ACCESS)]
    assert len(set(users())) == len(users())
