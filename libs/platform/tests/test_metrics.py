"""``/metrics``: the Prometheus text format, HTTP requests by route template, consumer
outcomes, and gauges read at scrape time (on the in-memory store, no stack needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from oms_events.codec import encode_envelope
from oms_events.contracts import OrderPlaced
from oms_events.envelope import Envelope
from oms_events.examples import example
from oms_events.registry import envelope_for
from oms_platform.auth import Scope, allow
from oms_platform.consumer import Delivery, Headers, MessageProcessor, Subscription
from oms_platform.eventstore import ConcurrencyConflict, InMemoryEventStore, UnitOfWork
from oms_platform.metrics import ServiceMetrics, replace, route_template
from oms_platform.service import ServiceHost
from oms_platform.settings import RetrySettings, ServiceSettings
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def host_with_routes() -> ServiceHost:
    api = FastAPI()

    @api.get("/v1/orders/{order_id}")
    async def read(order_id: str) -> dict[str, str]:
        return {"order_id": order_id}

    @api.post("/v1/orders/{order_id}/cancel", status_code=202)
    async def cancel(order_id: str) -> dict[str, str]:
        return {"order_id": order_id}

    @api.get("/down")
    async def down() -> None:
        raise psycopg.OperationalError("the database system is starting up")

    settings = ServiceSettings(
        service="order", database_dsn=SecretStr("postgresql://x@h/x"), **service_keys()
    )
    return ServiceHost(settings, api, store=InMemoryEventStore(TEST_CHAIN_KEY))


def test_requests_are_counted_by_route_template_never_by_raw_path() -> None:
    client = TestClient(host_with_routes().api, raise_server_exceptions=False)
    before = scrape(client)
    assert (
        value(
            before,
            "oms_http_requests_total",
            method="GET",
            route="/v1/orders/{order_id}",
            status="200",
        )
        == 0
    )
    for order_id in ("ord-1", "ord-2", "customer@example.com"):
        assert client.get(f"/v1/orders/{order_id}").status_code == 200
    assert client.post("/v1/orders/ord-1/cancel").status_code == 202
    assert client.get("/v1/made/up/ord-9").status_code == 404
    assert client.get("/down").status_code == 503

    after = scrape(client)
    template = "/v1/orders/{order_id}"
    assert value(after, "oms_http_requests_total", method="GET", route=template, status="200") == 3
    assert (
        value(
            after,
            "oms_http_requests_total",
            method="POST",
            route="/v1/orders/{order_id}/cancel",
            status="202",
        )
        == 1
    )
    assert (
        value(after, "oms_http_requests_total", method="GET", route="unmatched", status="404") == 1
    )
    assert value(after, "oms_http_requests_total", method="GET", route="/down", status="503") == 1
    # The latency histogram counts the same requests, in buckets.
    assert (
        value(after, "oms_http_request_duration_seconds_count", method="GET", route=template) == 3
    )
    assert (
        value(
            after,
            "oms_http_request_duration_seconds_bucket",
            method="GET",
            route=template,
            le="+Inf",
        )
        == 3
    )
    assert value(after, "oms_http_request_duration_seconds_sum", method="GET", route=template) > 0
    # No id, e-mail or raw path anywhere in a label.
    labels = {v for (_, pairs) in after for _, v in pairs}
    assert not {v for v in labels if "ord-" in v or "@" in v or "/made/up" in v}
    # The scrape before is counted too, under its own route.
    assert (
        value(after, "oms_http_requests_total", method="GET", route="/metrics", status="200") == 1
    )


def test_metrics_is_served_outside_the_api_schema() -> None:
    client = TestClient(host_with_routes().api)
    paths = client.get("/openapi.json").json()["paths"]
    assert "/metrics" not in paths and "/v1/orders/{order_id}" in paths
    assert client.get("/metrics").status_code == 200


def test_the_process_figures_are_there_too() -> None:
    found = scrape(TestClient(host_with_routes().api))
    assert value(found, "process_resident_memory_bytes") > 0
    assert value(found, "process_cpu_seconds_total") > 0
    assert any(name == "python_info" for name, _ in found)


def test_a_made_up_method_is_one_label_value() -> None:
    client = TestClient(host_with_routes().api)
    client.request("BREW", "/v1/orders/ord-1")
    after = scrape(client)
    assert (
        value(
            after,
            "oms_http_requests_total",
            method="OTHER",
            route="/v1/orders/{order_id}",
            status="405",
        )
        == 1
    )


def test_the_template_is_found_for_a_request_answered_before_routing() -> None:
    api = FastAPI()

    @api.get("/v1/things/{thing_id}")
    async def read(thing_id: str) -> None:
        return None

    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/v1/things/t-1",
        "app": api,
        "root_path": "",
    }
    assert route_template(scope) == "/v1/things/{thing_id}"
    assert route_template({**scope, "path": "/elsewhere"}) == "unmatched"


def test_a_gauge_read_at_scrape_time_and_a_failing_read() -> None:
    host = host_with_routes()
    orders = host.metrics.gauge("oms_test_orders", "Orders by status", ["status"])
    counts = {"placed": 2.0, "confirmed": 5.0}
    calls = 0

    async def count() -> None:
        nonlocal calls
        calls += 1
        replace(orders, (((status,), n) for status, n in counts.items()))

    async def broken() -> None:
        raise psycopg.OperationalError("connection refused")

    host.metrics.on_scrape("orders", count)
    host.metrics.on_scrape("broken", broken)
    client = TestClient(host.api)
    first = scrape(client)
    assert calls == 1
    assert value(first, "oms_test_orders", status="placed") == 2
    assert value(first, "oms_metrics_refresh_failures_total", source="broken") == 1

    del counts["placed"]  # no order is placed any more: the series goes, not stays at 2
    counts["delivered"] = 1.0
    second = scrape(client)
    assert ("oms_test_orders", frozenset({("status", "placed")})) not in second
    assert value(second, "oms_test_orders", status="delivered") == 1
    assert value(second, "oms_metrics_refresh_failures_total", source="broken") == 2


# -- the consumer's outcomes --------------------------------------------------------------

TOPIC = "oms.order.events"


class Sink:
    def __init__(self) -> None:
        self.sent = 0

    async def __call__(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        self.sent += 1


async def no_sleep(_: float) -> None:
    return None


def placed(order_id: str) -> Envelope:
    return envelope_for(
        example(OrderPlaced),
        stream_id=f"order-{order_id}",
        stream_version=1,
        correlation_id=order_id,
        causation_id=None,
        actor="platform:web",
        producer="order",
    )


def delivery(value: bytes, offset: int) -> Delivery:
    return Delivery(TOPIC, 0, offset, b"k", value, [])


async def test_outcomes_retries_and_dead_letters_are_counted_per_consumer() -> None:
    metrics = ServiceMetrics()
    failures = {"conflicts": 1, "errors": 1}

    async def handler(uow: UnitOfWork, env: Envelope, event: Any) -> None:
        if env.correlation_id == "ord-flaky":
            if failures["conflicts"]:
                failures["conflicts"] -= 1
                raise ConcurrencyConflict("order-x", 1, 2)
            if failures["errors"]:
                failures["errors"] -= 1
                raise RuntimeError("a bug, once")
        if env.correlation_id == "ord-bug":
            raise RuntimeError("a bug, always")

    proc = MessageProcessor(
        InMemoryEventStore(TEST_CHAIN_KEY),
        Sink(),
        retry=RetrySettings(max_attempts=2, initial_backoff_s=0.01),
        sleep=no_sleep,
        metrics=metrics,
    )
    sub = Subscription("reserve-stock", (TOPIC,), {"OrderPlaced": handler})
    ok = encode_envelope(placed("ord-1"))
    batch = [delivery(ok, 0), delivery(encode_envelope(placed("ord-2")), 1), delivery(ok, 2)]
    await proc.process_batch(sub, batch)
    await proc.process(sub, delivery(ok, 3))  # delivered again: a duplicate
    await proc.process(sub, delivery(b"{not json", 4))
    await proc.process(sub, delivery(encode_envelope(placed("ord-flaky")), 5))
    await proc.process(sub, delivery(encode_envelope(placed("ord-bug")), 6))

    def sample(name: str, **labels: str) -> float:
        found = metrics.registry.get_sample_value(name, {"consumer": "reserve-stock", **labels})
        return found or 0.0

    events = "oms_consumer_events_total"
    assert sample(events, outcome="handled") == 3  # ord-1, ord-2, ord-flaky
    assert sample(events, outcome="duplicate") == 2  # ord-1 again in the batch, and later
    assert sample(events, outcome="dead_lettered") == 2  # the bytes, ord-bug
    assert sample("oms_consumer_retries_total", cause="conflict") == 1
    assert sample("oms_consumer_retries_total", cause="error") == 2  # ord-flaky once, ord-bug
    assert sample("oms_dead_letters_total", code="malformed_message") == 1
    assert sample("oms_dead_letters_total", code="handler_failed") == 1


def test_each_host_counts_only_itself() -> None:
    first, second = host_with_routes(), host_with_routes()
    TestClient(first.api).get("/v1/orders/ord-1")
    assert (
        value(
            scrape(TestClient(second.api)),
            "oms_http_requests_total",
            method="GET",
            route="/v1/orders/{order_id}",
            status="200",
        )
        == 0
    )
    assert (
        value(
            scrape(TestClient(first.api)),
            "oms_http_requests_total",
            method="GET",
            route="/v1/orders/{order_id}",
            status="200",
        )
        == 1
    )


def test_refused_tokens_are_counted_under_the_route_template() -> None:
    api = FastAPI()

    @api.get("/v1/stock/{sku}", dependencies=[allow(Scope.OPERATIONS)])
    async def stock(sku: str) -> dict[str, str]:
        return {"sku": sku}

    settings = ServiceSettings(
        service="inventory", database_dsn=SecretStr("postgresql://x@h/x"), **service_keys()
    )
    client = TestClient(ServiceHost(settings, api, store=InMemoryEventStore(TEST_CHAIN_KEY)).api)
    assert client.get("/v1/stock/SKU-1").status_code == 401
    assert client.get("/v1/stock/SKU-2", headers=auth.headers(Scope.CARRIER)).status_code == 403
    assert client.get("/v1/stock/SKU-3", headers=auth.headers(Scope.OPERATIONS)).status_code == 200
    assert client.get("/metrics").status_code == 200  # no token needed
    after = scrape(client)
    for status in ("401", "403", "200"):
        assert (
            value(
                after,
                "oms_http_requests_total",
                method="GET",
                route="/v1/stock/{sku}",
                status=status,
            )
            == 1
        )


def test_files_under_a_mount_share_one_label(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("console.log(1)")
    host = host_with_routes()
    host.api.mount("/static/web", StaticFiles(directory=tmp_path), name="web")
    client = TestClient(host.api)
    assert client.get("/static/web/app.js").status_code == 200
    assert client.get("/static/web/missing.js").status_code == 404
    after = scrape(client)
    route = "/static/web/{path}"
    assert value(after, "oms_http_requests_total", method="GET", route=route, status="200") == 1
    assert value(after, "oms_http_requests_total", method="GET", route=route, status="404") == 1
