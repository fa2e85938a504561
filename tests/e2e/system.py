"""The services (and the simulators) as real processes, on scratch databases and their own
topic prefix.

Used by the e2e tests: the same launcher `oms up` uses (``oms_cli.services``), with settings
that isolate one test module from the running demo and from other modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from oms_cli import tokens
from oms_cli.config import StackConfig, find_repo_root
from oms_cli.proc import pid_alive, spawn_detached, stop_pid
from oms_cli.services import CALLS, service_env, spawn_service, wait_healthy
from oms_cli.simulator_processes import simulator_token
from oms_events.codec import encode_envelope
from oms_events.envelope import Envelope
from oms_platform.auth import ALL_SCOPES, Scope
from oms_platform.relay import create_producer, message_headers
from oms_platform.testing.databases import scratch_database

SERVICES = ("inventory", "payments", "order")
"""What most e2e modules need: an order's way to confirmation."""
LIFECYCLE = (*SERVICES, "fulfilment", "shipping", "returns")
"""Every service of an order's life, from intake to delivery and back."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    url: str
    log: Path
    pid: int = 0

    def start(self) -> None:
        if self.url:
            self.pid = spawn_service(self.name, self.env, self.log)
            wait_healthy(self.url, self.pid, self.log, timeout_s=90)
            return
        # A simulator: no HTTP of its own; alive is all there is to check.
        cwd = find_repo_root() or Path.cwd()
        command = [sys.executable, "-m", "oms_cli.simulators", self.name.removesuffix("-sim")]
        self.pid = spawn_detached(command, cwd, self.log, env=self.env)
        if not pid_alive(self.pid):
            raise AssertionError(f"simulator {self.name} exited at once:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, whatever it was doing."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        while pid_alive(self.pid):
            pass

    def stop(self) -> None:
        if self.pid and pid_alive(self.pid):
            stop_pid(self.pid, 15)


@dataclass
class System:
    stack: StackConfig
    prefix: str
    replicas: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    """Every instance of each service, in start order; they share its database."""
    databases: dict[str, str] = field(default_factory=dict)
    simulators: dict[str, ServiceProcess] = field(default_factory=dict)
    """The warehouse and carrier simulators, when started (see :meth:`simulate`)."""

    @property
    def processes(self) -> dict[str, ServiceProcess]:
        """The first instance of each service."""
        return {name: procs[0] for name, procs in self.replicas.items()}

    def instances(self) -> list[ServiceProcess]:
        """Every process of every service."""
        return [proc for procs in self.replicas.values() for proc in procs]

    def url(self, service: str) -> str:
        return self.processes[service].url

    def client(
        self, service: str, *scopes: Scope, subject: str = "staff:e2e", timeout_s: float = 30
    ) -> httpx.AsyncClient:
        """A client of ``service`` with a token for ``scopes`` (default: every scope)."""
        headers = tokens.headers(self.stack, scopes or ALL_SCOPES, subject=subject)
        return httpx.AsyncClient(base_url=self.url(service), timeout=timeout_s, headers=headers)

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def publish(self, topic: str, env: Envelope | bytes, key: bytes) -> None:
        """Send to a (prefixed) topic as the platform or another service would."""
        producer = create_producer(self.stack.kafka)
        await producer.start()
        try:
            value = env if isinstance(env, bytes) else encode_envelope(env)
            headers = [] if isinstance(env, bytes) else message_headers(env)
            await producer.send_and_wait(self.topic(topic), value=value, key=key, headers=headers)
        finally:
            await producer.stop()

    def log_tails(self) -> str:
        procs = [*self.instances(), *self.simulators.values()]
        return "\n".join(f"--- {proc.log.stem} ---\n" + proc.log_tail() for proc in procs)

    def simulate(self, kind: str, logs: Path, **settings: str) -> ServiceProcess:
        """Start the ``warehouse`` or ``carrier`` simulator against this system's services.

        ``settings`` are its ``OMS_SIM_*`` variables without the prefix, e.g.
        ``PICK_DELAY_S="0.2"``; the services' URLs are filled in.
        """
        env = dict(os.environ)
        env.update(
            {
                "OMS_SIM_FULFILMENT_URL": self.url("fulfilment"),
                "OMS_SIM_INVENTORY_URL": self.url("inventory"),
                "OMS_SIM_SHIPPING_URL": self.url("shipping"),
                "OMS_SIM_POLL_S": "0.5",
                "OMS_SIM_SEED": "8",
                "OMS_SIM_TOKEN": simulator_token(self.stack, kind),
            }
        )
        env.update({f"OMS_SIM_{k.upper()}": v for k, v in settings.items()})
        name = f"{kind}-sim"
        proc = ServiceProcess(name, env, "", logs / f"{name}.log")
        proc.start()
        self.simulators[name] = proc
        return proc


@contextmanager
def running_system(
    stack: StackConfig,
    logs: Path,
    *,
    replicas: int = 1,
    services: tuple[str, ...] = SERVICES,
    **extra_env: str,
) -> Iterator[System]:
    """Start ``services`` as processes (inventory, payments and order unless told);
    stop them and any simulators, and drop their databases after.

    ``replicas`` > 1 starts that many processes of each service on the same database and
    topics, each on its own port and logging to ``<name>-<n>.log`` (``<name>.log`` if one).
    """
    system = System(stack, prefix=f"e2e{uuid.uuid4().hex[:8]}.")
    with ExitStack() as cleanup:
        for name in services:
            system.databases[name] = cleanup.enter_context(
                scratch_database(stack.admin_dsn, label=f"e2e_{name}")
            )
        try:
            for n in range(1, replicas + 1):
                for name in services:
                    port = free_port()
                    env = service_env(
                        stack,
                        name,
                        database_dsn=system.databases[name],
                        port=port,
                        topic_prefix=system.prefix,
                        extra={
                            "OMS_RETRY_INITIAL_BACKOFF_S": "0.05",
                            **calls_of(system, name),
                            **extra_env,
                        },
                    )
                    log = logs / (f"{name}.log" if replicas == 1 else f"{name}-{n}.log")
                    proc = ServiceProcess(name, env, f"http://127.0.0.1:{port}", log)
                    system.replicas.setdefault(name, []).append(proc)
                    proc.start()
            yield system
        finally:
            for proc in [*system.simulators.values(), *system.instances()]:
                proc.stop()


def calls_of(system: System, service: str) -> dict[str, str]:
    """The URLs of this system's services that ``service`` calls (the operations console
    calls order, returns and payments), never the stack's: empty (unavailable) for one
    not started before it."""
    prefix = f"OMS_{service.upper()}_"
    return {
        f"{prefix}{called.upper()}_URL": system.url(called) if called in system.replicas else ""
        for called in CALLS.get(service, ())
    }


async def wait_until(
    check: Callable[[], Awaitable[Any]], *, timeout_s: float = 120, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
