"""Fixtures of the payments unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from oms_payments.app import create_app
from oms_payments.settings import PaymentsSettings
from oms_platform.testing import auth
from oms_platform.testing.keys import service_keys
from services.payments.tests.support import TEST_GIFT_CARD_KEY, Payments


@pytest.fixture
def service() -> Payments:
    """A fresh in-memory payments service with a scripted provider."""
    return Payments()


@pytest.fixture
async def http(service: Payments) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API over ``service``'s store, with a token of every scope."""
    # The DSN points nowhere: a host on an injected store never connects.
    settings = PaymentsSettings(
        **service_keys(),
        database_dsn=SecretStr("postgresql://nobody@127.0.0.1:9/none"),
        gift_card_key=SecretStr(TEST_GIFT_CARD_KEY),
    )
    host = create_app(settings, store=service.store)
    transport = httpx.ASGITransport(app=host.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://payments", headers=auth.headers()
    ) as client:
        yield client
