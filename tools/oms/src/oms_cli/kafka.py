"""A real Apache Kafka 4.x broker (KRaft, combined broker+controller) without Docker.

The jars come from Maven Central via ``deploy/local/kafka/pom.xml`` and are cached once per
machine in ``<cache_dir>/kafka-<version>/libs`` (a ``.complete`` marker next to it says the
copy finished). Per-checkout state lives in ``<home>/kafka``::

    server.properties   rewritten on every start from StackConfig (mode 0600: it holds
                        the admin's password, which the broker itself logs in with)
    cluster.id          the KRaft cluster id used by the one-time storage format
    scram-users         the SCRAM users the cluster has (made at format, or added later)
    data/               log.dirs (formatted with ``StorageTool format --standalone``)
    logs/server.log     log4j2 (deploy/local/kafka/log4j2.yaml), INFO
    logs/kafka.out      the JVM's stdout/stderr (WARN+ and crashes), truncated per start
    kafka.pid           pid of the detached broker JVM

Clients authenticate with SASL/SCRAM-SHA-512 on the one client listener: a user per
service and one for the sales platforms, each allowed only what ``oms_platform.access``
grants (ACLs applied by :func:`ensure_acls`); ``admin`` is the super user. The controller
listener takes SASL PLAIN with the admin only: on a PLAINTEXT controller listener the
broker's principal would be ANONYMOUS and the controller would refuse its registration.
Passwords are made once under ``<home>/secrets`` (``oms_cli.secrets.kafka_password``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import SecretStr

from oms_cli.config import StackConfig, deploy_dir
from oms_cli.proc import (
    StackError,
    file_lock,
    pid_alive,
    pid_cmdline,
    port_accepts,
    port_is_free,
    read_pid,
    spawn_detached,
    stop_pid,
    tail,
)
from oms_cli.secrets import kafka_password
from oms_platform.access import (
    ADMIN_USER,
    AclRule,
    Operation,
    PatternType,
    ResourceType,
    acl_rules,
    users,
)
from oms_platform.kafka_client import SASL_MECHANISM, KafkaConnection

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
ACL_TOOL = "org.apache.kafka.tools.AclCommand"
CONFIG_TOOL = "kafka.admin.ConfigCommand"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
CLIENT_LISTENER = "SASL_PLAINTEXT"
STARTED_MARKER = "Kafka Server started"
# A broker that was killed recovers every partition log before it serves: with a few
# hundred test topics that takes well over a minute on two cores.
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
BROKER_JVM_OPTS = ("-Xmx512m", "-Xms512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")
TOOL_JVM_OPTS = ("-Xmx512m", "-Djava.awt.headless=true")


# --------------------------------------------------------------------------- jars


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise StackError("`java` not found; install a JDK/JRE 17+ (e.g. openjdk-17-jre-headless)")
    return java


def _libs_marker(config: StackConfig) -> Path:
    return config.kafka_libs.parent / ".complete"


def libs_ready(config: StackConfig) -> bool:
    return _libs_marker(config).is_file() and config.kafka_libs.is_dir()


def ensure_libs(config: StackConfig) -> bool:
    """Resolve the Kafka jars into the machine cache once. Returns True if it downloaded."""
    if libs_ready(config):
        return False
    version_dir = config.kafka_libs.parent
    version_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(version_dir.parent / f"kafka-{config.kafka_version}.lock"):
        if libs_ready(config):
            return False
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("`mvn` (Maven 3) not found; it is needed once to fetch Kafka's jars")
        partial = version_dir / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        pom = deploy_dir() / "kafka" / "pom.xml"
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            f"-Dkafka.version={config.kafka_version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        main_jar = partial / f"kafka_2.13-{config.kafka_version}.jar"
        if proc.returncode != 0 or not main_jar.is_file():
            raise StackError(
                f"resolving Kafka {config.kafka_version} jars with Maven failed "
                f"(exit {proc.returncode}): {' '.join(cmd)}\n"
                f"{(proc.stdout + proc.stderr).strip()[-3000:]}"
            )
        shutil.rmtree(config.kafka_libs, ignore_errors=True)
        partial.rename(config.kafka_libs)
        jars = sorted(p.name for p in config.kafka_libs.glob("*.jar"))
        _libs_marker(config).write_text("\n".join(jars) + "\n")
    return True


def kafka_java_cmd(config: StackConfig, main_class: str, *args: str) -> list[str]:
    """argv running a Kafka Java class (e.g. ``org.apache.kafka.tools.ProducerPerformance``)
    with the cached Kafka jars on the classpath and a quiet log4j2 config.

    Resolves the jars first if they are not cached yet (``oms up`` already does that).
    """
    ensure_libs(config)
    log_conf = deploy_dir() / "kafka" / "tools-log4j2.yaml"
    return [
        _java(),
        *TOOL_JVM_OPTS,
        f"-Dlog4j2.configurationFile={log_conf}",
        "-cp",
        f"{config.kafka_libs}/*",
        main_class,
        *args,
    ]


# --------------------------------------------------------------------------- config


def _jaas(module: str, user: str, password: str, *extra: str) -> str:
    return (
        " ".join([f"{module} required", f'username="{user}"', f'password="{password}"', *extra])
        + ";"
    )


def server_properties(
    config: StackConfig,
    *,
    admin_plain: bool = False,
    bind_host: str | None = None,
    log_dirs: str | None = None,
) -> str:
    """The broker's configuration; ``admin_plain`` also lets the admin log in with PLAIN on
    the client listener (only while SCRAM users are added to a cluster formatted without).

    ``bind_host`` and ``log_dirs`` are for the broker in a container (``oms_cli.containers``),
    which must listen on every interface of the container for Docker's port forward to reach
    it and keeps its logs inside; everything else, security included, is this one config.
    """
    h = config.host
    admin = kafka_password(config, ADMIN_USER)
    plain_jaas = _jaas(
        "org.apache.kafka.common.security.plain.PlainLoginModule",
        ADMIN_USER,
        admin,
        f'user_{ADMIN_USER}="{admin}"',
    )
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{h}:{config.kafka_controller_port}",
        "listeners": f"{CLIENT_LISTENER}://{bind_host or h}:{config.kafka_port},"
        f"CONTROLLER://{h}:{config.kafka_controller_port}",
        "advertised.listeners": f"{CLIENT_LISTENER}://{h}:{config.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": CLIENT_LISTENER,
        "listener.security.protocol.map": f"{CLIENT_LISTENER}:SASL_PLAINTEXT,"
        "CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": f"{SASL_MECHANISM},PLAIN" if admin_plain else SASL_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SASL_MECHANISM,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": _jaas(
            "org.apache.kafka.common.security.scram.ScramLoginModule", ADMIN_USER, admin
        ),
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": plain_jaas,
        "authorizer.class.name": AUTHORIZER,
        "super.users": f"User:{ADMIN_USER}",
        "allow.everyone.if.no.acl.found": "false",
        **(
            {"listener.name.sasl_plaintext.plain.sasl.jaas.config": plain_jaas}
            if admin_plain
            else {}
        ),
        "log.dirs": log_dirs or str(config.kafka_data),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
    }
    lines = ["# Managed by `oms up` (oms_cli.kafka); rewritten on every start."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def is_formatted(config: StackConfig) -> bool:
    return (config.kafka_data / "meta.properties").is_file()


def _run_tool(config: StackConfig, *args: str, tool: str = STORAGE_TOOL) -> str:
    cmd = kafka_java_cmd(config, tool, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        shown = " ".join(a if "password=" not in a else "<secret>" for a in args)
        output = (proc.stdout + proc.stderr).strip()[-3000:]
        for user in users():  # the tools echo their arguments
            output = output.replace(kafka_password(config, user), "<secret>")
        raise StackError(f"{tool} {shown} failed (exit {proc.returncode}):\n{output}")
    return proc.stdout


def _scram(config: StackConfig, user: str, *, named: bool) -> str:
    name = f"name={user}," if named else ""
    return f"{SASL_MECHANISM}=[{name}password={kafka_password(config, user)}]"


def _scram_users_file(config: StackConfig) -> Path:
    return config.kafka_dir / "scram-users"


def _known_scram_users(config: StackConfig) -> set[str]:
    path = _scram_users_file(config)
    return set(path.read_text().split()) if path.is_file() else set()


def _format_storage(config: StackConfig) -> None:
    id_file = config.kafka_dir / "cluster.id"
    cluster_id = id_file.read_text().strip() if id_file.is_file() else ""
    if not cluster_id:
        cluster_id = _run_tool(config, "random-uuid").strip().splitlines()[-1]
        id_file.write_text(cluster_id + "\n")
    scram = [arg for user in users() for arg in ("--add-scram", _scram(config, user, named=True))]
    _run_tool(
        config,
        "format",
        "--standalone",
        "-t",
        cluster_id,
        "-c",
        str(config.kafka_properties),
        *scram,
    )
    _scram_users_file(config).write_text("\n".join(users()) + "\n")
    (config.kafka_dir / "format.json").write_text(
        json.dumps(
            {
                "cluster_id": cluster_id,
                "kafka_version": config.kafka_version,
                "controller": f"{config.host}:{config.kafka_controller_port}",
            }
        )
        + "\n"
    )


# --------------------------------------------------------------------------- health


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def api_versions_ok(host: str, port: int, timeout: float = 3.0) -> bool:
    """TCP connect + a real ApiVersions request (v0); True if a broker answers.

    Hand-rolled so that `oms status` needs neither Java nor a Kafka client library.
    ApiVersions is the one request a SASL listener answers before a client authenticates
    (KIP-43), and Kafka 4.x still takes its v0, which is non-flexible.
    """
    correlation_id = 0x0A5
    client_id = b"oms-status"
    request = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            response = _recv_exact(sock, size)
    except (OSError, ConnectionError, struct.error):
        return False
    if len(response) < 10:
        return False
    got_id, error_code, n_apis = struct.unpack_from(">ihi", response, 0)
    return bool(got_id == correlation_id and error_code == 0 and n_apis >= 1)


def healthy(config: StackConfig) -> bool:
    return api_versions_ok(config.host, config.kafka_port)


# --------------------------------------------------------------------------- access


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it holds a password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file made before by a plain write_text keeps its mode
    with os.fdopen(fd, "w") as f:
        f.write(text)


def secured(config: StackConfig) -> bool:
    """Whether the stack's broker was started with SASL (every start since SCRAM came in;
    a broker still running from before takes unauthenticated clients until restarted).
    An external broker (``StackConfig.external``) is always one with SASL: the containers
    stack starts it with this module's ``server_properties``."""
    if config.external:
        return True
    try:
        return f"listeners={CLIENT_LISTENER}://" in config.kafka_properties.read_text()
    except OSError:
        return True  # not started yet: it will be


def connection(config: StackConfig, user: str = ADMIN_USER) -> KafkaConnection:
    """The stack's broker as Kafka user ``user`` (default: the super user, for tools)."""
    if not secured(config):
        return KafkaConnection(config.kafka_bootstrap)
    return KafkaConnection(config.kafka_bootstrap, user, SecretStr(kafka_password(config, user)))


def admin_properties(config: StackConfig, *, plain: bool = False) -> Path:
    """A client properties file logging in as the admin, for Kafka's Java tools (SCRAM; or
    PLAIN, which only a broker started to add SCRAM users takes)."""
    password = kafka_password(config, ADMIN_USER)
    if plain:
        mechanism, module = "PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"
    else:
        mechanism, module = (
            SASL_MECHANISM,
            "org.apache.kafka.common.security.scram.ScramLoginModule",
        )
    path = config.kafka_dir / ("admin-plain.properties" if plain else "admin.properties")
    path.parent.mkdir(parents=True, exist_ok=True)  # absent for an external broker
    _write_private(
        path,
        "security.protocol=SASL_PLAINTEXT\n"
        f"sasl.mechanism={mechanism}\n"
        f"sasl.jaas.config={_jaas(module, ADMIN_USER, password)}\n",
    )
    return path


def _add_scram_users(config: StackConfig, missing: list[str]) -> None:
    """Give a cluster formatted without them (before SCRAM came in, or before a new
    service) its SCRAM users, keeping its data: the broker runs once with PLAIN for the
    admin too (the admin has no SCRAM credential yet, and the controller listener does
    not take this admin request), the users are added, and it stops again."""
    _write_private(config.kafka_properties, server_properties(config, admin_plain=True))
    props = admin_properties(config, plain=True)
    _spawn(config)
    try:
        for user in missing:
            _run_tool(
                config,
                "--bootstrap-server",
                config.kafka_bootstrap,
                "--command-config",
                str(props),
                "--alter",
                "--entity-type",
                "users",
                "--entity-name",
                user,
                "--add-config",
                _scram(config, user, named=False),
                tool=CONFIG_TOOL,
            )
    finally:
        stop(config)
        props.unlink(missing_ok=True)
    known = sorted({*_known_scram_users(config), *missing})
    _scram_users_file(config).write_text("\n".join(known) + "\n")


_SCRAM_LISTED = re.compile(r"SCRAM credential configs for user-principal '([^']+)' are (.+)")


def _parse_scram_users(listing: str) -> set[str]:
    """The users with a SCRAM-SHA-512 credential in a ``ConfigCommand --describe
    --entity-type users`` listing."""
    return {m[1] for m in _SCRAM_LISTED.finditer(listing) if f"{SASL_MECHANISM}=" in m[2]}


def scram_users(config: StackConfig) -> set[str]:
    """The users the broker holds a SCRAM-SHA-512 credential for, asked over the client
    listener as the admin (DescribeUserScramCredentials)."""
    listing = _run_tool(
        config, *_acl_base(config), "--describe", "--entity-type", "users", tool=CONFIG_TOOL
    )
    return _parse_scram_users(listing)


def lacks_scram_users(config: StackConfig) -> bool:
    """Whether a principal of ``oms_platform.access`` is missing from the users the local
    broker was given (``kafka.start`` records them)."""
    known = _known_scram_users(config)
    return any(u not in known for u in users())


def ensure_scram_users(config: StackConfig) -> list[str]:
    """Give a broker we did not format (``StackConfig.external``: the containers stack, whose
    storage knows only the admin) a SCRAM credential for every user of
    ``oms_platform.access`` that lacks one, as the admin over the client listener
    (AlterUserScramCredentials; aiokafka has no API for it). Returns the users added."""
    base = _acl_base(config)
    missing = sorted(set(users()) - scram_users(config))

    def add(user: str) -> None:
        _run_tool(
            config,
            *base,
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            user,
            "--add-config",
            _scram(config, user, named=False),
            tool=CONFIG_TOOL,
        )

    # Each a JVM start: two at a time, as for the ACLs.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(add, missing))
    if not config.external and missing:
        known = sorted({*_known_scram_users(config), *missing})
        _scram_users_file(config).write_text("\n".join(known) + "\n")
    return missing


_ACL_RESOURCE = re.compile(r"ResourcePattern\(resourceType=(\w+), name=(.+?), patternType=(\w+)\)")
_ACL_ENTRY = re.compile(
    r"\(principal=User:([^,]+), host=\*, operation=(\w+), permissionType=ALLOW\)"
)


def _parse_acls(listing: str) -> set[AclRule]:
    """The allow rules of OMS users (``oms-*``) in an ``AclCommand --list`` listing."""
    found: set[AclRule] = set()
    resource: tuple[str, str, str] | None = None
    for line in listing.splitlines():
        if (m := _ACL_RESOURCE.search(line)) is not None:
            resource = (m[1].lower(), m[2], m[3].lower())
        elif (m := _ACL_ENTRY.search(line)) is not None and resource is not None:
            user, operation = m[1], m[2].capitalize()
            if user.startswith("oms-") and operation in {"Read", "Write"}:
                kind, name, pattern = resource
                found.add(
                    AclRule(
                        user, ResourceType(kind), name, PatternType(pattern), Operation(operation)
                    )
                )
    return found


def _acl_args(action: str, rules: list[AclRule]) -> list[list[str]]:
    """``AclCommand`` argument lists doing ``action`` for ``rules``: one run per user,
    operation, resource type and pattern, naming all of its resources."""
    runs: dict[tuple[str, Operation, ResourceType, PatternType], list[str]] = {}
    for r in sorted(rules):
        runs.setdefault((r.user, r.operation, r.resource, r.pattern), []).append(r.name)
    return [
        [
            action,
            *(["--force"] if action == "--remove" else []),
            "--allow-principal",
            f"User:{user}",
            "--operation",
            operation.value,
            "--resource-pattern-type",
            pattern.value,
            *(arg for name in names for arg in (f"--{kind.value}", name)),
        ]
        for (user, operation, kind, pattern), names in runs.items()
    ]


def _acl_base(config: StackConfig) -> list[str]:
    props = admin_properties(config)
    return ["--bootstrap-server", config.kafka_bootstrap, "--command-config", str(props)]


def acls(config: StackConfig) -> set[AclRule]:
    """The allow rules the broker holds for the OMS users (``oms-*``)."""
    return _parse_acls(_run_tool(config, *_acl_base(config), "--list", tool=ACL_TOOL))


def ensure_acls(config: StackConfig) -> dict[str, int]:
    """Make the broker's ACLs of the OMS users equal ``oms_platform.access.acl_rules()``:
    add what is missing, remove what the map no longer grants. Idempotent (a run with
    nothing to do lists the ACLs once)."""
    base = _acl_base(config)
    present = acls(config)
    wanted = set(acl_rules())
    missing, stale = sorted(wanted - present), sorted(present - wanted)
    runs = _acl_args("--add", missing) + _acl_args("--remove", stale)
    # A fresh broker needs a score of runs, each a JVM start: two at a time (two cores).
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda args: _run_tool(config, *base, *args, tool=ACL_TOOL), runs))
    return {"added": len(missing), "removed": len(stale)}


# --------------------------------------------------------------------------- lifecycle


def running_pid(config: StackConfig) -> int | None:
    """PID of *our* broker (pid file + a cmdline that names our server.properties)."""
    pid = read_pid(config.kafka_pid_file)
    if pid is None or not pid_alive(pid):
        return None
    cmdline = pid_cmdline(pid)
    if MAIN_CLASS in cmdline and str(config.kafka_properties) in cmdline:
        return pid
    return None


def _server_log(config: StackConfig) -> Path:
    return config.kafka_logs / "server.log"


def _stdout_log(config: StackConfig) -> Path:
    return config.kafka_logs / "kafka.out"


def _log_tails(config: StackConfig) -> str:
    return (
        f"--- {_server_log(config)} ---\n{tail(_server_log(config))}\n"
        f"--- {_stdout_log(config)} ---\n{tail(_stdout_log(config))}"
    )


def check_ports_free(config: StackConfig) -> None:
    """Raise if a configured Kafka port is taken by something that is not our broker."""
    for port, var in (
        (config.kafka_port, "OMS_KAFKA_PORT"),
        (config.kafka_controller_port, "OMS_KAFKA_CONTROLLER_PORT"),
    ):
        if not port_is_free(config.host, port):
            raise StackError(
                f"port {config.host}:{port} is already in use by another process (not the OMS "
                f"Kafka broker). Stop it or choose another port with {var}."
            )


def start(config: StackConfig) -> bool:
    """Start the broker if it is not running. Returns True if we started it."""
    if running_pid(config) is not None:
        return False
    check_ports_free(config)
    ensure_libs(config)
    for d in (config.kafka_dir, config.kafka_data, config.kafka_logs):
        d.mkdir(parents=True, exist_ok=True)
    _write_private(config.kafka_properties, server_properties(config))
    if not is_formatted(config):
        _format_storage(config)
    elif missing := [u for u in users() if u not in _known_scram_users(config)]:
        _add_scram_users(config, missing)
        _write_private(config.kafka_properties, server_properties(config))
    _spawn(config)
    return True


def _spawn(config: StackConfig) -> None:
    """Start the broker JVM on the properties written and wait until it serves."""
    stdout_log = _stdout_log(config)
    if stdout_log.exists():
        stdout_log.replace(stdout_log.with_suffix(".out.prev"))
    server_log = _server_log(config)
    offset = server_log.stat().st_size if server_log.exists() else 0

    cmd = [
        _java(),
        *BROKER_JVM_OPTS,
        f"-Dkafka.logs.dir={config.kafka_logs}",
        f"-Dlog4j2.configurationFile={deploy_dir() / 'kafka' / 'log4j2.yaml'}",
        "-cp",
        f"{config.kafka_libs}/*",
        MAIN_CLASS,
        str(config.kafka_properties),
    ]
    pid = spawn_detached(cmd, config.kafka_dir, stdout_log)
    config.kafka_pid_file.write_text(f"{pid}\n")
    _wait_ready(config, pid, offset)


def _log_says_started(path: Path, offset: int) -> bool:
    try:
        with path.open("rb") as fh:
            if fh.seek(0, os.SEEK_END) < offset:
                offset = 0  # rolled over
            fh.seek(offset)
            return STARTED_MARKER.encode() in fh.read()
    except OSError:
        return False


def _wait_ready(config: StackConfig, pid: int, offset: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            config.kafka_pid_file.unlink(missing_ok=True)
            raise StackError(
                f"Kafka broker (pid {pid}) exited during startup\n{_log_tails(config)}"
            )
        if (
            port_accepts(config.host, config.kafka_port, timeout=0.5)
            and _log_says_started(_server_log(config), offset)
            and healthy(config)
        ):
            return
        time.sleep(0.25)
    raise StackError(
        f"Kafka broker (pid {pid}) not ready after {READY_TIMEOUT_S:.0f}s; it is still running, "
        f"check the logs or run `oms down`\n{_log_tails(config)}"
    )


def wait_healthy(config: StackConfig, timeout: float = READY_TIMEOUT_S) -> bool:
    """Wait for an already running broker (e.g. one still starting) to answer metadata."""
    deadline = time.monotonic() + timeout
    while True:
        if healthy(config):
            return True
        if time.monotonic() >= deadline or running_pid(config) is None:
            return False
        time.sleep(0.25)


def stop(config: StackConfig) -> bool:
    """Stop our broker (SIGTERM, controlled shutdown; SIGKILL after 30 s)."""
    pid = running_pid(config)
    if pid is None:
        config.kafka_pid_file.unlink(missing_ok=True)
        return False
    stop_pid(pid, STOP_TIMEOUT_S)
    config.kafka_pid_file.unlink(missing_ok=True)
    return True
