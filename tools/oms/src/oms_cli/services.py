"""Hook for the OMS service processes managed by `oms up` / `oms down` / `oms status`.

No service processes exist yet, so everything here returns an empty mapping. Later issues
extend these three functions (same signatures) to start, stop and health-check the service
processes; ``oms status --json`` reports ``services_status`` verbatim under "services".
"""

from __future__ import annotations

from oms_cli.config import StackConfig

ServiceInfo = dict[str, object]


def ensure_services(config: StackConfig) -> dict[str, ServiceInfo]:
    """Start every service process that is not running yet (PostgreSQL and Kafka are up).

    Returns ``{service: {"action": "started" | "already-running", ...}}``.
    """
    del config
    return {}


def stop_services(config: StackConfig) -> list[str]:
    """Stop the service processes `oms up` started; returns the names stopped."""
    del config
    return []


def services_status(config: StackConfig) -> dict[str, ServiceInfo]:
    """``{service: {"healthy": bool, ...}}`` for `oms status`."""
    del config
    return {}
