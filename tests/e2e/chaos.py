"""Faults on the stack `oms up` runs: the broker SIGKILLed, PostgreSQL stopped hard, restarts.

Restarts go through ``oms_cli.stack.ensure_up`` (what `oms up` does: start whatever is not
running), so the faults end with the stack as the CLI leaves it. Everything here blocks;
async tests run it with ``asyncio.to_thread`` so that orders keep flowing meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from oms_cli import kafka, postgres
from oms_cli import services as stack_services
from oms_cli.config import StackConfig
from oms_cli.proc import pid_alive
from oms_cli.stack import ensure_up

DEATH_TIMEOUT_S = 30.0


def _wait_dead(pid: int, what: str) -> None:
    deadline = time.monotonic() + DEATH_TIMEOUT_S
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (pid {pid}) still alive {DEATH_TIMEOUT_S:.0f}s later")
        time.sleep(0.05)


def kill_broker(stack: StackConfig) -> int:
    """SIGKILL the Kafka broker of ``stack``; returns its pid once it is gone."""
    pid = kafka.running_pid(stack)
    if pid is None:
        raise AssertionError(f"no Kafka broker of {stack.home} is running, nothing to kill")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_dead(pid, "the SIGKILLed Kafka broker")
    return pid


def stop_postgres_immediately(stack: StackConfig) -> None:
    """``pg_ctl stop -m immediate``: every backend dies, crash recovery on the next start."""
    if postgres.running_pid(stack) is None:
        raise AssertionError(f"PostgreSQL of {stack.home} is not running, nothing to stop")
    bindir = postgres.find_bindir(stack)
    if bindir is None:
        raise AssertionError("PostgreSQL server binaries not found")
    cmd = [str(bindir / "pg_ctl"), "-D", str(stack.pg_data), "-m", "immediate", "-w", "stop"]
    if os.geteuid() == 0:  # the cluster runs as the postgres OS user (see oms_cli.postgres)
        cmd = ["runuser", "-u", postgres.PG_OS_USER, "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=stack.pg_dir)
    if proc.returncode != 0:
        raise AssertionError(f"pg_ctl stop -m immediate failed: {proc.stdout}{proc.stderr}")


def restart_stack(stack: StackConfig) -> None:
    """What `oms up --no-services` does: start PostgreSQL and Kafka if they are not running."""
    ensure_up(stack, services=False)


def stack_is_healthy(stack: StackConfig) -> bool:
    return postgres.healthy(stack) and kafka.healthy(stack)


def restore_stack(stack: StackConfig) -> None:
    """Leave PostgreSQL and Kafka running and answering, whatever a test did to them."""
    restart_stack(stack)
    deadline = time.monotonic() + 60
    while not stack_is_healthy(stack):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the stack of {stack.home} is not healthy 60s after restarting it "
                f"(postgres: {postgres.healthy(stack)}, kafka: {kafka.healthy(stack)})"
            )
        time.sleep(0.5)


def stack_services_not_ready(stack: StackConfig, timeout_s: float = 60) -> dict[str, object]:
    """The services `oms up` runs on ``stack`` (if any) that are still not ready after
    ``timeout_s``, with their ``/ready`` bodies; empty when all recovered."""
    running = [s for s in stack_services.implemented() if stack_services.running_pid(stack, s)]
    deadline = time.monotonic() + timeout_s
    while True:
        answers = {s: stack_services.readiness(stack.service_url(s)) for s in running}
        behind = {s: body for s, body in answers.items() if not body.get("ready")}
        if not behind or time.monotonic() > deadline:
            return behind
        time.sleep(1.0)
