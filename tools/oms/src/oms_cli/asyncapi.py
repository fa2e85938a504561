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

import sys
from pathlib import Path

from oms_cli.config import SERVICES, find_repo_root
from oms_cli.hosts import host_of
from oms_events.topics import topic_for
from oms_platform.asyncapi import Subscriber, document

DOCUMENT = Path("docs") / "asyncapi.json"
"""Where the document lives, relative to the repository root."""


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
