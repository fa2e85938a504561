"""Records the event store hands back, checkpoints and errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from oms_events.envelope import Envelope


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """A place in the store's commit order: (writing transaction id, global position).

    Readers checkpoint a Position and ask for everything after it. Ordering by the
    transaction id first is what lets a reader never skip an event committed late by a
    slow writer (see ``PostgresEventStore.read_all``).
    """

    tx_id: int = 0
    position: int = 0


START = Position(0, 0)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An envelope as stored: where it sits in commit order and its chain hash."""

    envelope: Envelope
    position: int
    tx_id: int
    recorded_at: datetime
    hash: bytes = field(repr=False)

    @property
    def commit_position(self) -> Position:
        return Position(self.tx_id, self.position)


class EventStoreError(Exception):
    """Base class of the store's own errors."""


class ConcurrencyConflict(EventStoreError):
    """A stream was not at the version the writer expected; nothing was appended.

    The writer should reload the stream, decide again and retry.
    """

    def __init__(self, stream_id: str, expected: int, actual: int | None, detail: str = "") -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        msg = f"stream {stream_id!r} expected at version {expected}, found {actual}"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class ReadOnlyStore(EventStoreError):
    """The store was opened without the chain key: it reads and verifies, never appends."""


class InvalidAppend(EventStoreError):
    """The batch itself is malformed (gaps in versions, duplicate event ids, empty)."""


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """The events of one stream in an append, and the version the stream must be at."""

    stream_id: str
    expected_version: int
    events: tuple[Envelope, ...]


def group_by_stream(events: Iterable[Envelope]) -> list[StreamBatch]:
    """Split an append into per-stream batches and check each is contiguous.

    Each envelope carries its own ``stream_version``; the expected version of a stream is
    the first of its versions minus one. Streams are returned sorted by id so that every
    writer locks them in the same order (no deadlocks between multi-stream appends).
    """
    by_stream: dict[str, list[Envelope]] = {}
    seen_ids = set()
    for env in events:
        if env.event_id in seen_ids:
            raise InvalidAppend(f"event id {env.event_id} appears twice in one append")
        seen_ids.add(env.event_id)
        by_stream.setdefault(env.stream_id, []).append(env)
    if not by_stream:
        raise InvalidAppend("nothing to append")
    batches = []
    for stream_id in sorted(by_stream):
        envs = by_stream[stream_id]
        first = envs[0].stream_version
        for offset, env in enumerate(envs):
            if env.stream_version != first + offset:
                raise InvalidAppend(
                    f"stream {stream_id!r}: versions must be contiguous and ascending, "
                    f"got {[e.stream_version for e in envs]}"
                )
        batches.append(StreamBatch(stream_id, first - 1, tuple(envs)))
    return batches


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem the verifier found in a stream."""

    stream_id: str
    stream_version: int | None
    kind: str
    """``altered`` | ``missing`` | ``head_mismatch``, and against the published anchors
    (``oms_platform.anchors``): ``rewritten`` | ``deleted`` | ``truncated`` |
    ``bad_anchor_signature``."""
    detail: str


def describe(findings: Sequence[Finding]) -> str:
    return "\n".join(f"{f.stream_id}@{f.stream_version}: {f.kind}: {f.detail}" for f in findings)
