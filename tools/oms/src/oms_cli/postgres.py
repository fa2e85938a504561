"""Project-local PostgreSQL cluster for the OMS stack.

Layout (``<home>`` = ``StackConfig.home``)::

    <home>/pg/data           the cluster (initdb), owned by the server's OS user
    <home>/pg/run            unix socket directory
    <home>/pg/postgres.log   server log (pg_ctl -l)

``initdb`` and ``postgres`` refuse to run as root. When ``oms`` runs as root the cluster is
created and run as the ``postgres`` OS user (``runuser -u postgres --``) on a ``<home>/pg``
that it owns; that user must be able to traverse every parent of ``<home>``. We never chmod
directories we did not create: if a parent is not searchable we stop with a clear message
(set ``OMS_HOME`` to a reachable place instead).

Server settings live in ``<data>/oms.conf`` (included from postgresql.conf) and are rewritten
on every start so port changes in the config take effect.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from oms_cli.config import SERVICES, StackConfig, service_role
from oms_cli.proc import (
    StackError,
    is_root,
    pid_alive,
    pid_cmdline,
    port_is_free,
    read_pid,
    tail,
)

PG_OS_USER = "postgres"
_SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


# --------------------------------------------------------------------------- binaries


def _has_server(bindir: Path) -> bool:
    return all((bindir / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres"))


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def find_bindir(config: StackConfig) -> Path | None:
    """The PostgreSQL server bin directory, or None if the server is not installed."""
    if config.pg_bindir is not None:
        return config.pg_bindir if _has_server(config.pg_bindir) else None
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_server(Path(out)):
            return Path(out)
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if _has_server(p)),
        key=_version_key,
        reverse=True,
    )
    if candidates:
        return candidates[0]
    initdb = shutil.which("initdb")
    if initdb and _has_server(Path(initdb).parent):
        return Path(initdb).parent
    return None


def ensure_bindir(config: StackConfig) -> Path:
    """Find the server binaries; install Debian's ``postgresql`` package if root."""
    if config.pg_bindir is not None and not _has_server(config.pg_bindir):
        raise StackError(f"OMS_PG_BINDIR={config.pg_bindir} has no initdb/pg_ctl/postgres")
    bindir = find_bindir(config)
    if bindir is not None:
        return bindir
    if not is_root():
        raise StackError(
            "PostgreSQL server binaries not found (looked at pg_config --bindir and "
            "/usr/lib/postgresql/*/bin). Install the `postgresql` package "
            "(e.g. `sudo apt-get install postgresql`) or set OMS_PG_BINDIR."
        )
    # Note: Debian's package may create and start a system cluster on port 5432.
    # We leave it alone; the OMS cluster is separate and uses its own port.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
            )
    bindir = find_bindir(config)
    if bindir is None:
        raise StackError("installed `postgresql` but still cannot find initdb/pg_ctl")
    return bindir


# --------------------------------------------------------------------------- helpers


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_OS_USER, "--", *cmd] if is_root() else cmd


def _run(cmd: list[str], cwd: Path, what: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        _as_server_user(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise StackError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"{(proc.stdout + proc.stderr).strip()[-3000:]}"
        )
    return proc.stdout


def _server_uid_gid() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(PG_OS_USER)
    except KeyError as exc:
        raise StackError(
            f"running as root but there is no `{PG_OS_USER}` OS user to run PostgreSQL as; "
            "install the `postgresql` package or run oms as a regular user"
        ) from exc
    return entry.pw_uid, entry.pw_gid


def _blocking_parent(path: Path, uid: int, gid: int) -> Path | None:
    """First ancestor of ``path`` the given user cannot search (x bit), if any."""
    groups = {gid, *(g for g in os.getgrouplist(PG_OS_USER, gid))}
    for parent in reversed((path, *path.parents)):
        try:
            st = parent.stat()
        except OSError:
            return parent
        if st.st_uid == uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            return parent
    return None


def _prepare_dirs(config: StackConfig) -> None:
    socket_path = config.pg_run / f".s.PGSQL.{config.pg_port}"
    if len(str(socket_path)) > _SOCKET_PATH_MAX:
        raise StackError(
            f"unix socket path {socket_path} is longer than {_SOCKET_PATH_MAX} bytes; "
            "set OMS_HOME to a shorter path"
        )
    home_existed = config.home.exists()
    config.home.mkdir(parents=True, exist_ok=True)
    config.pg_dir.mkdir(exist_ok=True)
    config.pg_run.mkdir(exist_ok=True)
    if not is_root():
        return
    uid, gid = _server_uid_gid()
    if not home_existed:
        # Our own state dir: make it searchable so the server user can reach pg/.
        config.home.chmod(config.home.stat().st_mode | 0o011)
    for path in (config.pg_dir, config.pg_run):
        st = path.stat()
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.chown(path, uid, gid)
    config.pg_dir.chmod(0o700)
    blocked = _blocking_parent(config.pg_dir, uid, gid)
    if blocked is not None:
        raise StackError(
            f"the `{PG_OS_USER}` OS user (PostgreSQL refuses to run as root) cannot reach "
            f"{config.pg_dir}: {blocked} is not searchable by it. Set OMS_HOME to a directory "
            "it can reach (e.g. OMS_HOME=/var/tmp/oms) or fix that directory's permissions."
        )


SERVER_SETTINGS: dict[str, str] = {
    # Seven services with pools of up to 20 each, twice over while the e2e tests run
    # their own set beside the stack's.
    "max_connections": "400",
    "idle_in_transaction_session_timeout": "60s",
    "fsync": "on",
    "shared_buffers": "256MB",
}
"""The server settings of the OMS cluster beyond where it listens: the local cluster's
``oms.conf`` and the containers stack's ``postgres -c`` flags (``oms_cli.containers``) are
both made from this, so the two servers cannot drift apart."""


def _conf_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _conf_value(value: str) -> str:
    """A setting as ``oms.conf`` spells it: numbers and booleans bare, the rest quoted."""
    return value if value.isdigit() or value in {"on", "off"} else _conf_quote(value)


def _write_settings(config: StackConfig) -> None:
    conf = config.pg_data / "oms.conf"
    conf.write_text(
        "# Managed by `oms up` (oms_cli.postgres); rewritten on every start.\n"
        f"listen_addresses = {_conf_quote(config.host)}\n"
        f"port = {config.pg_port}\n"
        f"unix_socket_directories = {_conf_quote(str(config.pg_run))}\n"
        + "".join(f"{name} = {_conf_value(value)}\n" for name, value in SERVER_SETTINGS.items())
    )
    if is_root():
        uid, gid = _server_uid_gid()
        os.chown(conf, uid, gid)


# --------------------------------------------------------------------------- lifecycle


def is_initialized(config: StackConfig) -> bool:
    return (config.pg_data / "PG_VERSION").is_file()


def _initdb(config: StackConfig, bindir: Path) -> None:
    pwfile = config.pg_dir / ".initdb-pw"
    pwfile.write_text(config.pg_admin_password.get_secret_value() + "\n")
    pwfile.chmod(0o600)
    if is_root():
        uid, gid = _server_uid_gid()
        os.chown(pwfile, uid, gid)
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(config.pg_data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                f"--locale={_locale()}",
                "--no-sync",
            ],
            cwd=config.pg_dir,
            what="initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with (config.pg_data / "postgresql.conf").open("a") as fh:
        fh.write("\n# OMS local stack settings\ninclude_if_exists = 'oms.conf'\n")


def _server_major(bindir: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return match.group(1) if match else None


def _locale() -> str:
    # C.UTF-8 (glibc >= 2.35 / Debian) gives UTF-8 aware ctype with C collation; else C.
    return "C.UTF-8" if Path("/usr/lib/locale/C.utf8").exists() else "C"


def running_pid(config: StackConfig) -> int | None:
    """PID of the postmaster serving ``<home>/pg/data``, if it is running."""
    pid = read_pid(config.pg_data / "postmaster.pid")
    if pid is None or not pid_alive(pid):
        return None
    cmdline = pid_cmdline(pid)
    if cmdline and "postgres" not in Path(cmdline[0]).name:
        return None  # stale postmaster.pid whose pid was reused by an unrelated process
    return pid


def healthy(config: StackConfig, timeout: int = 3) -> bool:
    """``SELECT 1`` over TCP with the admin DSN."""
    try:
        with psycopg.connect(config.admin_dsn, connect_timeout=timeout) as conn:
            row = conn.execute("SELECT 1").fetchone()
            return row is not None and row[0] == 1
    except psycopg.Error:
        return False


def check_port_free(config: StackConfig) -> None:
    """Raise if the configured port is taken by something that is not our cluster."""
    if not port_is_free(config.host, config.pg_port):
        raise StackError(
            f"port {config.host}:{config.pg_port} is already in use by another process "
            "(not the OMS PostgreSQL). Stop it or choose another port with OMS_PG_PORT."
        )


def start(config: StackConfig) -> bool:
    """Start the cluster (initdb on first use). Returns True if we started it."""
    if running_pid(config) is not None:
        return False
    check_port_free(config)
    bindir = ensure_bindir(config)
    _prepare_dirs(config)
    stale = config.pg_data / "postmaster.pid"
    if stale.exists():
        # running_pid() said no postmaster of ours is alive, so this lock file is stale.
        stale.unlink()
    if not is_initialized(config):
        _initdb(config, bindir)
    else:
        data_version = (config.pg_data / "PG_VERSION").read_text().strip()
        bin_version = _server_major(bindir)
        if bin_version is not None and bin_version != data_version:
            raise StackError(
                f"{config.pg_data} was created by PostgreSQL {data_version} but the server "
                f"binaries in {bindir} are version {bin_version}; remove {config.pg_dir} "
                f"(data loss) or point OMS_PG_BINDIR at PostgreSQL {data_version}."
            )
    _write_settings(config)
    try:
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(config.pg_data),
                "-l",
                str(config.pg_log),
                "-w",
                "-t",
                "60",
                "start",
            ],
            cwd=config.pg_dir,
            what="pg_ctl start",
        )
    except StackError as exc:
        raise StackError(f"{exc}\n--- {config.pg_log} ---\n{tail(config.pg_log)}") from exc
    return True


def stop(config: StackConfig) -> bool:
    """Stop our cluster (fast shutdown). Returns True if it was running."""
    if running_pid(config) is None:
        return False
    bindir = find_bindir(config)
    if bindir is None:
        raise StackError("cannot stop PostgreSQL: server binaries not found")
    _run(
        [str(bindir / "pg_ctl"), "-D", str(config.pg_data), "-m", "fast", "-w", "-t", "60", "stop"],
        cwd=config.pg_dir,
        what="pg_ctl stop",
    )
    return True


def ensure_databases(config: StackConfig) -> list[str]:
    """Idempotently create role + database ``oms_<s>`` for every service.

    Each database is owned by its role and CONNECT is revoked from PUBLIC, so a service
    role cannot connect to another service's database. Returns the databases created.
    """
    created: list[str] = []
    with psycopg.connect(config.admin_dsn, autocommit=True, connect_timeout=5) as conn:
        roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
        dbs = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        for service in SERVICES:
            name = service_role(service)
            ident = sql.Identifier(name)
            if name not in roles:
                # Local-dev default: password == role name (see oms_cli.config).
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(name))
                )
            if name not in dbs:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(ident, ident)
                )
                created.append(name)
            conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(ident))
    return created
