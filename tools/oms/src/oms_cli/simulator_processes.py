"""The simulator processes `oms up` starts beside the services, `oms down` stops and `oms
status` lists: ``python -m oms_cli.simulators warehouse|carrier``, and the shop platforms'
sandbox ``python -m oms_connectors.sandbox`` (Shopify and Adobe Commerce as the connectors
service talks to them; see ``oms_cli.platforms``).

A simulator has no HTTP of its own: it is alive or it is not. Its pid file
(``<home>/services/<kind>-simulator.pid``) says `oms up` started it; a pid file whose
process is gone is a simulator that died (``oms status`` shows it, and is not healthy).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from oms_cli import tokens
from oms_cli.config import StackConfig, find_repo_root
from oms_cli.platforms import sandbox_shops
from oms_cli.proc import (
    StackError,
    pid_alive,
    pid_cmdline,
    read_pid,
    spawn_detached,
    stop_pid,
    tail,
)
from oms_platform.auth import Scope

SIMULATORS: tuple[str, ...] = ("warehouse", "carrier", "platforms")
SERVICES_NEEDED = {
    "warehouse": ("fulfilment", "inventory"),
    "carrier": ("shipping",),
    "platforms": ("connectors",),
}
MODULES = {
    "warehouse": "oms_cli.simulators",
    "carrier": "oms_cli.simulators",
    "platforms": "oms_connectors.sandbox",
}
STARTUP_CHECK_S = 1.0
STOP_TIMEOUT_S = 10.0

SimulatorInfo = dict[str, object]


SIMULATOR_TOKEN_TTL_S = 30 * 24 * 3600


def simulator_token(config: StackConfig, kind: str) -> str:
    """The simulator's bearer token: the warehouse's staff, or the carriers (30 days)."""
    if kind == "warehouse":
        return tokens.mint(
            config,
            (Scope.WAREHOUSE,),
            subject="staff:warehouse-simulator",
            ttl_s=SIMULATOR_TOKEN_TTL_S,
        )
    return tokens.mint(
        config, (Scope.CARRIER,), subject="service:carrier-simulator", ttl_s=SIMULATOR_TOKEN_TTL_S
    )


def simulator_env(
    config: StackConfig, extra: dict[str, str] | None = None, *, kind: str | None = None
) -> dict[str, str]:
    """The environment a simulator runs with: the caller's (so ``OMS_SIM_*`` tuning passes
    through), with the stack's service URLs, JSON logs and (given its ``kind``) its token."""
    env = dict(os.environ)
    env.update(
        {
            "OMS_SIM_FULFILMENT_URL": config.service_url("fulfilment"),
            "OMS_SIM_INVENTORY_URL": config.service_url("inventory"),
            "OMS_SIM_SHIPPING_URL": config.service_url("shipping"),
            "OMS_SIM_LOG_JSON": "true",
        }
    )
    if kind == "platforms":
        env["OMS_SANDBOX_HOST"] = config.host
        env["OMS_SANDBOX_PORT"] = str(config.platform_sandbox_port)
        env["OMS_SANDBOX_SHOPS"] = json.dumps(sandbox_shops(config))
    elif kind is not None:
        env["OMS_SIM_TOKEN"] = simulator_token(config, kind)
    env.update(extra or {})
    return env


def spawn_simulator(kind: str, env: dict[str, str], log_path: Path) -> int:
    """Start ``python -m <module> [<kind>]`` detached; returns its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cwd = find_repo_root() or Path.cwd()
    module = MODULES[kind]
    command = [sys.executable, "-m", module, *([kind] if module == "oms_cli.simulators" else [])]
    return spawn_detached(command, cwd, log_path, env=env)


def pid_file(config: StackConfig, kind: str) -> Path:
    return config.services_dir / f"{kind}-simulator.pid"


def log_file(config: StackConfig, kind: str) -> Path:
    return config.services_dir / f"{kind}-simulator.log"


def running_pid(config: StackConfig, kind: str) -> int | None:
    """The pid of our ``<kind>`` simulator, if it runs (checked by its command line)."""
    pid = read_pid(pid_file(config, kind))
    if pid is None or not pid_alive(pid):
        return None
    cmdline = pid_cmdline(pid)
    module = MODULES[kind]
    return (
        pid if module in cmdline and (kind in cmdline or module != "oms_cli.simulators") else None
    )


def wanted(services: list[str]) -> list[str]:
    """The simulators whose services exist in this checkout."""
    return [k for k in SIMULATORS if all(s in services for s in SERVICES_NEEDED[k])]


def ensure_simulators(config: StackConfig, services: list[str]) -> dict[str, SimulatorInfo]:
    """Start each simulator (of the ``services`` present) that is not running."""
    config.services_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, SimulatorInfo] = {}
    started: list[tuple[str, int]] = []
    for kind in wanted(services):
        log = log_file(config, kind)
        if running_pid(config, kind) is not None:
            result[kind] = {"action": "already-running", "log": str(log)}
            continue
        pid = spawn_simulator(kind, simulator_env(config, kind=kind), log)
        pid_file(config, kind).write_text(f"{pid}\n")
        started.append((kind, pid))
        result[kind] = {"action": "started", "log": str(log)}
    # No health endpoint: a simulator that survives its first second has read its settings.
    deadline = time.monotonic() + STARTUP_CHECK_S
    while started and time.monotonic() < deadline:
        time.sleep(0.1)
        for kind, pid in started:
            if not pid_alive(pid):
                raise StackError(
                    f"the {kind} simulator exited during start-up:\n{tail(log_file(config, kind))}"
                )
    return result


def stop_simulators(config: StackConfig) -> list[str]:
    """Stop the simulators `oms up` started; returns the kinds stopped."""
    stopped = []
    for kind in SIMULATORS:
        pid = running_pid(config, kind)
        if pid is not None:
            stop_pid(pid, STOP_TIMEOUT_S)
            stopped.append(kind)
        pid_file(config, kind).unlink(missing_ok=True)
    return stopped


def simulators_status(config: StackConfig) -> dict[str, SimulatorInfo]:
    """``{kind: {"alive", "pid", "log"}}`` for each simulator `oms up` started (a pid file)."""
    found: dict[str, SimulatorInfo] = {}
    for kind in SIMULATORS:
        if not pid_file(config, kind).exists():
            continue
        pid = running_pid(config, kind)
        found[kind] = {"alive": pid is not None, "pid": pid, "log": str(log_file(config, kind))}
    return found
