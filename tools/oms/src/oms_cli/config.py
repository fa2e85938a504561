"""Configuration of the local, Docker-free OMS stack (PostgreSQL + Kafka).

Every field can be overridden with an ``OMS_``-prefixed environment variable, e.g.
``OMS_PG_PORT=25433`` or ``OMS_HOME=/var/tmp/oms``.

Other packages import ``StackConfig`` and ``SERVICES`` from here; keep those names stable.

Credentials in this module are *local-development defaults only*: the admin password
defaults to ``oms-admin`` and every service role ``oms_<service>`` has the password
``oms_<service>``. The servers listen on 127.0.0.1 only. Never reuse these in a shared or
production environment.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms_cli.proc import StackError
from oms_platform.kafka_client import KafkaConnection

SERVICES: tuple[str, ...] = (
    "order",
    "inventory",
    "payments",
    "fulfilment",
    "shipping",
    "returns",
    "operations",
    "connectors",
)

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _walk_up_for(marker: str, start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / marker).exists():
            return candidate
    return None


def find_repo_root() -> Path | None:
    """The workspace root (the directory holding ``uv.lock``), or None.

    Looks upwards from this file first: the stack belongs to the checkout whose code is
    running (editable workspace install, or a .venv inside the checkout), whatever the
    current directory is (tests, libs/..., /tmp). Falls back to looking upwards from the
    current directory (e.g. a non-editable install used inside a checkout).
    """
    found = _walk_up_for("uv.lock", Path(__file__).resolve().parent)
    if found is not None:
        return found
    return _walk_up_for("uv.lock", Path.cwd().resolve())


def deploy_dir() -> Path:
    """``deploy/local`` of the checkout that holds this package (pom.xml, log4j2 configs)."""
    here = Path(__file__).resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / "deploy" / "local" / "kafka" / "pom.xml").is_file():
            return candidate / "deploy" / "local"
    root = find_repo_root()
    if root is not None and (root / "deploy" / "local" / "kafka" / "pom.xml").is_file():
        return root / "deploy" / "local"
    raise StackError("cannot find deploy/local/kafka/pom.xml; run oms from an OMS checkout")


def _searchable_by_others(path: Path) -> bool:
    """True when every folder down to ``path`` lets any user traverse it."""
    for folder in (*reversed(path.parents), path):
        try:
            if not folder.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _default_home() -> Path:
    # Robust choice: <repo root>/.oms (see find_repo_root), so `oms` run from any directory
    # shares the checkout's one stack. Falls back to ./.oms outside a checkout.
    root = find_repo_root()
    return (root if root is not None else Path.cwd()) / ".oms"


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "oms"


class StackConfig(BaseSettings):
    """Where the local stack lives and which ports it uses."""

    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    """State directory (PostgreSQL cluster, Kafka log dirs, pid files, logs)."""
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    """Machine-wide cache outside the git tree (Kafka jars resolved from Maven Central)."""
    pg_port: int = 25432
    kafka_port: int = 29092
    kafka_controller_port: int = 29093
    kafka_version: str = "4.1.1"
    pg_admin_password: SecretStr = SecretStr("oms-admin")
    host: str = "127.0.0.1"
    kafka_partitions: int = Field(default=6, ge=1, le=1000)
    """Partitions of each OMS topic `oms up` creates; also what the services create with
    (two instances of a service share a topic's partitions, so this bounds scaling out)."""
    pg_bindir: Path | None = None
    """PostgreSQL server bin dir; default: pg_config --bindir, then /usr/lib/postgresql/*/bin."""
    external: bool = False
    """PostgreSQL and Kafka are run by someone else (``OMS_TEST_STACK=containers``: the
    testcontainers stack of ``oms_cli.containers``): `oms up` provisions them (databases,
    roles, SCRAM users, ACLs, topics) through their admin logins but never starts or stops
    them, and `oms down` leaves them alone."""

    @field_validator("home", "cache_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return Path(os.path.abspath(value.expanduser()))

    # -- Kafka -----------------------------------------------------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def kafka(self) -> KafkaConnection:
        """The stack's broker as its super user (``oms`` tools, tests, benchmarks); the
        services log in as their own users (``oms_cli.services.kafka_env``)."""
        from oms_cli.kafka import connection  # oms_cli.kafka imports this module

        return connection(self)

    # -- PostgreSQL ------------------------------------------------------------------
    @property
    def admin_dsn(self) -> str:
        pw = quote(self.pg_admin_password.get_secret_value(), safe="")
        return f"postgresql://postgres:{pw}@{self.host}:{self.pg_port}/postgres"

    def service_dsn(self, service: str) -> str:
        """DSN of ``oms_<service>`` on its own database (local-dev password = role name)."""
        role = service_role(service)
        return f"postgresql://{role}:{quote(role, safe='')}@{self.host}:{self.pg_port}/{role}"

    def service_port(self, service: str) -> int:
        return self.services_base_port + 1 + SERVICES.index(service)

    def service_url(self, service: str) -> str:
        return f"http://{self.host}:{self.service_port(service)}"

    # -- Paths -----------------------------------------------------------------------
    services_base_port: int = 58080
    """Service ``SERVICES[i]`` listens on ``services_base_port + 1 + i`` (order: 58081)."""
    platform_sandbox_port: int = 58090
    """The Adobe Commerce and Shopify sandboxes (``python -m oms_connectors.sandbox``)."""

    @property
    def platform_sandbox_url(self) -> str:
        return f"http://{self.host}:{self.platform_sandbox_port}"

    pg_home: Path | None = None
    """Where the PostgreSQL cluster lives; default ``<home>/pg`` (see ``pg_dir``)."""

    @property
    def pg_dir(self) -> Path:
        """``<home>/pg``, unless root runs us in a folder the ``postgres`` user cannot reach.

        PostgreSQL refuses to run as root, so as root the server runs as ``postgres``,
        which must be able to traverse every parent folder. A checkout under /root is
        not; then the cluster goes to a folder of its own under /var/tmp, named after
        the checkout's state dir so that two checkouts never share one.
        """
        if self.pg_home is not None:
            return self.pg_home
        default = self.home / "pg"
        if os.geteuid() == 0 and not _searchable_by_others(self.home.parent):
            digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:12]
            return Path("/var/tmp") / f"oms-pg-{digest}"
        return default

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_run(self) -> Path:
        return self.pg_dir / "run"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "postgres.log"

    @property
    def services_dir(self) -> Path:
        return self.home / "services"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_logs(self) -> Path:
        return self.kafka_dir / "logs"

    @property
    def kafka_pid_file(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / f"kafka-{self.kafka_version}" / "libs"


def service_role(service: str) -> str:
    """``order`` -> ``oms_order`` (role and database name)."""
    if not _SERVICE_NAME.match(service):
        raise ValueError(f"invalid service name {service!r}")
    return f"oms_{service}"
