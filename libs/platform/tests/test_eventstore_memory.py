"""The in-memory fake against the event store contract suite."""

from typing import Any

import pytest

from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing.eventstore_contract import EventStoreContract


class MemoryTamper:
    async def payload(
        self, store: InMemoryEventStore, stream_id: str, version: int, payload: dict[str, Any]
    ) -> None:
        store.tamper_payload(stream_id, version, payload)

    async def delete(self, store: InMemoryEventStore, stream_id: str, version: int) -> None:
        store.tamper_delete(stream_id, version)


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def tamper() -> MemoryTamper:
    return MemoryTamper()


class TestInMemoryEventStore(EventStoreContract):
    pass
