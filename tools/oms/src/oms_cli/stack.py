"""`oms up` / `oms down` / `oms status` as importable functions (tests, Makefile, bench)."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from typing import Any

from oms_cli import kafka, postgres, simulator_processes
from oms_cli import services as service_processes
from oms_cli.config import StackConfig
from oms_cli.proc import StackError, file_lock
from oms_platform.kafka_topics import audit_topics, catalogue, ensure_topics

STARTED = "started"
ALREADY_RUNNING = "already-running"


def _lock(config: StackConfig) -> AbstractContextManager[None]:
    return file_lock(config.home / ".lock")


def ensure_up(
    config: StackConfig | None = None, *, services: bool = True, simulators: bool = True
) -> dict[str, Any]:
    """Start PostgreSQL, Kafka, the services and the simulators unless already running.

    ``simulators`` (the warehouse and carrier simulators) only with ``services``.

    Idempotent. Returns::

        {"postgres": {"action": "started"|"already-running", "dsn": ...,
                      "created_databases": [...]},
         "kafka": {"action": ..., "bootstrap": ..., "downloaded_jars": bool},
         "services": {...},
         "simulators": {"warehouse": {"action": ..., "log": ...}, "carrier": {...}}}

    Raises ``StackError`` with a readable message on failure.
    """
    config = config or StackConfig()
    with _lock(config):
        # Pre-flight: fail before starting anything if a port we need is taken by a stranger.
        if postgres.running_pid(config) is None:
            postgres.check_port_free(config)
        if kafka.running_pid(config) is None:
            kafka.check_ports_free(config)
        pg_started = postgres.start(config)
        if not postgres.healthy(config):
            raise StackError(
                f"PostgreSQL in {config.pg_data} is running but does not answer on "
                f"{config.host}:{config.pg_port} with the admin password; "
                f"see {config.pg_log} (or run `oms down` and `oms up` again)"
            )
        created = postgres.ensure_databases(config)

        downloaded = kafka.ensure_libs(config)
        kafka_started = kafka.start(config)
        if not kafka_started and not kafka.wait_healthy(config):
            raise StackError(
                f"the OMS Kafka broker is running but not answering on {config.kafka_bootstrap};"
                f" see {config.kafka_logs} (or run `oms down` and `oms up` again)"
            )
        # Before any service starts: each logs in as its own user, allowed only its ACLs.
        # (A broker still running from before SASL came in has neither: restart it.)
        acls = kafka.ensure_acls(config) if kafka.secured(config) else "broker without SASL"
        # Explicitly, with the partitions asked for: a topic the broker made on first
        # use would get its default count instead.
        topics = asyncio.run(
            ensure_topics(
                kafka.connection(config),
                # The services' users may not create topics: every one is made here.
                [*catalogue(), *audit_topics()],
                partitions=config.kafka_partitions,
            )
        )
        svc = service_processes.ensure_services(config) if services else {}
        sims = (
            simulator_processes.ensure_simulators(config, list(svc))
            if services and simulators
            else {}
        )
    return {
        "postgres": {
            "action": STARTED if pg_started else ALREADY_RUNNING,
            "dsn": config.admin_dsn,
            "created_databases": created,
        },
        "kafka": {
            "action": STARTED if kafka_started else ALREADY_RUNNING,
            "bootstrap": config.kafka_bootstrap,
            "downloaded_jars": downloaded,
            "topics": len(topics),
            "acls": acls,
            "partitions": config.kafka_partitions,
        },
        "services": svc,
        "simulators": sims,
    }


def ensure_down(config: StackConfig | None = None) -> dict[str, Any]:
    """Stop what `oms up` started (simulators, services, Kafka, PostgreSQL). Idempotent.

    Only our own processes are touched: the broker named by ``<home>/kafka/kafka.pid`` (whose
    command line must reference our server.properties) and the postmaster of ``<home>/pg/data``.
    """
    config = config or StackConfig()
    with _lock(config):
        stopped_simulators = simulator_processes.stop_simulators(config)
        stopped_services = service_processes.stop_services(config)
        kafka_stopped = kafka.stop(config)
        pg_stopped = postgres.stop(config)
    return {
        "simulators": stopped_simulators,
        "services": stopped_services,
        "kafka": "stopped" if kafka_stopped else "not-running",
        "postgres": "stopped" if pg_stopped else "not-running",
    }


def status(config: StackConfig | None = None) -> dict[str, Any]:
    """The `oms status --json` document::

    {"kafka": {"bootstrap": "127.0.0.1:29092", "healthy": true},
     "postgres": {"dsn": "postgresql://postgres:...@127.0.0.1:25432/postgres",
                  "healthy": true},
     "services": {"order": {"url", "healthy", "ready"}, ...},
     "simulators": {"warehouse": {"alive": true, "pid": 4242, "log": ...}, ...}}

    ``simulators`` lists those `oms up` started (none after ``--no-simulators``).
    """
    config = config or StackConfig()
    return {
        "kafka": {"bootstrap": config.kafka_bootstrap, "healthy": kafka.healthy(config)},
        "postgres": {"dsn": config.admin_dsn, "healthy": postgres.healthy(config)},
        "services": service_processes.services_status(config),
        "simulators": simulator_processes.simulators_status(config),
    }


def all_healthy(doc: dict[str, Any]) -> bool:
    return bool(
        doc["kafka"]["healthy"]
        and doc["postgres"]["healthy"]
        and all(bool(s.get("healthy")) for s in doc["services"].values())
        and all(bool(s.get("alive")) for s in doc.get("simulators", {}).values())
    )
