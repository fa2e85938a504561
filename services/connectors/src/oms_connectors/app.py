"""Composition root: ``create_app(settings)`` wires the connectors service; nothing connects yet."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import FastAPI

from oms_connectors import api
from oms_connectors.intake import OrderIntake
from oms_connectors.outbound import HANDLED, LOOP, OutboundLoop, StatusOut
from oms_connectors.platforms.adobe import AdobeCommerceAdapter
from oms_connectors.platforms.base import PlatformAdapter
from oms_connectors.platforms.shopify import ShopifyAdapter
from oms_connectors.poller import LOOP as POLL_LOOP
from oms_connectors.poller import AdobePoller
from oms_connectors.settings import ConnectorsSettings
from oms_connectors.shops import Intake, Platform, ShopConfig
from oms_connectors.signatures import AdobeVerifier
from oms_connectors.tables import Tables
from oms_events.topics import ORDER_EVENTS
from oms_platform.eventstore.base import EventStore
from oms_platform.health import ProbeResult
from oms_platform.service import ServiceHost


def adapter_for(shop: ShopConfig, client: httpx.AsyncClient) -> PlatformAdapter:
    if shop.platform is Platform.SHOPIFY:
        return ShopifyAdapter(shop, client)
    return AdobeCommerceAdapter(shop, client)


def create_app(
    settings: ConnectorsSettings,
    *,
    store: EventStore | None = None,
    adapters: Mapping[str, PlatformAdapter] | None = None,
    client: httpx.AsyncClient | None = None,
) -> ServiceHost:
    """The connectors process: webhooks and reads over HTTP, the Adobe Commerce poller, the
    order-events consumer and the outbound loop (see the modules of the same names).

    ``adapters`` replaces the HTTP adapters per shop id; ``client`` the HTTP client they and
    the poller use (e.g. one bound to an in-process sandbox)."""
    host = ServiceHost(settings, FastAPI(title="OMS connectors", version="1"), store=store)
    shops = {s.shop: s for s in settings.all_shops()}
    http = client or httpx.AsyncClient(timeout=settings.platform_timeout_s)
    tables = Tables(host.engine)
    if store is None:
        host.on_startup(tables.create_schema)
    intake = OrderIntake(tables)
    keys = {
        s.shop: AdobeVerifier(key)
        for s in shops.values()
        if s.platform is Platform.ADOBE_COMMERCE
        and s.intake is not Intake.POLL
        and (key := s.public_key()) is not None
    }
    api.install(host.api, api.ApiContext(host.store, tables, intake, shops, keys))
    status = StatusOut(tables, intake)
    host.subscribe("status", [ORDER_EVENTS], {cls.event_type: status.handle for cls in HANDLED})
    loop = OutboundLoop(
        tables,
        adapters if adapters is not None else {s: adapter_for(c, http) for s, c in shops.items()},
        every_s=settings.outbound_every_s,
        max_backoff_s=settings.max_backoff_s,
    )
    loop.status = host.add_loop(LOOP, loop.run)
    poller = AdobePoller(host.store, tables, intake, list(shops.values()), http)
    poller.status = host.add_loop(POLL_LOOP, poller.run)
    host.api.state.outbound = loop
    host.api.state.poller = poller

    async def outbound_probe() -> ProbeResult:
        pending, failed, overdue = await tables.backlog(loop.clock())
        details = {
            "pending": pending,
            "failed": failed,
            "oldest_pending_s": round(overdue, 1),
            "sent": loop.sent,
            "polled": dict(poller.polled),
        }
        late = overdue > settings.max_overdue_s
        reason = f"an action has waited {overdue:.0f}s for its platform" if late else None
        return ProbeResult(not late, details, reason)

    if host.pg is not None:
        host.health.add_probe("outbound", outbound_probe)
    return host
