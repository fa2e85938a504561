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
EXTERNAL = "external"


def _lock(config: StackConfig) -> AbstractContextManager[None]:
    return file_lock(config.home / ".lock")


def ensure_up(
    config: StackConfig | None = None, *, services: bool = True, simulators: bool = True
) -> dict[str, Any]:
    """Start PostgreSQL, Kafka, the services and the simulators unless already running.

    ``simulators`` (the warehouse and carrier simulators) only with ``services``.

    With ``config.external`` (the containers stack) PostgreSQL and Kafka are someone
    else's: they must already answer, nothing local is started, and they are provisioned
    all the same (databases, roles, SCRAM users, ACLs, topics) through their admin logins.

    Idempotent. Returns::

        {"postgres": {"action": "started"|"already-running", "dsn": ...,
                      "created_databases": [...]},
         "kafka": {"action": ..., "bootstrap": ..., "downloaded_jars": bool,
                   "scram_users_added": [...]},
         "services": {...},
         "simulators": {"warehouse": {"action": ..., "log": ...}, "carrier": {...}}}

    Raises ``StackError`` with a readable message on failure.
    """
    config = config or StackConfig()
    with _lock(config):
        if config.external:
            _require_external(config)
            pg_started = kafka_started = False
        else:
            # Pre-flight: fail before starting anything if a port we need is taken by a
            # stranger.
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

        # The jars also run the admin tools (SCRAM users, ACLs) against an external broker.
        downloaded = kafka.ensure_libs(config)
        if not config.external:
            kafka_started = kafka.start(config)
            if not kafka_started and not kafka.wait_healthy(config):
                raise StackError(
                    "the OMS Kafka broker is running but not answering on "
                    f"{config.kafka_bootstrap}; see {config.kafka_logs} (or run `oms down` "
                    "and `oms up` again)"
                )
        # The local broker got its users when its storage was formatted or started
        # (kafka.start); one already running when a principal was added lacks it.
        scram_added = (
            kafka.ensure_scram_users(config)
            if config.external or kafka.lacks_scram_users(config)
            else []
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
            "scram_users_added": scram_added,
            "topics": len(topics),
            "acls": acls,
            "partitions": config.kafka_partitions,
        },
        "services": svc,
        "simulators": sims,
    }


def _require_external(config: StackConfig) -> None:
    """Fail unless the external PostgreSQL and Kafka (``config.external``) both answer:
    `oms up` cannot start them, so it must not go on and half-provision."""
    if not postgres.healthy(config):
        raise StackError(
            f"OMS_EXTERNAL is set but no PostgreSQL answers on {config.host}:{config.pg_port} "
            "with the admin password; `oms up` does not start external servers (the "
            "containers stack: `python -m oms_cli.containers run -- <command>`)"
        )
    if not kafka.healthy(config):
        raise StackError(
            f"OMS_EXTERNAL is set but no Kafka broker answers on {config.kafka_bootstrap}; "
            "`oms up` does not start external servers (the containers stack: "
            "`python -m oms_cli.containers run -- <command>`)"
        )


def ensure_down(config: StackConfig | None = None) -> dict[str, Any]:
    """Stop what `oms up` started (simulators, services, Kafka, PostgreSQL). Idempotent.

    Only our own processes are touched: the broker named by ``<home>/kafka/kafka.pid`` (whose
    command line must reference our server.properties) and the postmaster of ``<home>/pg/data``.
    External servers (``config.external``) are not ours: reported as ``external``, untouched.
    """
    config = config or StackConfig()
    with _lock(config):
        stopped_simulators = simulator_processes.stop_simulators(config)
        stopped_services = service_processes.stop_services(config)
        if config.external:
            kafka_state = pg_state = EXTERNAL
        else:
            kafka_state = "stopped" if kafka.stop(config) else "not-running"
            pg_state = "stopped" if postgres.stop(config) else "not-running"
    return {
        "simulators": stopped_simulators,
        "services": stopped_services,
        "kafka": kafka_state,
        "postgres": pg_state,
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
