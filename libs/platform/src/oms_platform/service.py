"""The process of one service: HTTP API, consumers, outbox relay and projections together.

A service's ``create_app(settings)`` builds a :class:`ServiceHost` (nothing connects yet);
``serve()`` starts everything, runs until SIGTERM/SIGINT and stops it all in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from oms_events.topics import topic_for
from oms_platform.consumer import Handler, Subscription
from oms_platform.db import create_engine
from oms_platform.eventstore.postgres import PostgresEventStore
from oms_platform.logging import configure_logging, get_logger
from oms_platform.projection import Projection, ProjectionRunner
from oms_platform.relay import OutboxRelay
from oms_platform.runtime import ConsumerRuntime
from oms_platform.settings import ServiceSettings

log = get_logger(__name__)

Hook = Callable[[], Awaitable[None]]


class ServiceHost:
    """Everything one service process runs, built from its settings."""

    def __init__(self, settings: ServiceSettings, api: FastAPI | None = None) -> None:
        self.settings = settings
        dsn = settings.database_dsn.get_secret_value()
        self.engine = create_engine(
            dsn, pool_size=settings.db_pool_size, application_name=f"oms-{settings.service}"
        )
        self.store = PostgresEventStore(self.engine)
        self.api = api or FastAPI(title=f"OMS {settings.service}")
        self.consumers = ConsumerRuntime(
            service=f"{settings.topic_prefix}{settings.service}",
            bootstrap=settings.kafka_bootstrap,
            store=self.store,
            retry=settings.retry,
        )
        self.relay = OutboxRelay(
            self.store,
            settings.kafka_bootstrap,
            name=settings.service,
            topic_for=lambda env: self.topic(topic_for(env.type)),
            dsn=self.store.dsn,
            batch_size=settings.relay_batch_size,
        )
        self.projections: list[ProjectionRunner] = []
        self.startup_hooks: list[Hook] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.api.add_api_route("/health", self.health, methods=["GET"], include_in_schema=False)

    def topic(self, name: str) -> str:
        """The topic ``name`` as this deployment spells it (see ``topic_prefix``)."""
        return f"{self.settings.topic_prefix}{name}"

    def subscribe(
        self, consumer: str, topics: Sequence[str], handlers: Mapping[str, Handler]
    ) -> None:
        """Handle events from ``topics`` as consumer ``consumer`` (own group and inbox)."""
        self.consumers.subscribe(
            Subscription(consumer, tuple(self.topic(t) for t in topics), handlers)
        )

    def add_projection(self, projection: Projection) -> ProjectionRunner:
        runner = ProjectionRunner(self.store, projection)
        self.projections.append(runner)
        return runner

    def on_startup(self, hook: Hook) -> Hook:
        self.startup_hooks.append(hook)
        return hook

    async def health(self) -> JSONResponse:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            db_ok = True
        except Exception:
            db_ok = False
        relay_alive = any(t.get_name() == "relay" and not t.done() for t in self._tasks)
        body = {
            "service": self.settings.service,
            "database": db_ok,
            "relay": relay_alive,
            "published": self.relay.published,
        }
        return JSONResponse(body, status_code=200 if db_ok and relay_alive else 503)

    async def start(self) -> None:
        await self.store.create_schema()
        for runner in self.projections:
            await runner.setup()
        for hook in self.startup_hooks:
            await hook()
        await self.consumers.start()
        self._tasks.append(asyncio.create_task(self._keep_running(self.relay.run), name="relay"))
        for runner in self.projections:
            self._tasks.append(
                asyncio.create_task(self._keep_running(runner.run), name=runner.checkpoint_name)
            )
        log.info("service.started", port=self.settings.http_port)

    async def _keep_running(self, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Restart a background loop after a failure (database blip, lost lease)."""
        while not self._stop.is_set():
            try:
                await loop(self._stop)
            except Exception:
                log.exception("service.loop_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 2.0)

    async def stop(self) -> None:
        self._stop.set()
        await self.consumers.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await self.store.close()
        await self.engine.dispose()

    async def serve(self) -> None:
        """Run until SIGTERM or SIGINT."""
        await self.start()
        config = uvicorn.Config(
            self.api,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        # uvicorn handles SIGTERM/SIGINT itself, then re-raises the signal once its server
        # is down; a no-op handler here lets that land so the rest is stopped in order.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _sig, _frame: None)
        try:
            await server.serve()
        finally:
            await self.stop()


def run(host: ServiceHost) -> None:
    """Entry point of ``python -m oms_<service>``."""
    configure_logging(
        host.settings.service, json=host.settings.log_json, level=host.settings.log_level
    )
    asyncio.run(host.serve())
