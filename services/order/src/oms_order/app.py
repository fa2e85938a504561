"""Composition root: ``create_app(settings)`` wires the order service (connects nothing yet)."""

from __future__ import annotations

from fastapi import FastAPI

from oms_order.api import OrderContext, install
from oms_order.consumers import subscribe
from oms_order.domain.state import OrderStatus
from oms_order.handlers import OrderHandlers
from oms_order.projections.derived import DerivedReadModels
from oms_order.projections.read_models import ReadModels
from oms_order.projections.tables import SqlReadModels
from oms_order.settings import OrderSettings
from oms_order.stalls import StallWatch
from oms_order.streams import new_order_id
from oms_platform.eventstore.base import EventStore
from oms_platform.metrics import replace
from oms_platform.service import ServiceHost

STALL_LOOP = "stalled-orders"


def create_app(
    settings: OrderSettings,
    *,
    store: EventStore | None = None,
    read_models: ReadModels | None = None,
) -> ServiceHost:
    """The order service: HTTP API, intake and fact consumers, relay, tables, stall watch.

    With ``store`` (e.g. the in-memory store) the host serves its API only, and the read
    models are derived from that store unless ``read_models`` are given.
    """
    host = ServiceHost(settings, FastAPI(title="OMS order service", version="1"), store=store)
    if read_models is None:
        read_models = _read_models(host, settings, store)
    handlers = OrderHandlers(
        read_models, new_order_id, short_pick_remedy=settings.short_pick_remedy
    )
    install(host.api, OrderContext(host.store, handlers, read_models))
    subscribe(host, handlers)
    watch = StallWatch(
        read_models,
        stall_after_s=settings.stall_after_s,
        check_every_s=settings.stall_check_s,
        status=host.health.loop(STALL_LOOP),
    )
    host.health.add_probe("stalled_orders", watch.probe)
    host.add_loop(STALL_LOOP, watch.run)
    return host


def _read_models(
    host: ServiceHost, settings: OrderSettings, store: EventStore | None
) -> ReadModels:
    if store is not None:
        return DerivedReadModels(
            store, check_skus=settings.check_skus, stall_after_s=settings.stall_after_s
        )
    tables = SqlReadModels(
        host.engine, check_skus=settings.check_skus, stall_after_s=settings.stall_after_s
    )
    host.on_startup(tables.create)
    _count_orders_by_status(host, tables)
    return tables


def _count_orders_by_status(host: ServiceHost, tables: SqlReadModels) -> None:
    """``oms_orders{status}`` on ``/metrics``, counted in the orders table at each scrape;
    every status is reported, 0 when no order has it."""
    gauge = host.metrics.gauge("oms_orders", "Orders by status (the orders table).", ["status"])
    statuses = [s.value for s in OrderStatus if s is not OrderStatus.NEW]

    async def count() -> None:
        found = await tables.count_by_status()
        names = statuses + sorted(set(found) - set(statuses))
        replace(gauge, (((name,), found.get(name, 0)) for name in names))

    host.metrics.on_scrape("orders", count)
