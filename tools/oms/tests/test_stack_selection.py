"""Which stack `make test` runs against (``OMS_TEST_STACK``), what the containers stack
hands the tests and the broker, and that `oms up` on external servers starts nothing local.

No Docker engine is needed: the probe is a fake, or the real one pointed at a socket
where no engine can be. The containers themselves were not run here (this machine has no
Docker engine); what they are given is compared with the local stack's own settings.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

from oms_cli import containers, kafka, postgres, simulator_processes, stack
from oms_cli import services as service_processes
from oms_cli.config import SERVICES, StackConfig
from oms_cli.containers import (
    STACK_VARIABLE,
    Endpoints,
    EngineProbe,
    StackSelectionError,
    select_stack,
)
from oms_cli.proc import StackError
from oms_cli.secrets import kafka_password
from oms_platform.access import ADMIN_USER, users

REACHABLE = EngineProbe(True, "unix:///var/run/docker.sock")
UNREACHABLE = EngineProbe(False, "unix:///nowhere/docker.sock: connection refused")
SCRAM_LINE = (
    "SCRAM credential configs for user-principal '{user}' are SCRAM-SHA-512=iterations=4096"
)
"""A line of ``kafka-configs --describe --entity-type users`` (as Kafka 4.1 prints it)."""


def never_probed() -> NoReturn:
    raise AssertionError("the Docker engine was probed although no containers were asked for")


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(home=tmp_path / "oms", kafka_port=41234, external=True)


# --------------------------------------------------------------------------- selection


@pytest.mark.parametrize("env", [{}, {STACK_VARIABLE: ""}, {STACK_VARIABLE: "local"}])
def test_unset_or_local_selects_the_local_stack_without_asking_docker(
    env: dict[str, str],
) -> None:
    assert select_stack(env, never_probed) == "local"


def test_containers_with_an_engine_selects_the_containers() -> None:
    probed: list[bool] = []

    def probe() -> EngineProbe:
        probed.append(True)
        return REACHABLE

    assert select_stack({STACK_VARIABLE: "containers"}, probe) == "containers"
    assert probed == [True]


def test_containers_without_an_engine_is_an_error_never_the_local_stack() -> None:
    with pytest.raises(StackSelectionError) as caught:
        select_stack({STACK_VARIABLE: "containers"}, lambda: UNREACHABLE)
    message = str(caught.value)
    assert "OMS_TEST_STACK=containers but no Docker engine is reachable" in message
    assert UNREACHABLE.detail in message  # where it looked and what went wrong
    assert "unset OMS_TEST_STACK" in message


@pytest.mark.parametrize("value", ["docker", "Containers", "testcontainers", "local,containers"])
def test_any_other_value_is_an_error(value: str) -> None:
    with pytest.raises(StackSelectionError, match="is not a test stack") as caught:
        select_stack({STACK_VARIABLE: value}, never_probed)
    assert repr(value) in str(caught.value)


# --------------------------------------------------------------------------- the real probe


def test_the_real_probe_finds_no_engine_where_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docker SDK really pings; at a socket path with nothing behind it that fails,
    and OMS_TEST_STACK=containers then stops with the clear error."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    found = containers.probe_docker()
    assert found.reachable is False
    assert f"{tmp_path}/docker.sock" in found.detail
    with pytest.raises(
        StackSelectionError, match="OMS_TEST_STACK=containers but no Docker engine is reachable"
    ):
        select_stack({STACK_VARIABLE: "containers"}, containers.probe_docker)


def test_the_real_probe_is_not_fooled_by_a_socket_that_is_no_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket file that takes connections but answers no Docker API (a stale or foreign
    socket) is not an engine: the probe needs the ping's answer."""
    path = tmp_path / "not-docker.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        found = containers.probe_docker(timeout_s=1.0)
    assert found.reachable is False


def test_the_wrapper_fails_with_the_message_and_runs_nothing_without_an_engine(
    tmp_path: Path,
) -> None:
    """What `OMS_TEST_STACK=containers make test` runs, on a machine without an engine."""
    marker = tmp_path / "ran"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        STACK_VARIABLE: "containers",
        "DOCKER_HOST": f"unix://{tmp_path}/docker.sock",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "oms_cli.containers", "run", "--", "touch", str(marker)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "OMS_TEST_STACK=containers but no Docker engine is reachable" in proc.stderr
    assert not marker.exists()


def test_select_prints_the_local_stack_when_unset(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "oms_cli.containers", "select"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (0, "local\n"), proc.stderr


# --------------------------------------------------------------------------- environment


def test_the_environment_points_stack_config_at_the_containers(tmp_path: Path) -> None:
    endpoints = Endpoints(
        home=tmp_path / "containers",
        pg_port=32768,
        kafka_port=41234,
        admin_password="s3cret pw",
        services_base_port=48080,
        postgres_container="c0ffee",
        kafka_container="beef",
    )
    env = containers.stack_environment(endpoints)
    assert env == {
        "OMS_EXTERNAL": "true",
        "OMS_HOME": str(tmp_path / "containers"),
        "OMS_HOST": "127.0.0.1",
        "OMS_PG_PORT": "32768",
        "OMS_PG_ADMIN_PASSWORD": "s3cret pw",
        "OMS_KAFKA_PORT": "41234",
        "OMS_SERVICES_BASE_PORT": "48080",
        "OMS_TEST_STACK": "containers",
        "OMS_TEST_POSTGRES_CONTAINER": "c0ffee",
        "OMS_TEST_KAFKA_CONTAINER": "beef",
    }


def test_stack_config_read_from_that_environment_is_the_containers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = Endpoints(
        home=tmp_path / "containers",
        pg_port=32768,
        kafka_port=41234,
        admin_password="s3cret pw",
        services_base_port=48080,
    )
    for name, value in containers.stack_environment(endpoints).items():
        monkeypatch.setenv(name, value)
    seen = StackConfig()
    assert seen.external is True
    assert seen.home == tmp_path / "containers"
    assert seen.kafka_bootstrap == "127.0.0.1:41234"
    assert seen.admin_dsn == "postgresql://postgres:s3cret%20pw@127.0.0.1:32768/postgres"
    assert seen.service_url("order") == "http://127.0.0.1:48081"
    assert kafka.secured(seen)  # no local server.properties to read: SASL all the same


def test_the_services_get_ports_no_one_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    try:
        base = containers.free_services_base(start=busy - 1)  # base + 1 is the busy port
    finally:
        taken.close()
    assert base != busy - 1
    assert not set(range(base + 1, base + 1 + len(SERVICES))) & {busy}


# --------------------------------------------------------------------------- broker


def test_the_broker_in_the_container_has_the_local_brokers_security(
    config: StackConfig,
) -> None:
    """The same server.properties as the local broker but for where it listens and keeps
    its logs, so the two cannot drift apart."""
    local = properties(kafka.server_properties(config))
    container = properties(containers.kafka_container_properties(config))
    where = {"listeners", "log.dirs"}
    assert {k: v for k, v in container.items() if k not in where} == {
        k: v for k, v in local.items() if k not in where
    }
    assert container["listeners"] == local["listeners"].replace(
        "SASL_PLAINTEXT://127.0.0.1:41234", "SASL_PLAINTEXT://0.0.0.0:41234"
    )
    assert container["listeners"] != local["listeners"]
    assert container["log.dirs"] == containers.KAFKA_DATA
    # The security that the tests of tests/integration/test_kafka_acl.py rest on.
    assert container["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:41234"
    assert container["listener.security.protocol.map"].startswith("SASL_PLAINTEXT:SASL_PLAINTEXT")
    assert container["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert container["authorizer.class.name"] == kafka.AUTHORIZER
    assert container["super.users"] == f"User:{ADMIN_USER}"
    assert container["allow.everyone.if.no.acl.found"] == "false"
    assert "PLAIN" not in container["sasl.enabled.mechanisms"].split(",")


def test_the_container_formats_with_the_admins_scram_credential_then_starts(
    config: StackConfig,
) -> None:
    script = containers.kafka_start_script(config, "AAAAAAAAAAAAAAAAAAAAAA")
    lines = script.splitlines()
    assert lines[0] == "set -eu"
    fmt, start = shlex.split(lines[1]), shlex.split(lines[2])
    password = kafka_password(config, ADMIN_USER)
    assert fmt == [
        "/opt/kafka/bin/kafka-storage.sh",
        "format",
        "--standalone",
        "-t",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "-c",
        containers.KAFKA_PROPERTIES,
        "--add-scram",
        f"SCRAM-SHA-512=[name=admin,password={password}]",
    ]
    assert start == ["exec", "/opt/kafka/bin/kafka-server-start.sh", containers.KAFKA_PROPERTIES]
    # The admin that logs in is the admin the broker itself uses (its JAAS config).
    props = properties(containers.kafka_container_properties(config))
    jaas = props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert f'username="admin" password="{password}"' in jaas


def test_cluster_ids_are_kraft_uuids_the_storage_tool_takes() -> None:
    import base64

    ids = {containers.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_the_image_is_the_local_brokers_kafka_version(config: StackConfig) -> None:
    assert containers.kafka_image(config) == f"apache/kafka:{config.kafka_version}"


def test_the_scram_listing_of_the_admin_api_is_read(config: StackConfig) -> None:
    listing = (
        f"{SCRAM_LINE.format(user='oms-order')}\n"
        f"{SCRAM_LINE.format(user='admin')}\n"
        "SCRAM credential configs for user-principal 'old' are SCRAM-SHA-256=iterations=8192\n"
        "Quota configs for user-principal 'oms-order' are consumer_byte_rate=1024.0\n"
    )
    assert kafka._parse_scram_users(listing) == {"oms-order", "admin"}


def test_only_missing_scram_users_are_added(
    config: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []

    def run_tool(_config: StackConfig, *args: str, tool: str = "") -> str:
        calls.append(args)
        assert tool == kafka.CONFIG_TOOL
        if "--describe" in args:
            return "".join(f"{SCRAM_LINE.format(user=u)}\n" for u in (ADMIN_USER, "oms-order"))
        return ""

    monkeypatch.setattr(kafka, "_run_tool", run_tool)
    added = kafka.ensure_scram_users(config)
    assert added == sorted(set(users()) - {ADMIN_USER, "oms-order"})
    altered = {args[args.index("--entity-name") + 1] for args in calls if "--alter" in args}
    assert altered == set(added)
    for args in calls:  # every call logs in to the client listener as the admin
        assert args[:2] == ("--bootstrap-server", config.kafka_bootstrap)
        assert Path(args[3]) == config.kafka_dir / "admin.properties"
    assert "sasl.mechanism=SCRAM-SHA-512" in (config.kafka_dir / "admin.properties").read_text()


# --------------------------------------------------------------------------- postgres


def test_the_postgres_container_runs_the_local_clusters_settings(config: StackConfig) -> None:
    command = containers.postgres_command()
    assert command[0] == "postgres"
    flags = dict(arg.split("=", 1) for arg in command[2::2])
    assert command[1::2] == ["-c"] * len(postgres.SERVER_SETTINGS)
    assert flags == postgres.SERVER_SETTINGS
    assert flags["max_connections"] == "400"
    env = containers.postgres_environment(config)
    assert env["POSTGRES_USER"] == "postgres"
    assert env["POSTGRES_PASSWORD"] == config.pg_admin_password.get_secret_value()


def test_the_local_cluster_conf_is_written_from_the_same_settings(tmp_path: Path) -> None:
    local = StackConfig(home=tmp_path / "oms", pg_home=tmp_path / "pg")
    local.pg_data.mkdir(parents=True)
    postgres._write_settings(local)
    written = (local.pg_data / "oms.conf").read_text().splitlines()
    assert "max_connections = 400" in written
    assert "idle_in_transaction_session_timeout = '60s'" in written
    assert "fsync = on" in written
    assert "shared_buffers = '256MB'" in written
    assert len(written) == 4 + len(postgres.SERVER_SETTINGS)


# --------------------------------------------------------------------------- oms up / down


def records(log: list[str], name: str, value: object) -> Any:
    """A stand-in that notes ``name`` in ``log`` when called and returns ``value``."""

    def record(*_args: object, **_kwargs: object) -> object:
        log.append(name)
        return value

    return record


def _fail(name: str) -> Any:
    def fail(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError(f"{name} was called for external servers")

    return fail


@pytest.fixture
def no_local_servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every way `oms up`/`down` could start, wait for or stop a local server fails the
    test; the provisioning steps are recorded instead of run."""
    for module, names in (
        (postgres, ("start", "stop", "check_port_free", "running_pid")),
        (kafka, ("start", "stop", "check_ports_free", "running_pid", "wait_healthy")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, _fail(f"{module.__name__}.{name}"))
    done: list[str] = []
    monkeypatch.setattr(postgres, "healthy", lambda _c: True)
    monkeypatch.setattr(kafka, "healthy", lambda _c: True)
    monkeypatch.setattr(postgres, "ensure_databases", records(done, "databases", ["oms_order"]))
    monkeypatch.setattr(kafka, "ensure_libs", records(done, "jars", False))
    monkeypatch.setattr(kafka, "ensure_scram_users", records(done, "scram users", ["oms-order"]))
    monkeypatch.setattr(kafka, "ensure_acls", records(done, "acls", {"added": 3, "removed": 0}))

    async def topics(*_args: object, **_kwargs: object) -> list[str]:
        done.append("topics")
        await asyncio.sleep(0)
        return ["oms.order.events"]

    monkeypatch.setattr(stack, "ensure_topics", topics)
    monkeypatch.setattr(service_processes, "ensure_services", records(done, "services", {}))
    monkeypatch.setattr(service_processes, "stop_services", records(done, "stop services", []))
    monkeypatch.setattr(
        simulator_processes, "stop_simulators", records(done, "stop simulators", [])
    )
    yield done


def test_up_on_external_servers_starts_nothing_local_but_provisions_everything(
    config: StackConfig, no_local_servers: list[str]
) -> None:
    result = stack.ensure_up(config, simulators=False)
    assert no_local_servers == ["databases", "jars", "scram users", "acls", "topics", "services"]
    assert result["postgres"]["action"] == stack.ALREADY_RUNNING
    assert result["postgres"]["created_databases"] == ["oms_order"]
    assert result["kafka"]["action"] == stack.ALREADY_RUNNING
    assert result["kafka"]["scram_users_added"] == ["oms-order"]
    assert result["kafka"]["acls"] == {"added": 3, "removed": 0}
    assert result["kafka"]["bootstrap"] == "127.0.0.1:41234"


def test_down_on_external_servers_stops_the_services_only(
    config: StackConfig, no_local_servers: list[str]
) -> None:
    result = stack.ensure_down(config)
    assert no_local_servers == ["stop simulators", "stop services"]
    assert (result["kafka"], result["postgres"]) == (stack.EXTERNAL, stack.EXTERNAL)


@pytest.mark.parametrize("silent", ["postgres", "kafka"])
def test_up_on_external_servers_that_do_not_answer_fails_before_provisioning(
    config: StackConfig,
    no_local_servers: list[str],
    monkeypatch: pytest.MonkeyPatch,
    silent: str,
) -> None:
    monkeypatch.setattr(postgres if silent == "postgres" else kafka, "healthy", lambda _c: False)
    with pytest.raises(StackError, match="OMS_EXTERNAL is set but no"):
        stack.ensure_up(config)
    assert no_local_servers == []


def test_up_on_the_local_stack_still_starts_the_local_servers(
    tmp_path: Path, no_local_servers: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side: without ``external`` the local start functions are the ones used."""
    local = StackConfig(home=tmp_path / "oms")
    started: list[str] = []
    monkeypatch.setattr(postgres, "running_pid", lambda _c: 1)
    monkeypatch.setattr(kafka, "running_pid", lambda _c: 1)
    monkeypatch.setattr(postgres, "start", records(started, "postgres", False))
    monkeypatch.setattr(kafka, "start", records(started, "kafka", True))
    monkeypatch.setattr(kafka, "secured", lambda _c: True)
    stack.ensure_up(local, simulators=False)
    assert started == ["postgres", "kafka"]


# --------------------------------------------------------------------------- the wrapper


@pytest.fixture
def fake_containers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``run`` with an engine that answers and containers that only record their life;
    the child processes record their command and return 3 for the tests, 0 otherwise."""
    events: list[str] = []

    @contextmanager
    def running(home: Path) -> Iterator[Endpoints]:
        assert home == containers.containers_home()
        events.append("containers started")
        try:
            yield Endpoints(tmp_path, 32768, 41234, "oms-admin", 48080)
        finally:
            events.append("containers removed")

    def child(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        assert env["OMS_EXTERNAL"] == "true" and env["OMS_KAFKA_PORT"] == "41234"
        name = "pytest" if cmd == ["pytest", "-q"] else f"oms {cmd[-1]}"
        events.append(name)
        failing = {"pytest", *(["oms up"] if "up fails" in events else [])}
        return subprocess.CompletedProcess(cmd, 3 if name in failing else 0)

    monkeypatch.setattr(containers, "probe_docker", lambda: REACHABLE)
    monkeypatch.setattr(containers, "running_containers", running)
    monkeypatch.setattr(subprocess, "run", child)
    return events


def test_run_keeps_the_tests_exit_code_and_always_cleans_up(fake_containers: list[str]) -> None:
    assert containers.run(["pytest", "-q"], env={STACK_VARIABLE: "containers"}) == 3
    assert fake_containers == [
        "containers started",
        "oms up",
        "pytest",
        "oms down",
        "containers removed",
    ]


def test_run_stops_at_a_failed_up_with_its_exit_code(fake_containers: list[str]) -> None:
    fake_containers.append("up fails")
    assert containers.run(["pytest", "-q"], env={STACK_VARIABLE: "containers"}) == 3
    assert fake_containers[1:] == ["containers started", "oms up", "oms down", "containers removed"]


def test_run_is_only_for_the_containers_stack(fake_containers: list[str]) -> None:
    with pytest.raises(StackSelectionError, match="is for OMS_TEST_STACK=containers"):
        containers.run(["pytest", "-q"], env={})
    assert fake_containers == []
