"""Every HTTP endpoint of every service, driven from its own OpenAPI description: no 5xx.

schemathesis generates requests from each running service's ``/openapi.json`` (valid ones
and, in negative mode, invalid ones) and sends them over HTTP to the real processes on
their real databases. Whatever a client can send must get an answer below 500.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tests.e2e.system import System

EXAMPLES_PER_OPERATION = 25


def _schema(system: System, service: str) -> Any:
    schema = schemathesis.openapi.from_url(system.url(service) + "/openapi.json")
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema


@pytest.fixture(scope="module")
def order_api(system: System) -> Any:
    return _schema(system, "order")


@pytest.fixture(scope="module")
def inventory_api(system: System) -> Any:
    return _schema(system, "inventory")


@pytest.fixture(scope="module")
def payments_api(system: System) -> Any:
    return _schema(system, "payments")


_fuzz = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests every run: a failure is reproducible
)


def _call(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error], timeout=30)


order = schemathesis.pytest.from_fixture("order_api")
inventory = schemathesis.pytest.from_fixture("inventory_api")
payments = schemathesis.pytest.from_fixture("payments_api")


@order.parametrize()
@_fuzz
def test_order_api_never_answers_5xx(case: Any) -> None:
    _call(case)


@inventory.parametrize()
@_fuzz
def test_inventory_api_never_answers_5xx(case: Any) -> None:
    _call(case)


@payments.parametrize()
@_fuzz
def test_payments_api_never_answers_5xx(case: Any) -> None:
    _call(case)
