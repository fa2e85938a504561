"""Every service's host serves ``/metrics`` without a token, in the Prometheus text format,
with the platform's families (and the order service its orders by status), even when
its database cannot be reached: a figure that cannot be read is counted, not a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from oms_cli.config import SERVICES
from oms_cli.hosts import host_of

PLATFORM_FAMILIES = {
    "oms_consumer_events",
    "oms_consumer_retries",
    "oms_consumer_lag",
    "oms_dead_letters",
    "oms_dead_letters_waiting",
    "oms_relay_published",
    "oms_relay_parked",
    "oms_relay_backlog_events",
    "oms_relay_lag_seconds",
    "oms_parked_events",
    "oms_projection_applied",
    "oms_projection_backlog_events",
    "oms_http_requests",
    "oms_http_request_duration_seconds",
    "oms_metrics_refresh_failures",
    "process_resident_memory_bytes",
}


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_parse_and_hold_the_platform_families(service: str) -> None:
    client = TestClient(host_of(service).api)  # its database points nowhere
    resp = client.get("/metrics")
    assert resp.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(resp.text)}
    assert set(families) >= PLATFORM_FAMILIES
    failed = {
        s.labels["source"]
        for s in families["oms_metrics_refresh_failures"].samples
        if s.name.endswith("_total") and s.value > 0
    }
    assert {"relay", "dead_letters"} <= failed  # the database is unreachable: counted
    if service == "order":
        assert "oms_orders" in families and "orders" in failed
