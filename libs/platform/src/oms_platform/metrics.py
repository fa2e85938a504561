"""Prometheus metrics of one service process, served at ``GET /metrics``.

Each :class:`ServiceMetrics` has a registry of its own rather than prometheus_client's
global one: a test process builds many service hosts, and each must count only itself.

Counters move where the work happens (the consumer runtime, the relay, the HTTP
middleware). Figures that live in the database or the Kafka client (relay backlog, parked
events, dead letters waiting, consumer lag, a service's own read models) are read when
Prometheus scrapes, by the refreshers registered with :meth:`ServiceMetrics.on_scrape`;
a refresher that fails leaves its gauges as they were and counts the failure.

Every label has a bounded set of values: consumer names, topics, partitions, error
codes, route templates (never the raw path), HTTP methods and statuses. No order id,
e-mail or path parameter becomes a label.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms_platform import deadletters
from oms_platform.failures import is_infrastructure
from oms_platform.logging import get_logger

if TYPE_CHECKING:
    from oms_platform.service import ServiceHost

log = get_logger(__name__)

Refresher = Callable[[], Awaitable[None]]

REFRESH_TIMEOUT_S = 5.0
"""A scrape waits this long for each refresher (a database that hangs must not hang it)."""

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route matched (a 404 of a made-up path)."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The metric families of one service and the refreshers that fill its gauges."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        # The process's CPU, memory and open files, Python's version and collections.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.consumer_events = Counter(
            "oms_consumer_events",
            "Kafka messages a consumer finished, by outcome "
            "(handled, duplicate, ignored, dead_lettered).",
            ["consumer", "outcome"],
            registry=r,
        )
        self.consumer_retries = Counter(
            "oms_consumer_retries",
            "Attempts at a message that failed and were retried, by cause "
            "(conflict, infrastructure, error).",
            ["consumer", "cause"],
            registry=r,
        )
        self.dead_letters = Counter(
            "oms_dead_letters",
            "Messages dead-lettered (published to <topic>.dlq and recorded) since start.",
            ["consumer", "code"],
            registry=r,
        )
        self.dead_letters_waiting = Gauge(
            "oms_dead_letters_waiting",
            "Dead letters in the service's database not (successfully) replayed yet.",
            ["consumer", "code"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "oms_consumer_lag",
            "Messages behind the partition's high watermark (of the last fetch) that the "
            "consumer has still to handle.",
            ["consumer", "topic", "partition"],
            registry=r,
        )
        self.relay_published = Counter(
            "oms_relay_published",
            "Events the broker acknowledged from the relay since start (parked ones not included).",
            registry=r,
        )
        self.relay_parked = Counter(
            "oms_relay_parked",
            "Events the relay parked as unpublishable since start.",
            registry=r,
        )
        self.relay_backlog = Gauge(
            "oms_relay_backlog_events", "Events committed but not published yet.", registry=r
        )
        self.relay_lag = Gauge(
            "oms_relay_lag_seconds",
            "Age of the oldest event not published yet (0 when the relay is caught up).",
            registry=r,
        )
        self.parked_events = Gauge(
            "oms_parked_events",
            "Events parked by the relay and not published since.",
            registry=r,
        )
        self.http_requests = Counter(
            "oms_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "oms_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.projection_backlog = Gauge(
            "oms_projection_backlog_events",
            "Events in the service's store that a projection has not applied yet.",
            ["projection"],
            registry=r,
        )
        self.projection_lag = Gauge(
            "oms_projection_lag_seconds",
            "Age of the oldest event a projection has not applied yet (0 when caught up).",
            ["projection"],
            registry=r,
        )
        self.refresh_failures = Counter(
            "oms_metrics_refresh_failures",
            "Scrapes at which a figure could not be read (database or broker unreachable).",
            ["source"],
            registry=r,
        )
        self._refreshers: list[tuple[str, Refresher]] = []

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge of the service's own (e.g. orders by status), in this registry."""
        return Gauge(name, documentation, list(labels), registry=self.registry)

    def on_scrape(self, source: str, refresh: Refresher) -> None:
        """Run ``refresh`` before each scrape is rendered (it sets gauges from a query)."""
        self._refreshers.append((source, refresh))

    async def refresh(self) -> None:
        """Run every refresher, each bounded by :data:`REFRESH_TIMEOUT_S`."""
        for source, refresh in self._refreshers:
            try:
                await asyncio.wait_for(refresh(), REFRESH_TIMEOUT_S)
            except Exception as err:
                self.refresh_failures.labels(source).inc()
                log.warning("metrics.refresh_failed", source=source, error=f"{err!r}"[:300])

    async def render(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the Prometheus text exposition format."""
        return Response(await self.render(), media_type=CONTENT_TYPE_LATEST)


def replace(gauge: Gauge, values: Iterable[tuple[Sequence[str], float]]) -> None:
    """Set ``gauge`` to exactly ``values`` (label values, value): series not in it go, so
    a revoked partition or a status no order has any more does not linger."""
    gauge.clear()
    for labels, value in values:
        gauge.labels(*labels).set(value)


class RequestMetrics:
    """ASGI middleware counting requests and timing them by route template and status.

    The template comes from the route the router matched (``scope["route"]``); a request
    answered before routing (a refused body, a missing token) is matched against the
    app's routes here, so its label is still the template; no match is ``unmatched``.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # A mount rewrites the scope's root path on the way in: keep the request's own.
        where = {"path": scope.get("path", ""), "root_path": scope.get("root_path", "")}
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as err:
            # The app's catch-all handler answers outside this middleware (Starlette's
            # ServerErrorMiddleware), as ``install_problem_handlers`` decides: 503 when a
            # dependency is unreachable, else 500.
            status = 503 if is_infrastructure(err) else 500
            raise
        finally:
            method = scope.get("method", "GET")
            method = method if method in HTTP_METHODS else "OTHER"
            route = route_template({**scope, **where} if "route" not in scope else scope)
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_latency.labels(method, route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The path template of the route serving ``scope`` (``/v1/orders/{order_id}``)."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(app, "routes", ()):
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                route = candidate
                break
    if route is None:
        return UNMATCHED_ROUTE
    # A mount's format ends in its remainder already: ``/static/web/{path}``.
    return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED_ROUTE))


def install(host: ServiceHost) -> None:
    """Count ``host``'s HTTP requests and read its relay, dead letters and consumer lag
    at each scrape (the route itself is added next to ``/health``)."""
    metrics = host.metrics
    host.api.add_middleware(RequestMetrics, metrics=metrics)
    pg, relay, consumers = host.pg, host.relay, host.consumers
    if pg is None or relay is None or consumers is None:
        return  # a host on an injected store: HTTP only

    async def relay_backlog() -> None:
        behind, oldest = await pg.backlog(relay.checkpoint_name)
        metrics.relay_backlog.set(behind)
        metrics.relay_lag.set(_age(oldest))

    async def dead_letters() -> None:
        async with pg.connection() as conn:
            found = await deadletters.counts(conn)
            waiting = await deadletters.waiting_by_consumer(conn)
        metrics.parked_events.set(found.parked)
        replace(metrics.dead_letters_waiting, waiting.items())

    async def consumer_lag() -> None:
        lags = await consumers.partition_lag(ask_broker=True)
        replace(
            metrics.consumer_lag,
            (((c, topic, str(p)), lag) for (c, topic, p), lag in lags.items()),
        )

    async def projections() -> None:
        # Read at each scrape: projections are added after the host is built.
        backlog, lag = [], []
        for runner in host.projections:
            behind, oldest = await pg.backlog(runner.checkpoint_name)
            backlog.append(((runner.projection.name,), float(behind)))
            lag.append(((runner.projection.name,), _age(oldest)))
        replace(metrics.projection_backlog, backlog)
        replace(metrics.projection_lag, lag)

    metrics.registry.register(_ProjectionsApplied(host))
    metrics.on_scrape("relay", relay_backlog)
    metrics.on_scrape("projections", projections)
    metrics.on_scrape("dead_letters", dead_letters)
    metrics.on_scrape("consumers", consumer_lag)


def _age(oldest: datetime | None) -> float:
    """Seconds since ``oldest`` (0 for nothing waiting)."""
    return 0.0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds())


class _ProjectionsApplied(Collector):
    """``oms_projection_applied_total``: the events each projection runner applied, read
    off the runners when scraped (the runner keeps the count; no second counter)."""

    def __init__(self, host: ServiceHost) -> None:
        self.host = host

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "oms_projection_applied",
            "Events a projection applied in this process since start.",
            labels=["projection"],
        )
        for runner in self.host.projections:
            family.add_metric([runner.projection.name], runner.applied)
        yield family
