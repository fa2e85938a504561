"""The process of one service: HTTP API, consumers, outbox relay and projections together.

A service's ``create_app(settings)`` builds a :class:`ServiceHost` (nothing connects yet);
``serve()`` starts everything, runs until SIGTERM/SIGINT and stops it all in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from oms_events.topics import AUDIT_ANCHORS, topic_for
from oms_platform import deadletters, metrics
from oms_platform.anchors import AnchorPublisher, publisher_for, service_chain_key
from oms_platform.auth import install_auth, unguarded_routes
from oms_platform.consumer import Handler, Subscription
from oms_platform.db import create_engine
from oms_platform.eventstore.base import EventStore
from oms_platform.eventstore.postgres import PostgresEventStore
from oms_platform.health import Health, LoopStatus, ProbeResult, keep_running
from oms_platform.http import install_problem_handlers
from oms_platform.kafka_topics import audit_topics, catalogue, ensure_topics
from oms_platform.logging import configure_logging, get_logger
from oms_platform.notify import Wakeup, install
from oms_platform.projection import Projection, ProjectionRunner
from oms_platform.relay import OutboxRelay, create_producer
from oms_platform.runtime import ConsumerRuntime
from oms_platform.settings import ServiceSettings

log = get_logger(__name__)

Hook = Callable[[], Awaitable[None]]


class ServiceHost:
    """Everything one service process runs, built from its settings.

    ``store`` replaces the PostgreSQL event store, e.g. with the in-memory fake, so that a
    service's HTTP routes can be tested without a database: such a host serves its API
    (``host.api``) but cannot :meth:`start` its consumers, relay and projections.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        api: FastAPI | None = None,
        *,
        store: EventStore | None = None,
    ) -> None:
        self.settings = settings
        dsn = settings.database_dsn.get_secret_value()
        self.engine = create_engine(
            dsn, pool_size=settings.db_pool_size, application_name=f"oms-{settings.service}"
        )
        self.health = Health(grace_s=settings.ready_grace_s)
        # No chain key or signing key, no service: never an unkeyed chain (ChainKeyError).
        self.pg: PostgresEventStore | None = (
            PostgresEventStore(self.engine, chain_key=service_chain_key(settings))
            if store is None
            else None
        )
        self.store: EventStore = store if store is not None else self._postgres()
        self.api = api or FastAPI(title=f"OMS {settings.service}")
        install_problem_handlers(self.api)
        install_auth(self.api, settings.auth_public_key, service=settings.service)
        self.metrics = metrics.ServiceMetrics()
        self.consumers: ConsumerRuntime | None = None
        self.relay: OutboxRelay | None = None
        self.anchors: AnchorPublisher | None = None
        self.wakeup: Wakeup | None = None
        if self.pg is not None:
            self.wakeup = Wakeup(self.pg.dsn, status=self.health.loop("wakeup"))
            self.consumers = ConsumerRuntime(
                service=f"{settings.topic_prefix}{settings.service}",
                kafka=settings.kafka,
                store=self.pg,
                retry=settings.retry,
                health=self.health,
                batch_size=settings.consumer_batch_size,
                wakeup=self.wakeup,
                metrics=self.metrics,
            )
            self.relay = OutboxRelay(
                self.pg,
                settings.kafka,
                name=settings.service,
                topic_for=lambda env: self.topic(topic_for(env.type)),
                dsn=self.pg.dsn,
                batch_size=settings.relay_batch_size,
                idle_poll_s=settings.relay_idle_poll_s,
                linger_s=settings.relay_linger_s,
                wakeup=self.wakeup,
                status=self.health.loop("relay"),
                metrics=self.metrics,
            )
            self.anchors = publisher_for(
                settings,
                self.pg,
                topic=self.topic(AUDIT_ANCHORS),
                producer=lambda: create_producer(settings.kafka),
                status=self.health.loop("anchors"),
            )
            self.health.add_probe("anchors", self.anchors.probe)
            self.health.add_probe("relay", self._relay_probe)
            self.health.add_probe("dead_letters", self._dead_letter_probe)
            self.health.add_probe("consumers", self._consumer_probe)
        self.projections: list[ProjectionRunner] = []
        self.startup_hooks: list[Hook] = []
        self._loops: list[tuple[str, Callable[[asyncio.Event], Awaitable[None]]]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.api.add_api_route("/health", self.live, methods=["GET"], include_in_schema=False)
        self.api.add_api_route("/ready", self.ready, methods=["GET"], include_in_schema=False)
        self.api.add_api_route(
            "/metrics", self.metrics.endpoint, methods=["GET"], include_in_schema=False
        )
        metrics.install(self)

    def _postgres(self) -> PostgresEventStore:
        assert self.pg is not None
        return self.pg

    def topic(self, name: str) -> str:
        """The topic ``name`` as this deployment spells it (see ``topic_prefix``)."""
        return f"{self.settings.topic_prefix}{name}"

    def subscribe(
        self,
        consumer: str,
        topics: Sequence[str],
        handlers: Mapping[str, Handler],
        *,
        batch: bool = True,
        exclusive: bool = False,
    ) -> None:
        """Handle events from ``topics`` as consumer ``consumer`` (own group and inbox);
        ``batch=False`` for handlers that call out of the process, ``exclusive=True`` for
        handlers writing streams shared across keys (see ``Subscription``)."""
        if self.consumers is not None:
            topic_names = tuple(self.topic(t) for t in topics)
            self.consumers.subscribe(
                Subscription(consumer, topic_names, handlers, batch=batch, exclusive=exclusive)
            )

    def add_projection(self, projection: Projection) -> ProjectionRunner | None:
        if self.pg is None:
            return None
        runner = ProjectionRunner(
            self.pg,
            projection,
            idle_poll_s=self.settings.projection_idle_poll_s,
            wakeup=self.wakeup,
        )
        self.projections.append(runner)
        return runner

    def add_loop(self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]]) -> LoopStatus:
        """Run ``loop(stop)`` in the background once started (after the startup hooks),
        restarted after a failure and reported in ``/ready`` as loop ``name``."""
        self._loops.append((name, loop))
        return self.health.loop(name)

    def on_startup(self, hook: Hook) -> Hook:
        self.startup_hooks.append(hook)
        return hook

    async def live(self) -> JSONResponse:
        """Liveness: the process answers. Whether it makes progress is ``/ready``'s job."""
        return JSONResponse({"service": self.settings.service, "live": True})

    async def ready(self) -> JSONResponse:
        """Readiness: 503 while a loop keeps failing, the relay lags or events are parked."""
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 2.0)
            database: str | None = None
        except Exception as err:
            database = f"{type(err).__name__}: {err}"[:300]
        ready, body = await self.health.readiness()
        if database is not None:
            ready = False
            body["reasons"].append("database unreachable")
        body = {"service": self.settings.service, **body, "ready": ready, "database": database}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def _relay_probe(self) -> ProbeResult:
        assert self.pg is not None and self.relay is not None
        behind, oldest = await self.pg.backlog(self.relay.checkpoint_name)
        age = 0.0
        if oldest is not None:
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        lagging = age > self.settings.relay_max_lag_s
        details = {
            "lag_events": behind,
            "lag_s": round(age, 1),
            "published": self.relay.published,
            "active": self.relay.status.waiting_on is None,
        }
        reason = f"relay {age:.0f}s behind its events table" if lagging else None
        return ProbeResult(not lagging, details, reason)

    async def _dead_letter_probe(self) -> ProbeResult:
        assert self.pg is not None
        async with self.pg.connection() as conn:
            found = await deadletters.counts(conn)
        details = {"dead_lettered": found.dead_letters, "parked": found.parked}
        reason = f"{found.parked} event(s) parked by the relay" if found.parked else None
        return ProbeResult(found.parked == 0, details, reason)

    async def _consumer_probe(self) -> ProbeResult:
        assert self.consumers is not None
        details = {
            "lag": await self.consumers.lag(),
            "handled": dict(self.consumers.handled),
            "partitions": self.consumers.assignments(),
        }
        return ProbeResult(True, details)

    async def start(self) -> None:
        if self.pg is None or self.consumers is None or self.relay is None:
            raise RuntimeError("a host on an injected store serves its API only")
        unguarded = unguarded_routes(self.api)
        if unguarded:
            raise RuntimeError(f"routes without a token check or PUBLIC mark: {unguarded}")
        await self.pg.create_schema()
        if self.anchors is not None:
            await self.anchors.setup()
        await install(self.pg)
        for runner in self.projections:
            await runner.setup()
        for hook in self.startup_hooks:
            await hook()
        await ensure_topics(
            self.settings.kafka,
            [*catalogue(self.settings.topic_prefix), *audit_topics(self.settings.topic_prefix)],
            partitions=self.settings.topic_partitions,
            replication=self.settings.topic_replication,
        )
        await self.consumers.start()
        if self.wakeup is not None:
            self._spawn("wakeup", self.wakeup.run, self.wakeup.status)
        self._spawn("relay", self.relay.run, self.relay.status)
        if self.anchors is not None:
            self._spawn("anchors", self.anchors.run, self.anchors.status)
        self._spawn("dlq-replay", self.consumers.run_replays, self.health.loop("dlq-replay"))
        for runner in self.projections:
            runner.status = self.health.loop(runner.checkpoint_name)
            self._spawn(runner.checkpoint_name, runner.run, runner.status)
        for name, loop in self._loops:
            self._spawn(name, loop, self.health.loop(name))
        log.info("service.started", port=self.settings.http_port)

    def _spawn(
        self, name: str, loop: Callable[[asyncio.Event], Awaitable[None]], status: LoopStatus
    ) -> None:
        self._tasks.append(asyncio.create_task(keep_running(loop, self._stop, status), name=name))

    async def stop(self) -> None:
        self._stop.set()
        if self.consumers is not None:
            await self.consumers.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        if self.pg is not None:
            await self.pg.close()
        await self.engine.dispose()

    async def serve(self) -> None:
        """Run until SIGTERM or SIGINT."""
        await self.start()
        gc.collect()
        gc.freeze()  # start-up's objects (modules, models, settings) are never garbage
        config = uvicorn.Config(
            self.api,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = _QuietServer(config)
        # uvicorn handles SIGTERM/SIGINT itself, then re-raises the signal once its server
        # is down; a no-op handler here lets that land so the rest is stopped in order.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _sig, _frame: None)
        try:
            await server.serve()
        finally:
            await self.stop()


class _QuietServer(uvicorn.Server):
    """uvicorn's server, ticking once a second instead of ten times (idle CPU): the tick
    refreshes the Date header (whole seconds anyway) and notices a signal to exit."""

    async def main_loop(self) -> None:
        ticks = 0
        while not await self.on_tick(ticks):
            ticks = (ticks + 10) % 864000  # on_tick refreshes the headers when % 10 == 0
            await asyncio.sleep(1.0)


GC_THRESHOLDS = (10_000, 20, 50)
"""Python's collector runs a young collection every 700 allocations by default and a full
one every 7,000 young ones: on a service holding thousands of cached states the full
ones showed in profiles (6% of the order service's CPU at 25 orders/s). Collections
are rarer here; what was made at start-up is frozen out of them (``gc.freeze``)."""


def run(host: ServiceHost) -> None:
    """Entry point of ``python -m oms_<service>``."""
    gc.set_threshold(*GC_THRESHOLDS)
    configure_logging(
        host.settings.service, json=host.settings.log_json, level=host.settings.log_level
    )
    asyncio.run(host.serve())
