"""Composition root: ``create_app(settings)`` wires the fulfilment service; nothing connects yet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from oms_fulfilment import api
from oms_fulfilment.consumers import subscribe
from oms_fulfilment.handlers import Fulfilments, utc_now
from oms_fulfilment.order_fulfilments import (
    InMemoryOrderFulfilments,
    OrderFulfilments,
    SqlOrderFulfilments,
)
from oms_fulfilment.projections.backlog import (
    Backlog,
    BacklogProjection,
    DerivedBacklog,
    SqlBacklog,
)
from oms_fulfilment.projections.picklists import (
    DerivedPicklists,
    Picklists,
    PicklistsProjection,
    SqlPicklists,
)
from oms_fulfilment.queries import FulfilmentQueries
from oms_fulfilment.settings import FulfilmentSettings
from oms_fulfilment.sizes import InMemoryItemSizes, ItemSizes, SqlItemSizes
from oms_platform.eventstore.base import EventStore
from oms_platform.service import ServiceHost


def create_app(
    settings: FulfilmentSettings,
    *,
    store: EventStore | None = None,
    sizes: ItemSizes | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> ServiceHost:
    """The fulfilment process: HTTP API, order and SKU consumers, relay, pick-list model.

    ``store`` replaces the PostgreSQL event store (e.g. with the in-memory one): the host
    then serves its API only, pick lists are folded from that store on every query and
    SKU sizes are kept in memory (or in ``sizes``), which is how the routes are tested
    without a database. ``clock`` stamps the events and says what "today" is.
    """
    host = ServiceHost(settings, FastAPI(title="OMS fulfilment", version="1"), store=store)
    picklists: Picklists
    backlog: Backlog
    orders: OrderFulfilments
    if store is None:
        tables = SqlItemSizes(host.engine)
        host.on_startup(tables.create)
        sizes = sizes or tables
        sql_orders = SqlOrderFulfilments(host.engine)
        host.on_startup(sql_orders.create)
        orders = sql_orders
        picklists = SqlPicklists(host.engine)
        host.add_projection(PicklistsProjection())
        backlog = SqlBacklog(host.engine)
        host.add_projection(BacklogProjection())
    else:
        sizes = sizes or InMemoryItemSizes()
        orders = InMemoryOrderFulfilments()
        picklists = DerivedPicklists(store)
        backlog = DerivedBacklog(store)
    fulfilments = Fulfilments(sizes, orders=orders, clock=clock)
    queries = FulfilmentQueries(
        host.store, fulfilments, picklists, backlog, settings.capacity_table()
    )
    api.install(host.api, api.ApiContext(host.store, fulfilments, queries))
    subscribe(host, fulfilments)
    return host
