"""Write or check ``docs/asyncapi.json``, the AsyncAPI document of every OMS topic.

    uv run --no-sync python -m oms_cli.asyncapi export   # (re)write the document
    uv run --no-sync python -m oms_cli.asyncapi check    # exit 1 if it is out of date

The readers of each topic come from the services themselves: each service's host is built
from its ``create_app`` with settings that point nowhere (nothing connects at
construction) and its subscriptions are read off it, so the document cannot list a
consumer that does not exist or miss one that does. The generation itself is
:mod:`oms_platform.asyncapi` (FastStream).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from oms_cli.config import SERVICES, find_repo_root
from oms_events.topics import topic_for
from oms_platform.asyncapi import Subscriber, document
from oms_platform.service import ServiceHost
from oms_platform.settings import ServiceSettings
from oms_platform.testing.keys import service_keys

DOCUMENT = Path("docs") / "asyncapi.json"
"""Where the document lives, relative to the repository root."""

_NOWHERE = SecretStr("postgresql://nobody:nothing@127.0.0.1:1/nowhere")
_PLACEHOLDER_KEY = "ab" * 32


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"oms_{service}.settings")
    # Every service names its settings class after itself (``OrderSettings``).
    name = next(n for n in vars(module) if n.lower() == f"{service}settings")
    cls: type[ServiceSettings] = getattr(module, name)
    return cls


def host_of(service: str) -> ServiceHost:
    """``service``'s host, built only to be looked at (the keys are the tests' fixed ones:
    this host never serves, verifies or signs anything)."""
    app = importlib.import_module(f"oms_{service}.app")
    cls = _settings_class(service)
    given: dict[str, Any] = {"database_dsn": _NOWHERE, **service_keys()}
    for name, field in cls.model_fields.items():
        # A service's own required secret (payments' gift card key): a placeholder.
        if field.is_required() and name not in given and field.annotation is SecretStr:
            given[name] = SecretStr(_PLACEHOLDER_KEY)
    settings = cls(**given)
    host: ServiceHost = app.create_app(settings)
    return host


def subscribers(services: tuple[str, ...] = SERVICES) -> list[Subscriber]:
    """Every consumer group of every service, once per topic it reads."""
    found: list[Subscriber] = []
    for service in services:
        runtime = host_of(service).consumers
        assert runtime is not None  # a host on PostgreSQL always has one
        for sub in runtime.subscriptions:
            for topic in sub.topics:
                types = tuple(sorted(t for t in sub.handlers if topic_for(t) == topic))
                found.append(Subscriber(service, sub.consumer, topic, types))
    return found


def generate() -> str:
    """The document as it should be now."""
    return document(subscribers())


def path() -> Path:
    root = find_repo_root()
    if root is None:
        raise SystemExit("not inside the OMS checkout (no uv.lock above here)")
    return root / DOCUMENT


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    target = path()
    if command == "export":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(generate(), encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if command == "check":
        fresh = generate()
        if not target.exists() or target.read_text(encoding="utf-8") != fresh:
            print(f"{target} is out of date: run `python -m oms_cli.asyncapi export`")
            return 1
        print(f"{target} is up to date")
        return 0
    print("usage: python -m oms_cli.asyncapi export|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
