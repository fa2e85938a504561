"""The in-memory fake against the event store contract suite."""

from typing import Any

import pytest

from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing.eventstore_contract import EventStoreContract
from oms_platform.testing.keys import TEST_CHAIN_KEY


class MemoryTamper:
    async def payload(
        self, store: InMemoryEventStore, stream_id: str, version: int, payload: dict[str, Any]
    ) -> None:
        store.tamper_payload(stream_id, version, payload)

    async def delete(self, store: InMemoryEventStore, stream_id: str, version: int) -> None:
        store.tamper_delete(stream_id, version)

    async def rewrite(
        self,
        store: InMemoryEventStore,
        stream_id: str,
        version: int,
        payload: dict[str, Any],
        key: bytes,
    ) -> None:
        store.tamper_rewrite(stream_id, version, payload, key)

    async def drop(self, store: InMemoryEventStore, stream_id: str) -> None:
        store.tamper_drop_stream(stream_id)


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore(TEST_CHAIN_KEY)


@pytest.fixture
def tamper() -> MemoryTamper:
    return MemoryTamper()


class TestInMemoryEventStore(EventStoreContract):
    pass
