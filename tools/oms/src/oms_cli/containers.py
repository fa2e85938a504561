"""The test stack in Docker containers (testcontainers), for machines with a Docker engine.

``OMS_TEST_STACK=containers make test`` runs the same tests against PostgreSQL 17 and
Apache Kafka (``apache/kafka:<StackConfig.kafka_version>``) in throwaway containers instead
of the local stack `oms up` starts from Debian's binaries and Maven's jars. Unset (or
``local``), nothing here runs. The selection is :func:`select_stack`; the wrapper is::

    python -m oms_cli.containers run -- <command...>

which starts both containers, waits until they serve, runs `oms up` with ``OMS_EXTERNAL``
(provisioning databases, roles, SCRAM users, ACLs and topics through the admin logins,
then starting the services), runs the command with the containers' ``OMS_*`` environment,
runs `oms down` (services only) and removes the containers, keeping the command's exit code.

The broker has the local broker's security, from the same code: its ``server.properties``
is ``oms_cli.kafka.server_properties`` (SASL_PLAINTEXT with SCRAM-SHA-512 on the client
listener, StandardAuthorizer, ``admin`` the super user, nothing allowed without an ACL),
only listening on the container's every interface. The image's own start script cannot
give a KRaft cluster SCRAM credentials (its storage format has no ``--add-scram``), so the
container runs a script of ours: format with the admin's credential, then start. Every
other user gets its credential from `oms up` over the Admin API, as the admin.

Both servers are published on 127.0.0.1 only. The broker's port is the same number inside
and outside the container: it advertises ``127.0.0.1:<port>``, which then also reaches
itself from inside (transaction markers, its own clients). State (secrets, service logs)
lives in ``<OMS_HOME>/containers``, apart from the local stack's, and the services get
ports of their own, so a local stack may keep running meanwhile.
"""

from __future__ import annotations

import argparse
import base64
import os
import shlex
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from oms_cli import kafka, postgres
from oms_cli.config import SERVICES, StackConfig
from oms_cli.proc import StackError
from oms_cli.secrets import kafka_password
from oms_platform.access import ADMIN_USER
from oms_platform.kafka_client import SASL_MECHANISM
from oms_platform.logging import get_logger

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

STACK_VARIABLE = "OMS_TEST_STACK"
Stack = Literal["local", "containers"]
POSTGRES_IMAGE = "postgres:17"
KAFKA_IMAGE_REPOSITORY = "apache/kafka"
LOOPBACK = "127.0.0.1"
PROBE_TIMEOUT_S = 3.0
READY_TIMEOUT_S = 180.0
SERVICES_PORT_SEARCH_FROM = 48080
"""Where the containers stack looks for its services' ports (the local stack's are 58081+)."""

# Inside the Kafka container (apache/kafka: Kafka in /opt/kafka, run as `appuser`, who may
# write /var/lib/kafka/data). /tmp holds what we copy in before the container starts.
KAFKA_BIN = "/opt/kafka/bin"
KAFKA_DATA = "/var/lib/kafka/data"
KAFKA_PROPERTIES = "/tmp/oms-server.properties"
KAFKA_START_SCRIPT = "/tmp/oms-start.sh"
KAFKA_STARTED = "Kafka Server started"
KAFKA_HEAP = "-Xmx512m -Xms512m"

log = get_logger(__name__)


class StackSelectionError(StackError):
    """``OMS_TEST_STACK`` asks for something this machine cannot give: never silently the
    other stack, which would report tests as run against containers that never ran."""


# --------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class EngineProbe:
    """Whether a Docker engine answered, and where it was looked for (for the error)."""

    reachable: bool
    detail: str


Probe = Callable[[], EngineProbe]


def select_stack(env: Mapping[str, str], probe: Probe) -> Stack:
    """``local`` or ``containers`` from ``OMS_TEST_STACK`` in ``env``.

    Unset, empty or ``local``: the local stack, without asking Docker anything.
    ``containers``: only when ``probe`` finds an engine; otherwise a clear error. Any
    other value is an error too (a typo must not quietly test the local stack).
    """
    value = env.get(STACK_VARIABLE, "").strip()
    if value in ("", "local"):
        return "local"
    if value != "containers":
        raise StackSelectionError(
            f"{STACK_VARIABLE}={value!r} is not a test stack: use `local` (the default: the "
            "stack `oms up` runs on this machine) or `containers` (PostgreSQL and Kafka in "
            "Docker containers, needs a Docker engine)"
        )
    found = probe()
    if not found.reachable:
        raise StackSelectionError(
            f"{STACK_VARIABLE}=containers but no Docker engine is reachable "
            f"({found.detail}); start Docker (or point DOCKER_HOST at an engine), or unset "
            f"{STACK_VARIABLE} to test against the local stack"
        )
    return "containers"


def probe_docker(timeout_s: float = PROBE_TIMEOUT_S) -> EngineProbe:
    """Ask the Docker engine testcontainers would use (``DOCKER_HOST``, its
    ``tc.host`` setting, the docker context, else the default socket) for a real ping
    within ``timeout_s``: a client binary or a stale socket file is not an engine."""
    try:
        from docker.errors import DockerException  # type: ignore[import-untyped]
        from testcontainers.core.docker_client import DockerClient, get_docker_host
    except ImportError as exc:
        return EngineProbe(False, f"the docker SDK is missing ({exc}); `make deps` installs it")
    where = get_docker_host() or "the default socket unix:///var/run/docker.sock"
    try:
        client = DockerClient(timeout=timeout_s)
        try:
            answered = bool(client.client.ping())
        finally:
            client.client.close()
    except (DockerException, OSError) as exc:
        return EngineProbe(False, f"{where}: {exc}")
    if not answered:
        return EngineProbe(False, f"{where}: the ping got no OK")
    return EngineProbe(True, where)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Endpoints:
    """Where the containers serve (host ports) and the state dir of the run."""

    home: Path
    pg_port: int
    kafka_port: int
    admin_password: str
    services_base_port: int
    host: str = LOOPBACK
    postgres_container: str = ""
    kafka_container: str = ""
    """The containers' ids, for tests that inject faults (``docker kill``/``start``)."""


def stack_environment(endpoints: Endpoints) -> dict[str, str]:
    """The ``OMS_*`` variables that point ``StackConfig`` (in `oms up`, the services and
    the tests alike) at the containers."""
    return {
        "OMS_EXTERNAL": "true",
        "OMS_HOME": str(endpoints.home),
        "OMS_HOST": endpoints.host,
        "OMS_PG_PORT": str(endpoints.pg_port),
        "OMS_PG_ADMIN_PASSWORD": endpoints.admin_password,
        "OMS_KAFKA_PORT": str(endpoints.kafka_port),
        "OMS_SERVICES_BASE_PORT": str(endpoints.services_base_port),
        STACK_VARIABLE: "containers",
        "OMS_TEST_POSTGRES_CONTAINER": endpoints.postgres_container,
        "OMS_TEST_KAFKA_CONTAINER": endpoints.kafka_container,
    }


def containers_home(base: StackConfig | None = None) -> Path:
    """``<OMS_HOME>/containers``: the run's secrets and service logs, never the local
    stack's (whose broker was formatted with other passwords)."""
    return (base or StackConfig()).home / "containers"


def kafka_image(config: StackConfig) -> str:
    return f"{KAFKA_IMAGE_REPOSITORY}:{config.kafka_version}"


def kafka_container_properties(config: StackConfig) -> str:
    """The broker's ``server.properties`` in the container: the local broker's, listening
    on every interface of the container and keeping its logs in the image's data dir."""
    return kafka.server_properties(config, bind_host="0.0.0.0", log_dirs=KAFKA_DATA)


def new_cluster_id() -> str:
    """A KRaft cluster id (16 random bytes, URL-safe base64 without padding); never one
    starting with ``-``, which the storage tool would take for an option (Kafka's own
    ``random-uuid`` skips those too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_start_script(config: StackConfig, cluster_id: str) -> str:
    """The container's command: format the storage with the admin's SCRAM credential (the
    one login that can add the others), then run the broker in the foreground."""
    admin = f"{SASL_MECHANISM}=[name={ADMIN_USER},password={kafka_password(config, ADMIN_USER)}]"
    fmt = [
        f"{KAFKA_BIN}/kafka-storage.sh",
        "format",
        "--standalone",
        "-t",
        cluster_id,
        "-c",
        KAFKA_PROPERTIES,
        "--add-scram",
        admin,
    ]
    start = [f"{KAFKA_BIN}/kafka-server-start.sh", KAFKA_PROPERTIES]
    return f"set -eu\n{shlex.join(fmt)}\nexec {shlex.join(start)}\n"


def postgres_command() -> list[str]:
    """The PostgreSQL container's server command: the local cluster's settings."""
    flags = (arg for k, v in postgres.SERVER_SETTINGS.items() for arg in ("-c", f"{k}={v}"))
    return ["postgres", *flags]


def postgres_environment(config: StackConfig) -> dict[str, str]:
    """The image's first-start settings: the admin is ``postgres`` with the stack's admin
    password (the image's default host authentication is SCRAM, as the local cluster's)."""
    return {
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": config.pg_admin_password.get_secret_value(),
        "POSTGRES_DB": "postgres",
    }


# --------------------------------------------------------------------------- ports


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now (the kernel's pick), for the broker's fixed port."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_services_base(host: str = LOOPBACK, start: int = SERVICES_PORT_SEARCH_FROM) -> int:
    """A ``services_base_port`` whose service ports (base + 1 .. base + len(SERVICES))
    are all free, so the run's services never meet a running local stack's."""
    for base in range(start, 65535 - len(SERVICES), 100):
        if all(_free(host, base + 1 + i) for i in range(len(SERVICES))):
            return base
    raise StackError(f"no {len(SERVICES)} free consecutive ports for the services above {start}")


# --------------------------------------------------------------------------- containers


def _publish(container: DockerContainer, port: int, host_port: int | None) -> None:
    """Publish ``port`` on 127.0.0.1 only (``host_port`` None: Docker picks one).

    testcontainers' ``with_bind_ports`` takes no host address and Docker would publish on
    every interface; docker-py takes ``(address, port)``, which testcontainers passes on.
    """
    container.ports[f"{port}/tcp"] = cast(Any, (LOOPBACK, host_port))


def _wait_until(ready: Callable[[], bool], container: DockerContainer, what: str) -> None:
    """Poll ``ready`` until it holds; fail at once if the container exits, or after
    ``READY_TIMEOUT_S`` with its logs."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status in ("exited", "dead") or time.monotonic() > deadline:
            out, err = container.get_logs()
            raise StackError(
                f"{what} container ({wrapped.status}) is not serving\n"
                f"{(out + err).decode(errors='replace')[-3000:]}"
            )
        time.sleep(0.5)


def _postgres_container(config: StackConfig) -> DockerContainer:
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(POSTGRES_IMAGE, env=postgres_environment(config))
    container.with_command(postgres_command())
    container.with_kwargs(shm_size="256m")  # Docker's 64 MB /dev/shm is small for 400 backends
    _publish(container, 5432, None)
    return container


def _kafka_container(config: StackConfig) -> DockerContainer:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = DockerContainer(kafka_image(config), env={"KAFKA_HEAP_OPTS": KAFKA_HEAP})
    container.with_copy_into_container(
        kafka_container_properties(config).encode(), KAFKA_PROPERTIES
    )
    container.with_copy_into_container(
        kafka_start_script(config, new_cluster_id()).encode(), KAFKA_START_SCRIPT
    )
    container.with_command(["sh", KAFKA_START_SCRIPT])
    _publish(container, config.kafka_port, config.kafka_port)
    container.waiting_for(
        LogMessageWaitStrategy(KAFKA_STARTED).with_startup_timeout(int(READY_TIMEOUT_S))
    )
    return container


def _start(container: DockerContainer, what: str) -> None:
    """Start ``container`` (pulling its image if needed) and run its wait strategy; the
    wait's own errors (exited, timed out) become a ``StackError`` with the logs."""
    try:
        container.start()
    except (RuntimeError, TimeoutError) as exc:
        raise StackError(f"the {what} container did not start: {exc}") from exc


@contextmanager
def running_containers(home: Path) -> Iterator[Endpoints]:
    """PostgreSQL and Kafka in containers for the duration of the ``with`` block, removed
    after it (and by testcontainers' reaper, Ryuk, should this process die first)."""
    home.mkdir(parents=True, exist_ok=True)
    config = StackConfig(
        home=home,
        host=LOOPBACK,
        kafka_port=free_port(),
        external=True,
        services_base_port=free_services_base(),
    )
    with ExitStack() as stack:
        log.info("starting containers", postgres=POSTGRES_IMAGE, kafka=kafka_image(config))
        pg = _postgres_container(config)
        stack.callback(pg.stop)  # registered first: a failed start is removed too
        _start(pg, POSTGRES_IMAGE)
        pg_port = int(pg.get_exposed_port(5432))
        pg_config = config.model_copy(update={"pg_port": pg_port})
        # Over TCP: the image's first-start server (running its init scripts) takes none.
        _wait_until(lambda: postgres.healthy(pg_config), pg, POSTGRES_IMAGE)

        broker = _kafka_container(config)
        stack.callback(broker.stop)
        _start(broker, kafka_image(config))
        _wait_until(lambda: kafka.healthy(config), broker, kafka_image(config))
        log.info("containers serving", pg_port=pg_port, kafka_port=config.kafka_port)
        yield Endpoints(
            home=home,
            pg_port=pg_port,
            kafka_port=config.kafka_port,
            admin_password=config.pg_admin_password.get_secret_value(),
            services_base_port=config.services_base_port,
            postgres_container=pg.get_container_id(),
            kafka_container=broker.get_container_id(),
        )
        log.info("removing containers")


def run(command: list[str], env: Mapping[str, str] | None = None) -> int:
    """Run ``command`` against the containers stack; its exit code (`oms up`'s if that
    fails). The containers are removed and the services stopped whatever happens."""
    base_env = dict(os.environ if env is None else env)
    if select_stack(base_env, probe_docker) != "containers":
        raise StackSelectionError(
            f"`oms_cli.containers run` is for {STACK_VARIABLE}=containers; without it, "
            "run the command against the local stack (`oms up`)"
        )
    if not command:
        raise StackError("no command given: python -m oms_cli.containers run -- <command...>")
    oms = [sys.executable, "-m", "oms_cli"]
    with running_containers(containers_home()) as endpoints:
        child_env = {**base_env, **stack_environment(endpoints)}
        try:
            up = subprocess.run([*oms, "up"], env=child_env)
            if up.returncode != 0:
                return up.returncode
            return subprocess.run(command, env=child_env).returncode
        finally:
            subprocess.run([*oms, "down"], env=child_env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oms_cli.containers",
        description="Run a command against PostgreSQL and Kafka in Docker containers "
        f"({STACK_VARIABLE}=containers).",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("select", help=f"print the stack {STACK_VARIABLE} selects (local|containers)")
    run_parser = sub.add_parser("run", help="start the containers, run `oms up` and the command")
    run_parser.add_argument("command", nargs=argparse.REMAINDER, help="-- <command...>")
    args = parser.parse_args(argv)
    try:
        if args.action == "select":
            print(select_stack(os.environ, probe_docker))
            return 0
        command = list(args.command)
        return run(command[1:] if command[:1] == ["--"] else command)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
