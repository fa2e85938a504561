"""The OMS topics, created explicitly with the partitions the deployment asks for.

A topic the broker creates on first use gets the broker's default partition count, and
the partition count is what bounds how many consumers of a group can share the work. So
``oms up`` and every service at start create the whole catalogue (each topic and its
dead-letter twin) with ``partitions`` partitions (one for a dead-letter topic). A topic
that exists already keeps its partitions: adding some would move keys to other
partitions and break the order of each order's events in flight, so that is an
operator's decision, reported here as a warning.
"""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from oms_events.topics import ALL_TOPICS, AUDIT_ANCHORS, dlq
from oms_platform.kafka_client import KafkaConnection
from oms_platform.logging import get_logger

log = get_logger(__name__)

_OK, _EXISTS = 0, 36  # Kafka error codes: none, TOPIC_ALREADY_EXISTS
_NOT_AUTHORIZED = 29  # TOPIC_AUTHORIZATION_FAILED


def catalogue(prefix: str = "") -> list[str]:
    """Every topic of the OMS and its dead-letter topic, as ``prefix`` spells them."""
    return [f"{prefix}{name}" for topic in ALL_TOPICS for name in (topic, dlq(topic))]


def audit_topics(prefix: str = "") -> list[str]:
    """The audit topic of signed chain heads (``oms_platform.anchors``), as ``prefix``
    spells it: compacted, one partition (``_shape``)."""
    return [f"{prefix}{AUDIT_ANCHORS}"]


def _shape(topic: str, partitions: int) -> tuple[int, dict[str, str]]:
    """Partitions and settings a topic is created with. The anchors are evidence: the
    latest per key is kept for good (compaction, no age limit); few, read whole."""
    if topic.endswith(AUDIT_ANCHORS):
        return 1, {"cleanup.policy": "compact", "retention.ms": "-1"}
    # Dead letters are few and read by tools, not by consumer groups: one partition each
    # keeps the broker's partition count (and recovery) down.
    return (1 if topic.endswith(".dlq") else partitions), {}


async def ensure_topics(
    kafka: KafkaConnection, topics: list[str], *, partitions: int, replication: int = 1
) -> dict[str, int]:
    """Create the missing ``topics``; the partition count of each topic afterwards."""
    admin = AIOKafkaAdminClient(**kafka.options(), client_id="oms-topics")
    await admin.start()
    try:
        counts = await _partition_counts(admin)
        missing = [t for t in topics if t not in counts]
        if missing:
            shapes = {t: _shape(t, partitions) for t in missing}
            response = await admin.create_topics(
                [NewTopic(t, n, replication, topic_configs=c) for t, (n, c) in shapes.items()]
            )
            not_ours = []
            for item in response.topic_errors:
                name, code = item[0], item[1]
                if code == _NOT_AUTHORIZED:
                    # A service's user sees and creates only what its ACLs allow; the
                    # other topics are its owners' (``oms up`` creates them all as admin).
                    not_ours.append(name)
                elif code not in (_OK, _EXISTS):
                    raise RuntimeError(f"cannot create topic {name}: error {code} {item[2:]}")
            if not_ours:
                log.info("kafka.topics_not_authorized", count=len(not_ours))
            log.info(
                "kafka.topics_created", count=len(missing) - len(not_ours), partitions=partitions
            )
            counts = await _partition_counts(admin)
        for topic in topics:
            wanted = _shape(topic, partitions)[0]
            if wanted > 1 and counts.get(topic, partitions) < partitions:
                log.warning(
                    "kafka.topic_has_fewer_partitions",
                    topic=topic,
                    partitions=counts[topic],
                    wanted=partitions,
                )
        return {t: counts.get(t, 0) for t in topics}
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    described: list[Any] = await admin.describe_topics()
    return {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}
