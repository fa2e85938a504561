"""Wake the relay and projections when events commit, instead of polling the table.

The event store notifies channel ``oms_events`` after each commit that stored events
(``PostgresEventStore._appended``: a statement of its own after the commit, coalesced, so
that no writer holds PostgreSQL's notification lock through its commit). A
:class:`Wakeup` holds one autocommit connection per process that listens on the channel
and sets every :class:`Waiter`; a reader that found nothing waits on its waiter with a
fallback timeout, so a lost notification or notify connection only slows readers down to
that fallback poll, it never stops them. Events written by hand (not through the store)
are found by that poll.

A notification can arrive before its events are readable: readers take only rows below
the oldest running transaction (see ``_READ_ALL`` in ``eventstore/postgres.py``), so an
older transaction still open hides them. :class:`IdleWait` therefore retries shortly for
a while after a wakeup that found nothing, before going back to the long wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable
from typing import Any

import psycopg

from oms_platform.deadletters import REPLAY_CHANNEL
from oms_platform.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore
from oms_platform.health import LoopStatus, sleep_or_stop
from oms_platform.logging import get_logger

log = get_logger(__name__)

CHANNEL = NOTIFY_CHANNEL
CHANNELS = (CHANNEL, REPLAY_CHANNEL)

# An earlier version notified from a trigger inside every writing transaction; that
# serialised the commits of every writer on the server (see ``_appended``). ``install``
# removes such a trigger where one is left (dropping it only when it is there: DROP
# TRIGGER locks the events table).
_REMOVE_TRIGGER = """
SELECT pg_advisory_xact_lock(hashtext('oms.eventstore.schema'));
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgname = 'events_notify' AND tgrelid = 'events'::regclass) THEN
        DROP TRIGGER events_notify ON events;
    END IF;
END
$$;
DROP FUNCTION IF EXISTS oms_notify_events();
"""


async def install(store: PostgresEventStore) -> None:
    """Make the store's database ready for notifications (after ``create_schema``)."""
    async with await psycopg.AsyncConnection.connect(store.dsn) as conn, conn.transaction():
        await conn.execute(_REMOVE_TRIGGER)


class Waiter:
    """One reader's view of the wakeups: set by every notification, cleared by ``wait``."""

    def __init__(self) -> None:
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def wait(self, timeout_s: float, stop: asyncio.Event | None = None) -> bool:
        """True if a notification arrived since the last wait, False on timeout (or stop)."""
        if not self._woken.is_set():
            waits = [asyncio.ensure_future(self._woken.wait())]
            if stop is not None:
                waits.append(asyncio.ensure_future(stop.wait()))
            try:
                await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        woken = self._woken.is_set()
        self._woken.clear()
        return woken


class Wakeup:
    """The process's LISTEN connection, fanning each notification out to the waiters of
    its channel (``CHANNELS``).

    ``run(stop)`` listens until ``stop`` is set and reconnects with backoff after a lost
    connection (a database restart); on each (re)connection every waiter is woken once,
    since notifications sent while it was away are lost.
    """

    def __init__(
        self,
        dsn: str,
        *,
        status: LoopStatus | None = None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.status = status or LoopStatus("wakeup")
        self.max_backoff_s = max_backoff_s
        self.connected = False
        self.notifications = 0
        self.connections = 0
        self._waiters: dict[str, weakref.WeakSet[Waiter]] = {c: weakref.WeakSet() for c in CHANNELS}

    def waiter(self, channel: str = CHANNEL) -> Waiter:
        waiter = Waiter()
        self._waiters[channel].add(waiter)
        return waiter

    def wake_all(self, channel: str | None = None) -> None:
        """Wake the waiters of ``channel`` (all channels: None)."""
        for name, waiters in self._waiters.items():
            if channel is None or name == channel:
                for waiter in list(waiters):
                    waiter.wake()

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self._listen(stop)
                failures = 0
            except (psycopg.Error, OSError) as err:
                self.connected = False
                failures += 1
                self.status.failing(err, waiting_on="database (notify connection)")
                if failures == 1 or failures % 30 == 0:
                    log.warning("wakeup.disconnected", error=str(err)[:300], failures=failures)
                await sleep_or_stop(stop, min(self.max_backoff_s, 0.1 * 2 ** (failures - 1)))
        self.connected = False

    async def _listen(self, stop: asyncio.Event) -> None:
        # TCP keepalives notice a peer gone without a word, with no query on an idle link.
        conn = await psycopg.AsyncConnection.connect(
            self.dsn,
            autocommit=True,
            application_name="oms-wakeup",
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        try:
            for channel in CHANNELS:
                await conn.execute(f"LISTEN {channel}")
            self.connected = True
            self.connections += 1
            self.status.ok()
            self.wake_all()
            reader = asyncio.ensure_future(self._read(conn))
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait([reader, stopped], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                if not reader.done():
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
            if reader.done() and not reader.cancelled():
                reader.result()  # the connection's error, if it ended with one
        finally:
            self.connected = False
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async for note in conn.notifies():
            self.notifications += 1
            if note.channel in self._waiters:
                self.wake_all(note.channel)
        raise psycopg.OperationalError("notification stream ended")


class IdleWait:
    """How a reader that found nothing waits before reading again.

    Normally on its waiter, for up to ``poll_s`` (the fallback poll). After a wakeup that
    found nothing, the events may still be hidden behind an older open transaction: then
    it retries after ``retry_s``, doubling the pause each time, for up to
    ``retry_window_s`` before waiting long again (a fixed short pause kept every reader of
    a busy service polling all the time: most empty wakeups are events it already read).
    Call :meth:`found` whenever a read returned something.
    """

    def __init__(
        self,
        waiter: Waiter | None,
        poll_s: float,
        *,
        retry_s: float = 0.015,
        retry_window_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.waiter = waiter
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.retry_window_s = retry_window_s
        self.clock = clock
        self._retry_until: float | None = None
        self._pause_s = retry_s

    def found(self) -> None:
        self._retry_until = None

    async def wait(self, stop: asyncio.Event) -> None:
        if self._retry_until is not None and self.clock() < self._retry_until:
            pause, self._pause_s = self._pause_s, self._pause_s * 2
            await self._wait(stop, pause)
            return
        self._retry_until = None
        if await self._wait(stop, self.poll_s):
            self._retry_until = self.clock() + self.retry_window_s
            self._pause_s = self.retry_s

    async def _wait(self, stop: asyncio.Event, seconds: float) -> bool:
        return await wait_or_sleep(self.waiter, seconds, stop)


async def wait_or_sleep(waiter: Waiter | None, seconds: float, stop: asyncio.Event) -> bool:
    """Wait on ``waiter`` for up to ``seconds`` (sleep them without one), or until ``stop``;
    True if a notification arrived."""
    if waiter is None:
        await sleep_or_stop(stop, seconds)
        return False
    return await waiter.wait(seconds, stop)
