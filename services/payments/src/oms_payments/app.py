"""Composition root: ``create_app(settings)`` wires the payments service; nothing connects here."""

from __future__ import annotations

from fastapi import FastAPI

from oms_payments import api, consumers
from oms_payments.attempts import PostgresAttemptLog
from oms_payments.providers import sandbox
from oms_payments.settings import PaymentsSettings
from oms_payments.worker import ProviderWorker
from oms_platform.service import ServiceHost


def create_app(settings: PaymentsSettings) -> ServiceHost:
    """The payments service: HTTP API, consumers, provider worker, sandbox providers."""
    host = ServiceHost(settings, FastAPI(title="OMS payments", version="1"))
    attempts = PostgresAttemptLog(host.engine)
    providers = sandbox.sandbox_directory(host.engine, settings.sandbox.rules())

    async def create_tables() -> None:
        await sandbox.create_schema(host.engine)
        await attempts.create_schema()

    host.on_startup(create_tables)
    worker = ProviderWorker(providers, attempts, budget=settings.retry.max_attempts)
    consumers.subscribe(host, worker)
    host.api.include_router(api.router(host.store))
    return host
