"""The OMS service processes that `oms up` starts, `oms down` stops and `oms status` checks.

A service is run as ``python -m oms_<name>`` once its package has a ``__main__``; each gets
its own database (``oms_<name>``, own role), its HTTP port from ``StackConfig`` and the
shared broker. Tests start the same processes with their own settings through
:func:`service_env` and :func:`spawn_service`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from oms_cli.config import SERVICES, StackConfig, find_repo_root
from oms_cli.kafka import connection
from oms_cli.platforms import shops_file
from oms_cli.proc import (
    StackError,
    pid_alive,
    pid_cmdline,
    read_pid,
    spawn_detached,
    stop_pid,
    tail,
)
from oms_cli.secrets import secret_env
from oms_platform.access import ADMIN_USER, kafka_user

ServiceInfo = dict[str, object]
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def implemented() -> list[str]:
    """The services that exist in this checkout (their package has a ``__main__``)."""
    return [
        s
        for s in SERVICES
        if importlib.util.find_spec(f"oms_{s}") is not None
        and importlib.util.find_spec(f"oms_{s}.__main__") is not None
    ]


def service_env(
    config: StackConfig,
    service: str,
    *,
    database_dsn: str | None = None,
    port: int | None = None,
    topic_prefix: str = "",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment a service process runs with (its settings use ``OMS_<NAME>_``)."""
    prefix = f"OMS_{service.upper()}_"
    env = dict(os.environ)
    env.update(
        {
            f"{prefix}DATABASE_DSN": database_dsn or config.service_dsn(service),
            f"{prefix}KAFKA_BOOTSTRAP": config.kafka_bootstrap,
            f"{prefix}HTTP_HOST": config.host,
            f"{prefix}HTTP_PORT": str(port or config.service_port(service)),
            f"{prefix}TOPIC_PREFIX": topic_prefix,
            f"{prefix}LOG_JSON": "true",
            f"{prefix}TOPIC_PARTITIONS": str(config.kafka_partitions),
        }
    )
    env.update(kafka_env(config, service, topic_prefix))
    env.update(calls_env(config, service))
    env.update(secret_env(config, service))
    if service == "connectors":
        env[f"{prefix}SHOPS_FILE"] = str(shops_file(config))
    env.update(extra or {})
    return env


def kafka_env(config: StackConfig, service: str, topic_prefix: str = "") -> dict[str, str]:
    """``OMS_<SERVICE>_KAFKA_USERNAME``/``_PASSWORD``: the service's own Kafka user, whose
    ACLs name the real topics; a test's service on prefixed topics runs as the admin."""
    kafka = connection(config, kafka_user(service) if not topic_prefix else ADMIN_USER)
    if kafka.username is None or kafka.password is None:
        return {}
    prefix = f"OMS_{service.upper()}_"
    return {
        f"{prefix}KAFKA_USERNAME": kafka.username,
        f"{prefix}KAFKA_PASSWORD": kafka.password.get_secret_value(),
    }


CALLS: dict[str, tuple[str, ...]] = {"operations": ("order", "returns", "payments")}
"""The services whose HTTP APIs a service calls (the customer-service console's actions)."""


def calls_env(config: StackConfig, service: str) -> dict[str, str]:
    """``OMS_<SERVICE>_<CALLED>_URL`` for each service ``service`` calls."""
    prefix = f"OMS_{service.upper()}_"
    return {
        f"{prefix}{called.upper()}_URL": config.service_url(called)
        for called in CALLS.get(service, ())
    }


def spawn_service(service: str, env: dict[str, str], log_path: Path) -> int:
    """Start ``python -m oms_<service>`` detached; returns its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cwd = find_repo_root() or Path.cwd()
    return spawn_detached([sys.executable, "-m", f"oms_{service}"], cwd, log_path, env=env)


def live(url: str, timeout_s: float = 2.0) -> bool:
    """The process answers (``/health``); start-up waits for this."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def readiness(url: str, timeout_s: float = 3.0) -> dict[str, object]:
    """The service's ``/ready`` body (``ready`` false on 503), or why it could not be read."""
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=timeout_s) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        try:
            body = json.loads(err.read())
        except ValueError:
            return {"ready": False, "reasons": [f"/ready answered {err.code}"]}
    except (urllib.error.URLError, OSError, ValueError) as err:
        return {"ready": False, "reasons": [f"unreachable: {err}"]}
    return body if isinstance(body, dict) else {"ready": False, "reasons": ["bad /ready body"]}


def wait_healthy(url: str, pid: int, log_path: Path, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if live(url):
            return
        if not pid_alive(pid):
            raise StackError(f"service at {url} exited during start-up:\n{tail(log_path)}")
        time.sleep(0.2)
    raise StackError(f"service at {url} not healthy after {timeout_s:.0f}s:\n{tail(log_path)}")


def _pid_file(config: StackConfig, service: str) -> Path:
    return config.services_dir / f"{service}.pid"


def _log_file(config: StackConfig, service: str) -> Path:
    return config.services_dir / f"{service}.log"


def running_pid(config: StackConfig, service: str) -> int | None:
    """The pid of our ``oms_<service>`` process, if it runs (checked by its command line)."""
    pid = read_pid(_pid_file(config, service))
    if pid is None or not pid_alive(pid):
        return None
    return pid if f"oms_{service}" in pid_cmdline(pid) else None


def ensure_services(config: StackConfig) -> dict[str, ServiceInfo]:
    """Start every implemented service that is not running; wait until each is healthy."""
    config.services_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, ServiceInfo] = {}
    started: list[tuple[str, int]] = []
    for service in implemented():
        url = config.service_url(service)
        if running_pid(config, service) is not None:
            result[service] = {"action": "already-running", "url": url}
            continue
        pid = spawn_service(service, service_env(config, service), _log_file(config, service))
        _pid_file(config, service).write_text(f"{pid}\n")
        started.append((service, pid))
        result[service] = {"action": "started", "url": url}
    for service, pid in started:
        wait_healthy(config.service_url(service), pid, _log_file(config, service))
    return result


def stop_services(config: StackConfig) -> list[str]:
    """Stop the service processes `oms up` started; returns the names stopped."""
    stopped = []
    for service in SERVICES:
        pid = running_pid(config, service)
        if pid is not None:
            stop_pid(pid, STOP_TIMEOUT_S)
            stopped.append(service)
        _pid_file(config, service).unlink(missing_ok=True)
    return stopped


def services_status(config: StackConfig) -> dict[str, ServiceInfo]:
    """``{service: {"url", "healthy", "ready": <the /ready body>}}`` for `oms status`.

    ``healthy`` is readiness: a service that answers but cannot make progress (a loop
    failing, the relay behind, events parked) is not healthy.
    """
    found: dict[str, ServiceInfo] = {}
    for service in implemented():
        url = config.service_url(service)
        ready = readiness(url)
        found[service] = {"url": url, "healthy": bool(ready.get("ready")), "ready": ready}
    return found
