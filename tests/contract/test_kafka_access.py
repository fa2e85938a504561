"""The Kafka access map matches what the services really do.

Each service's host is built from its ``create_app`` with settings that point nowhere
(nothing connects at construction): the topics its consumers subscribe to must be exactly
the topics the map lets its user read, so a new subscription without an ACL (or an ACL
left over after a subscription went) fails here rather than on the broker.
"""

from __future__ import annotations

import pytest

from oms_cli.config import SERVICES
from oms_cli.hosts import host_of
from oms_events.topics import Service, dlq, events_topic
from oms_platform.access import ACCESS, AUDIT_ANCHORS, PLATFORM
from oms_platform.testing.kafka import ACL_PROBE_TYPE, ACL_PROBED_TOPICS


def test_the_map_has_every_service_and_the_platform() -> None:
    assert set(ACCESS) == {*SERVICES, PLATFORM}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_reads_exactly_the_topics_it_subscribes_to(service: str) -> None:
    host = host_of(service)
    assert host.consumers is not None
    subscribed = {t for sub in host.consumers.subscriptions for t in sub.topics}
    assert subscribed == ACCESS[service].reads


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_its_consumer_groups_fall_under_its_group_prefix(service: str) -> None:
    host = host_of(service)
    assert host.consumers is not None
    prefix = ACCESS[service].group_prefix
    assert prefix is not None
    groups = [host.consumers.group(sub) for sub in host.consumers.subscriptions]
    assert groups and all(g.startswith(prefix) for g in groups)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_it_may_write_the_dead_letter_topic_of_everything_it_reads(service: str) -> None:
    access = ACCESS[service]
    assert {dlq(t) for t in access.reads} <= access.writes


@pytest.mark.parametrize("service", list(Service))
def test_an_event_storing_service_writes_its_own_topic_and_the_anchors_only(
    service: Service,
) -> None:
    access = ACCESS[service.value]
    others = access.writes - {dlq(t) for t in access.reads}
    assert others == {events_topic(service), AUDIT_ANCHORS}


def test_no_service_may_write_another_services_events_topic() -> None:
    for principal, access in ACCESS.items():
        foreign = {events_topic(s) for s in Service if s.value != principal}
        assert not access.writes & foreign, principal


def test_the_acl_probe_is_a_type_no_consumer_of_the_probed_topics_handles() -> None:
    """``tests/integration/test_kafka_acl.py`` sends probes to live topics: they must be
    skipped from their header by every consumer there."""
    for service in SERVICES:
        host = host_of(service)
        assert host.consumers is not None
        # Known to the consumer, else it would be parsed (and dead-lettered as unknown).
        assert ACL_PROBE_TYPE in host.consumers.processor.registry.types()
        for sub in host.consumers.subscriptions:
            if set(sub.topics) & set(ACL_PROBED_TOPICS):
                assert ACL_PROBE_TYPE not in sub.handlers, (service, sub.consumer)
