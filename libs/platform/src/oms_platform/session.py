"""The streams read in one unit of work and the events decided on them.

Every event-sourced command handler runs the same cycle: load the streams it decides on
(fold ``evolve`` over their events from an initial state, remembering each stream's
version), decide, then append the decided events, each stream checked against the
version it was loaded at. :class:`StreamSession` is that cycle, once for every service:

* :meth:`StreamSession.load` reads a stream once per session (a later load of it returns
  the session's state, including what was recorded since), optionally starting from a
  cached ``(version, state)`` so a hot stream is not replayed from its first event;
* :meth:`StreamSession.record` stages envelopes numbered on from the stream's version and
  moves the in-memory state on, so a later decision in the same unit of work sees them;
* :meth:`StreamSession.flush` appends everything staged in ONE atomic append: if any
  stream moved since it was read, the store raises ``ConcurrencyConflict``, nothing is
  stored and the caller runs the whole unit of work again on fresh state.

:func:`read_state` is the fold alone, for queries that read without writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_events.registry import envelope_for, registry
from oms_platform.eventstore.base import UnitOfWork
from oms_platform.eventstore.model import RecordedEvent

S = TypeVar("S")

Parse = Callable[[Envelope], Event]


class StreamReader(Protocol):
    """What loading needs: a unit of work, or the store itself for a query."""

    async def read_stream(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]: ...


class StreamNotLoaded(KeyError):
    """An event was recorded on (or a version asked of) a stream the session never loaded.

    Deciding on a stream without reading it would append at a guessed version and skip
    the state the decision should have seen, so it is a programming error, not a retry.
    """


async def read_state(
    reader: StreamReader,
    stream_id: str,
    initial: S,
    evolve: Callable[[S, Event], S],
    parse: Parse = registry.parse,
    *,
    known: tuple[int, S] | None = None,
) -> tuple[S, int]:
    """The state of ``stream_id`` and the version it stands at (0 for an empty stream).

    ``known`` is a ``(version, state)`` pair read earlier: only the events after that
    version are read and folded onto it, which is what keeps a hot stream cheap. A stale
    pair is safe for a writer, because appends are checked against the real version.
    """
    version, state = known if known is not None else (0, initial)
    for rec in await reader.read_stream(stream_id, version + 1):
        state = evolve(state, parse(rec.envelope))
        # The version is the stream's own numbering, not a count of what was read, so a
        # ``known`` start and a full read end on the same number.
        version = rec.envelope.stream_version
    return state, version


class StateCache(Generic[S]):
    """The last committed ``(version, state)`` of hot streams, bounded, least recent out.

    A session loading a stream with ``cache=`` starts from the cached pair and reads only
    the events after it; once its unit of work commits, the state it ended with is cached
    (never before: a unit of work that rolls back must not leave the cache ahead of the
    store, or the next decision would start from events that do not exist). A cache that
    is behind (another process wrote since) costs only the read of the newer events.
    States must be immutable: the cached object is shared with later sessions.

    ``trusted``: a hit is not read at all. For streams this process is the usual (not
    the only) writer of, such as an order's stream in the order service, whose events
    arrive on partitions keyed by the order. A stale entry is still safe: the decision
    taken on it appends at a version the stream has passed, the append conflicts, and
    because a load *takes* a trusted entry out (it is put back when the unit of work
    commits), the retry reads the stream.
    """

    def __init__(self, size: int = 10_000, *, trusted: bool = False) -> None:
        self.size = size
        self.trusted = trusted
        self._entries: dict[str, tuple[int, S]] = {}

    def get(self, stream_id: str) -> tuple[int, S] | None:
        found = self._entries.pop(stream_id, None)
        if found is not None:
            self._entries[stream_id] = found  # most recently used last
        return found

    def put(self, stream_id: str, version: int, state: S) -> None:
        known = self._entries.pop(stream_id, None)
        if known is not None and known[0] > version:
            version, state = known  # a later commit got here first
        self._entries[stream_id] = (version, state)
        while len(self._entries) > self.size:
            del self._entries[next(iter(self._entries))]

    def take(self, stream_id: str) -> tuple[int, S] | None:
        """The entry of ``stream_id``, removed from the cache."""
        return self._entries.pop(stream_id, None)

    def forget(self, stream_id: str) -> None:
        self._entries.pop(stream_id, None)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(slots=True)
class _Loaded:
    """A loaded stream: its state and version as they stand with the staged events."""

    state: Any
    version: int
    evolve: Callable[[Any, Event], Any]
    cache: StateCache[Any] | None = None


class StreamSession:
    """The streams read in one unit of work and the events decided on them.

    ``producer``, ``correlation_id``, ``causation_id`` and ``actor`` go into every envelope
    recorded; they are read at :meth:`record` time, so a handler that learns its
    correlation id only after loading may set ``correlation_id`` before recording.
    ``occurred_at`` is the one time stamped on every envelope (``None``: each envelope's
    own creation time), for services that take the time from an injectable clock.

    A session is for one attempt at one unit of work: after a failed :meth:`flush` the
    caller drops it and starts again with a new unit of work and a new session.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        producer: str,
        correlation_id: str,
        causation_id: str | None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> None:
        self.uow = uow
        self.producer = producer
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self.actor = actor
        self.occurred_at = occurred_at
        self._streams: dict[str, _Loaded] = {}
        self._staged: list[Envelope] = []

    async def load(
        self,
        stream_id: str,
        initial: S,
        evolve: Callable[[S, Event], S],
        parse: Parse = registry.parse,
        *,
        known: tuple[int, S] | None = None,
        cache: StateCache[S] | None = None,
    ) -> S:
        """The state of ``stream_id``, read from the unit of work the first time only.

        Later loads of the same stream return the session's state, which includes the
        events recorded since (``initial``, ``evolve``, ``known`` and ``cache`` are then
        unused): a decision must see what this unit of work already decided. ``known`` is
        a cached ``(version, state)``; only the events after that version are read.
        ``cache`` does the same from a :class:`StateCache`, and is given the stream's
        state once the unit of work commits.
        """
        loaded = self._streams.get(stream_id)
        if loaded is None:
            hit = None
            if known is None and cache is not None:
                if cache.trusted:
                    hit = cache.take(stream_id)
                else:
                    known = cache.get(stream_id)
            if hit is not None:
                version, state = hit
            else:
                state, version = await read_state(
                    self.uow, stream_id, initial, evolve, parse, known=known
                )
            loaded = self._streams[stream_id] = _Loaded(state, version, evolve, cache)
            if cache is not None:
                self.uow.on_commit(lambda: self._cache_committed(stream_id))
        found: S = loaded.state
        return found

    def create(
        self,
        stream_id: str,
        initial: S,
        evolve: Callable[[S, Event], S],
        cache: StateCache[S] | None = None,
    ) -> S:
        """Start a stream this unit of work creates under an id it just made (a fresh
        order id): nothing is read. Should the stream exist after all, the append finds
        it at a version past 0 and raises ``ConcurrencyConflict``; nothing is lost."""
        if stream_id in self._streams:
            raise ValueError(f"stream {stream_id} is loaded already")
        self._streams[stream_id] = _Loaded(initial, 0, evolve, cache)
        if cache is not None:
            self.uow.on_commit(lambda: self._cache_committed(stream_id))
        return initial

    def _cache_committed(self, stream_id: str) -> None:
        loaded = self._streams[stream_id]
        # Events recorded but never flushed did not commit: such a state is not cached.
        if loaded.cache is not None and not any(e.stream_id == stream_id for e in self._staged):
            loaded.cache.put(stream_id, loaded.version, loaded.state)

    def loaded(self, stream_id: str) -> bool:
        """Whether ``stream_id`` was loaded in this session (its state may be ahead of the
        store by what was recorded since)."""
        return stream_id in self._streams

    def version(self, stream_id: str) -> int:
        """The version ``stream_id`` stands at, counting the events staged on it."""
        return self._get(stream_id).version

    def record(self, stream_id: str, events: Iterable[Event]) -> None:
        """Stage ``events`` on a loaded stream, numbered on from its version.

        The stream's state moves on at once, so a later load or decision in this unit of
        work sees them. Raises :class:`StreamNotLoaded` for a stream never loaded.
        """
        loaded = self._get(stream_id)
        for event in events:
            # Build the envelope first: an event whose contract is not registered is
            # refused before the version and state move on.
            envelope = envelope_for(
                event,
                stream_id=stream_id,
                stream_version=loaded.version + 1,
                correlation_id=self.correlation_id,
                causation_id=self.causation_id,
                actor=self.actor,
                producer=self.producer,
                occurred_at=self.occurred_at,
            )
            loaded.state = loaded.evolve(loaded.state, event)
            loaded.version += 1
            self._staged.append(envelope)

    @property
    def staged(self) -> list[Envelope]:
        """The envelopes recorded and not yet flushed, in recording order (a copy)."""
        return list(self._staged)

    async def flush(self) -> list[Envelope]:
        """Append everything staged in one atomic append; a no-op when nothing was.

        Returns the envelopes appended. The states and versions stay as recorded, so the
        session can go on deciding and flush again in the same unit of work.
        """
        staged, self._staged = self._staged, []
        if staged:
            await self.uow.append(staged)
        return staged

    def _get(self, stream_id: str) -> _Loaded:
        loaded = self._streams.get(stream_id)
        if loaded is None:
            raise StreamNotLoaded(f"stream {stream_id} was not loaded in this session")
        return loaded
