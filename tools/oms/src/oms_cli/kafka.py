"""A real Apache Kafka 4.x broker (KRaft, combined broker+controller) without Docker.

The jars come from Maven Central via ``deploy/local/kafka/pom.xml`` and are cached once per
machine in ``<cache_dir>/kafka-<version>/libs`` (a ``.complete`` marker next to it says the
copy finished). Per-checkout state lives in ``<home>/kafka``::

    server.properties   rewritten on every start from StackConfig
    cluster.id          the KRaft cluster id used by the one-time storage format
    data/               log.dirs (formatted with ``StorageTool format --standalone``)
    logs/server.log     log4j2 (deploy/local/kafka/log4j2.yaml), INFO
    logs/kafka.out      the JVM's stdout/stderr (WARN+ and crashes), truncated per start
    kafka.pid           pid of the detached broker JVM
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

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

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
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


def server_properties(config: StackConfig) -> str:
    h = config.host
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{h}:{config.kafka_controller_port}",
        "listeners": f"PLAINTEXT://{h}:{config.kafka_port},"
        f"CONTROLLER://{h}:{config.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://{h}:{config.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(config.kafka_data),
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


def _run_tool(config: StackConfig, *args: str) -> str:
    cmd = [_java(), *TOOL_JVM_OPTS, "-cp", f"{config.kafka_libs}/*", STORAGE_TOOL, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise StackError(
            f"{STORAGE_TOOL} {' '.join(args)} failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr).strip()[-3000:]}"
        )
    return proc.stdout


def _format_storage(config: StackConfig) -> None:
    id_file = config.kafka_dir / "cluster.id"
    cluster_id = id_file.read_text().strip() if id_file.is_file() else ""
    if not cluster_id:
        cluster_id = _run_tool(config, "random-uuid").strip().splitlines()[-1]
        id_file.write_text(cluster_id + "\n")
    _run_tool(
        config, "format", "--standalone", "-t", cluster_id, "-c", str(config.kafka_properties)
    )
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


def metadata_ok(host: str, port: int, timeout: float = 3.0) -> bool:
    """TCP connect + a real Metadata request (v4, no topics); True if a broker answers.

    Hand-rolled so that `oms status` needs neither Java nor a Kafka client library. v4 is
    the oldest Metadata version Kafka 4.x still accepts (KIP-896) and is non-flexible.
    """
    correlation_id = 0x0A5
    client_id = b"oms-status"
    header = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i?", 0, False)  # topics: empty array; allow_auto_topic_creation
    request = header + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            response = _recv_exact(sock, size)
    except (OSError, ConnectionError, struct.error):
        return False
    if len(response) < 12:
        return False
    got_id, _throttle_ms, n_brokers = struct.unpack_from(">iii", response, 0)
    return bool(got_id == correlation_id and n_brokers >= 1)


def healthy(config: StackConfig) -> bool:
    return metadata_ok(config.host, config.kafka_port)


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
    config.kafka_properties.write_text(server_properties(config))
    if not is_formatted(config):
        _format_storage(config)

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
    return True


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
