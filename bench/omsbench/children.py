"""Child processes of the benchmark (load generator, observer) and their command pipes."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Callable
from typing import Any

# spawn, not fork: a fresh interpreter, no copy of the parent's event loop or sockets.
_CONTEXT = multiprocessing.get_context("spawn")


class ChildError(RuntimeError):
    pass


class Child:
    """A process running ``target(conn, *args)`` that answers ``(status, value)`` tuples."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        self.name = name
        self._conn, child_conn = _CONTEXT.Pipe()
        # daemon: never outlives the bench, whatever way the bench ends.
        self.process = _CONTEXT.Process(
            target=target, args=(child_conn, *args), name=name, daemon=True
        )
        self.process.start()
        child_conn.close()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    async def _receive(self, timeout_s: float) -> Any:
        if not await asyncio.to_thread(self._conn.poll, timeout_s):
            raise ChildError(f"{self.name} did not answer within {timeout_s:.0f}s")
        try:
            status, value = self._conn.recv()
        except EOFError:
            raise ChildError(f"{self.name} exited (code {self.process.exitcode})") from None
        if status == "error":
            raise ChildError(f"{self.name} failed: {value}")
        return value

    async def ready(self, timeout_s: float = 60) -> None:
        await self._receive(timeout_s)

    async def call(self, *msg: Any, timeout_s: float = 60) -> Any:
        self._conn.send(msg)
        return await self._receive(timeout_s)

    def stop(self, timeout_s: float = 10) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(("stop",))
            self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self._conn.close()
