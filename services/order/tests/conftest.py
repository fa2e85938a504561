"""Shared builders for the order service's unit tests: commands and the events they record,
and a host on the in-memory store with an HTTP client for the route tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from oms_events.contracts import (
    OrderConfirmed,
    OrderPaymentRecorded,
    OrderPaymentStatus,
    OrderPlaced,
    OrderStockRecorded,
    OrderStockStatus,
    OrderSubmitted,
)
from oms_events.examples import ADDRESS, ALLOCATIONS, example
from oms_order.app import create_app
from oms_order.domain.commands import Command, RecordPayment, RecordStock
from oms_order.domain.order import order_decider
from oms_order.domain.state import OrderState
from oms_order.projections.derived import DerivedReadModels
from oms_order.settings import OrderSettings
from oms_platform.eventstore.memory import InMemoryEventStore
from oms_platform.service import ServiceHost
from oms_platform.testing import auth
from oms_platform.testing.decider_spec import DeciderSpec
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

ORDER_ID = "ord-000000000001"

spec: DeciderSpec[Command, OrderState] = DeciderSpec(order_decider)


def submission(**changes: object) -> OrderSubmitted:
    return example(OrderSubmitted).model_copy(update=changes)


def placed() -> OrderPlaced:
    return OrderPlaced(order_id=ORDER_ID, **dict(submission()))


def reserved(order_id: str = ORDER_ID) -> RecordStock:
    return RecordStock(order_id, OrderStockStatus.RESERVED, "res-1", allocations=ALLOCATIONS)


def stock_reserved() -> OrderStockRecorded:
    return OrderStockRecorded(
        order_id=ORDER_ID,
        status=OrderStockStatus.RESERVED,
        reservation_id="res-1",
        allocations=ALLOCATIONS,
    )


def authorized(payment_id: str, order_id: str = ORDER_ID) -> RecordPayment:
    payment = next(p for p in placed().payments if p.payment_id == payment_id)
    return RecordPayment(
        order_id, payment_id, payment.method, payment.amount, OrderPaymentStatus.AUTHORIZED
    )


def payment_authorized(payment_id: str) -> OrderPaymentRecorded:
    payment = next(p for p in placed().payments if p.payment_id == payment_id)
    return OrderPaymentRecorded(
        order_id=ORDER_ID,
        payment_id=payment_id,
        method=payment.method,
        amount=payment.amount,
        status=OrderPaymentStatus.AUTHORIZED,
    )


def confirmed() -> OrderConfirmed:
    return OrderConfirmed(order_id=ORDER_ID, allocations=ALLOCATIONS, shipping_address=ADDRESS)


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore(TEST_CHAIN_KEY)


@pytest.fixture
def host(store: InMemoryEventStore) -> ServiceHost:
    settings = OrderSettings(
        **service_keys(), database_dsn=SecretStr("postgresql+psycopg://u:p@127.0.0.1:1/none")
    )
    models = DerivedReadModels(
        store, known_skus=("TSHIRT-BLU-M", "MUG-ENAMEL-WHT"), stall_after_s=3600
    )
    return create_app(settings, store=store, read_models=models)


@pytest.fixture
async def client(host: ServiceHost) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://order", headers=auth.headers()
    ) as client:
        yield client
