"""Composition root: ``create_app(settings)`` wires the payments service; nothing connects here."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from oms_payments import api, consumers, queries, routing
from oms_payments.calls import MemoryProviderCalls, PostgresProviderCalls, ProviderCalls
from oms_payments.providers import sandbox
from oms_payments.settings import PaymentsSettings
from oms_payments.worker import ProviderWorker
from oms_platform.eventstore import EventStore
from oms_platform.health import ProbeResult
from oms_platform.service import ServiceHost


def create_app(settings: PaymentsSettings, *, store: EventStore | None = None) -> ServiceHost:
    """The payments service: HTTP API, consumers, provider worker, sandbox providers.

    With ``store`` (e.g. the in-memory event store) the host serves its API only, and the
    provider call log is kept in memory too: nothing needs a database.
    """
    host = ServiceHost(settings, FastAPI(title="OMS payments", version="1"), store=store)
    calls: ProviderCalls
    if store is None:
        pg_calls = PostgresProviderCalls(host.engine)
        calls = pg_calls

        async def create_tables() -> None:
            await sandbox.create_schema(host.engine)
            await pg_calls.create_schema()

        host.on_startup(create_tables)
    else:
        calls = MemoryProviderCalls()
    providers = sandbox.sandbox_directory(host.engine, settings.sandbox.rules())
    worker = ProviderWorker(
        providers, calls, reconcile_after=timedelta(seconds=settings.reconcile_after_s)
    )
    consumers.subscribe(host, routing.routes(worker), remote_providers=providers.remote)

    async def parked_calls() -> ProbeResult:
        parked = await calls.parked_count()
        reason = f"{parked} provider call(s) parked for reconciliation" if parked else None
        return ProbeResult(parked == 0, {"parked_for_reconciliation": parked}, reason)

    host.health.add_probe("reconciliation", parked_calls)
    host.api.state.reads = queries.Reads(host.store, calls)
    host.api.state.gift_card_tokens = settings.gift_card_tokens()
    host.api.include_router(api.router)
    return host
