"""Who may do what on Kafka: the one map of each OMS principal's topics and groups.

Every service runs as its own Kafka user (``oms-<service>``, SCRAM-SHA-512). It may write
its own events topic, the dead-letter topic of every topic it consumes (its consumers park
unreadable messages there) and, if it stores events, the audit topic its chain heads are
anchored on; it may read only the topics its consumers subscribe to, in consumer groups
named ``<service>.<consumer>`` (see :class:`oms_platform.runtime.ConsumerRuntime`). The
sales platforms' user may write the ingress topic and nothing else. ``admin`` is the super
user of the local stack (``oms`` tools, tests, benchmarks) and needs no rules.

The local stack applies :func:`acl_rules` at ``oms up``; ``deploy/k8s`` states the same
rules as Strimzi ``KafkaUser`` resources. A contract test builds every service and checks
its subscriptions read exactly :attr:`KafkaAccess.reads`, so the map cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from oms_events.topics import (
    AUDIT_ANCHORS,
    FULFILMENT_EVENTS,
    INVENTORY_EVENTS,
    ORDER_EVENTS,
    PAYMENTS_EVENTS,
    PLATFORM_INGRESS,
    RETURNS_EVENTS,
    SHIPPING_EVENTS,
    dlq,
)

ADMIN_USER = "admin"
"""The super user: creates topics and users, applies these rules, runs the ``oms`` tools."""

PLATFORM = "platform"
"""The principal of the sales platforms that submit orders on the ingress topic."""


def kafka_user(principal: str) -> str:
    """The Kafka (SCRAM) user name of a service or of the platform: ``oms-<principal>``."""
    return f"oms-{principal}"


@dataclass(frozen=True)
class KafkaAccess:
    """What one principal may do: topics it writes, topics it reads, its groups' prefix."""

    principal: str
    writes: frozenset[str]
    reads: frozenset[str] = frozenset()
    stores_events: bool = False
    """Publishes signed chain heads of its event store on :data:`AUDIT_ANCHORS`."""

    @property
    def user(self) -> str:
        return kafka_user(self.principal)

    @property
    def group_prefix(self) -> str | None:
        """Consumer groups of this principal start with this (None: it consumes nothing)."""
        return f"{self.principal}." if self.reads else None


def _service(
    name: str, reads: Iterable[str], *, own: str | None, stores_events: bool = True
) -> KafkaAccess:
    read = frozenset(reads)
    writes = {dlq(t) for t in read}
    if own is not None:
        writes.add(own)
    if stores_events:
        writes.add(AUDIT_ANCHORS)
    return KafkaAccess(name, frozenset(writes), read, stores_events)


_ALL_EVENTS = (
    ORDER_EVENTS,
    INVENTORY_EVENTS,
    PAYMENTS_EVENTS,
    FULFILMENT_EVENTS,
    SHIPPING_EVENTS,
    RETURNS_EVENTS,
)

ACCESS: Mapping[str, KafkaAccess] = MappingProxyType(
    {
        a.principal: a
        for a in (
            _service(
                "order",
                # Orders arrive on the ingress; the other services' facts move them on.
                [PLATFORM_INGRESS, *(t for t in _ALL_EVENTS if t != ORDER_EVENTS)],
                own=ORDER_EVENTS,
            ),
            _service(
                "inventory",
                [ORDER_EVENTS, SHIPPING_EVENTS, FULFILMENT_EVENTS, RETURNS_EVENTS],
                own=INVENTORY_EVENTS,
            ),
            # The provider worker consumes payments' own requests (authorise, capture...).
            _service(
                "payments",
                [ORDER_EVENTS, RETURNS_EVENTS, SHIPPING_EVENTS, PAYMENTS_EVENTS],
                own=PAYMENTS_EVENTS,
            ),
            _service("fulfilment", [ORDER_EVENTS, INVENTORY_EVENTS], own=FULFILMENT_EVENTS),
            _service(
                "shipping", [ORDER_EVENTS, FULFILMENT_EVENTS, RETURNS_EVENTS], own=SHIPPING_EVENTS
            ),
            _service("returns", [ORDER_EVENTS, SHIPPING_EVENTS], own=RETURNS_EVENTS),
            # Read models only: no events of its own, so no topic and no chain heads.
            _service("operations", _ALL_EVENTS, own=None, stores_events=False),
            # Shop platforms' own payloads in, OrderSubmitted out on the ingress topic (the
            # one writer of it besides a platform that speaks OMS); the order service's
            # events tell it what to report back.
            _service("connectors", [ORDER_EVENTS], own=PLATFORM_INGRESS),
            KafkaAccess(PLATFORM, frozenset({PLATFORM_INGRESS})),
        )
    }
)
"""Principal (service name, or :data:`PLATFORM`) -> what it may do on Kafka."""


class Operation(StrEnum):
    WRITE = "Write"
    READ = "Read"


class ResourceType(StrEnum):
    TOPIC = "topic"
    GROUP = "group"


class PatternType(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


@dataclass(frozen=True, order=True)
class AclRule:
    """One "allow" ACL: ``User:<user>`` may ``operation`` on the resource.

    Kafka implies Describe from Read and Write, and IdempotentWrite (the relay's idempotent
    producer) from Write on any topic (KIP-679), so these two operations are all it takes.
    """

    user: str
    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation

    @property
    def principal(self) -> str:
        return f"User:{self.user}"


def acl_rules(access: Iterable[KafkaAccess] | None = None) -> list[AclRule]:
    """The allow rules that grant ``access`` (default: every principal of :data:`ACCESS`)."""
    rules: set[AclRule] = set()
    for a in ACCESS.values() if access is None else access:
        for topic in a.writes:
            rules.add(
                AclRule(a.user, ResourceType.TOPIC, topic, PatternType.LITERAL, Operation.WRITE)
            )
        for topic in a.reads:
            rules.add(
                AclRule(a.user, ResourceType.TOPIC, topic, PatternType.LITERAL, Operation.READ)
            )
        if a.group_prefix is not None:
            rules.add(
                AclRule(
                    a.user, ResourceType.GROUP, a.group_prefix, PatternType.PREFIXED, Operation.READ
                )
            )
    return sorted(rules)


def users() -> list[str]:
    """Every Kafka user the OMS needs: the admin, one per service, the platform."""
    return [ADMIN_USER, *(a.user for a in ACCESS.values())]
