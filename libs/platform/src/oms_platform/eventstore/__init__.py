"""Event store: append with optimistic concurrency, read in commit order, verify chains."""

from oms_platform.eventstore.base import DuplicateDelivery, EventStore, UnitOfWork
from oms_platform.eventstore.memory import InMemoryEventStore
from oms_platform.eventstore.model import (
    START,
    ConcurrencyConflict,
    EventStoreError,
    Finding,
    InvalidAppend,
    Position,
    RecordedEvent,
)
from oms_platform.eventstore.postgres import PostgresEventStore

__all__ = [
    "START",
    "ConcurrencyConflict",
    "DuplicateDelivery",
    "EventStore",
    "EventStoreError",
    "Finding",
    "InMemoryEventStore",
    "InvalidAppend",
    "Position",
    "PostgresEventStore",
    "RecordedEvent",
    "UnitOfWork",
]
