"""Fixtures for tests against the real local stack started by `oms up`.

Each test module that needs a database gets a scratch one, created and dropped here
with the stack's admin login; nothing is skipped when the stack is down: tests fail.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from oms_cli.config import StackConfig
from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer
from oms_platform.testing.databases import scratch_database
from oms_platform.testing.kafka import TestTopics


@pytest.fixture(scope="session")
def stack() -> StackConfig:
    return StackConfig()


@pytest.fixture(scope="module")
def scratch_dsn(stack: StackConfig) -> Iterator[str]:
    with scratch_database(stack.admin_dsn) as dsn:
        yield dsn


@pytest.fixture
async def clean_db(scratch_dsn: str) -> AsyncIterator[str]:
    """The module's scratch database, emptied of every table before each test."""
    async with await psycopg.AsyncConnection.connect(scratch_dsn, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    yield scratch_dsn


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackConfig) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def kafka_admin(stack: StackConfig) -> KafkaConnection:
    """The broker as the stack's super user: tests work on prefixed topics, which the
    services' literal-topic ACLs do not name (``tests/integration/test_kafka_acl.py``
    checks the services' own users)."""
    return stack.kafka


@pytest.fixture
async def topics(kafka_admin: KafkaConnection) -> AsyncIterator[TestTopics]:
    """A fresh topic prefix for one test and a producer to publish on it."""
    producer = create_producer(kafka_admin)
    await producer.start()
    try:
        yield TestTopics(kafka_admin, f"t{uuid.uuid4().hex[:8]}.", producer)
    finally:
        await producer.stop()


@pytest.fixture
def topic() -> str:
    """A fresh topic name per test (auto-created by the broker with 3 partitions)."""
    return f"oms.test.{uuid.uuid4().hex[:10]}"
