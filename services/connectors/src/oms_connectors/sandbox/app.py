"""``create_sandbox(settings)``: one FastAPI app playing every configured Shopify shop and Adobe
Commerce store, plus the sandbox-only fault injection and call log shared by both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oms_connectors.sandbox.adobe import AdobeSandbox, adobe_router
from oms_connectors.sandbox.core import (
    ApiMiddleware,
    Clock,
    Fault,
    Faults,
    Ids,
    Json,
    SandboxError,
    WebhookSender,
    utc_now,
)
from oms_connectors.sandbox.settings import SandboxSettings
from oms_connectors.sandbox.shopify import ShopifySandbox, shopify_router
from oms_platform.logging import get_logger

log = get_logger(__name__)

SHOPIFY_ID_START = 5_801_000_000_000
"""Shopify ids are large integers (JavaScript loses precision above 2**53; we stay below)."""


@dataclass
class Sandbox:
    """What ``app.state.sandbox`` holds, for tests: ``await sandbox.sender.drain()``."""

    settings: SandboxSettings
    sender: WebhookSender
    faults: Faults
    shopify: ShopifySandbox
    adobe: AdobeSandbox


def create_sandbox(
    settings: SandboxSettings,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The app; ``webhook_transport`` replaces the network for webhooks (tests), ``clock`` the
    time stamped on orders and changes (tests of ``updated_at`` filters)."""
    sender = WebhookSender(
        tries=settings.webhook_tries,
        backoff_s=settings.webhook_backoff_s,
        timeout_s=settings.webhook_timeout_s,
        clock=clock,
        transport=webhook_transport,
    )
    faults = Faults()
    sandbox = Sandbox(
        settings=settings,
        sender=sender,
        faults=faults,
        shopify=ShopifySandbox(settings, sender, clock, Ids(SHOPIFY_ID_START)),
        adobe=AdobeSandbox(settings, sender, clock),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("sandbox_started", shops=[s.shop for s in settings.shops])
        yield
        await sender.drain()

    app = FastAPI(title="OMS platform sandbox (Shopify, Adobe Commerce)", lifespan=lifespan)
    app.state.sandbox = sandbox

    @app.exception_handler(SandboxError)
    async def platform_error(request: Request, exc: SandboxError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status)

    @app.get("/health")
    async def health() -> Json:
        return {"status": "ok"}

    @app.post("/sandbox/faults", status_code=201)
    async def arm_fault(fault: Fault) -> Json:
        faults.armed.append(fault)
        return {"fault": fault.model_dump()}

    @app.get("/sandbox/faults")
    async def list_faults() -> Json:
        return {"faults": [f.model_dump() for f in faults.armed]}

    @app.delete("/sandbox/faults")
    async def clear_faults() -> Json:
        faults.armed.clear()
        return {"faults": []}

    @app.get("/sandbox/calls")
    async def list_calls(shop: str | None = None) -> Json:
        return {"calls": [c.as_json() for c in faults.calls if shop in (None, c.shop)]}

    @app.delete("/sandbox/calls")
    async def clear_calls() -> Json:
        faults.calls.clear()
        return {"calls": []}

    app.include_router(shopify_router(sandbox.shopify))
    app.include_router(adobe_router(sandbox.adobe))
    app.add_middleware(ApiMiddleware, faults=faults, clock=clock)
    return app
