"""`oms dlq`: the dead letters and parked events of every service, and replaying them.

Each service keeps what it could not process in its own database (``dead_letters``: a
consumer gave up on a message; ``parked_events``: the relay could not publish an event).
An entry's id names its service and kind: ``order/d12`` is dead letter 12 of the order
service, ``order/p345`` the event at position 345 that its relay parked.

``replay`` only marks entries; the service that failed them runs them again through the
same consumer (idempotent through its inbox) or, for parked events, tries to publish
them again. With ``wait`` it reports what became of each.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from oms_cli.config import StackConfig
from oms_cli.services import implemented
from oms_platform import deadletters

_ID = re.compile(r"^(?P<service>[a-z_]+)/(?P<kind>[dp])(?P<n>[0-9]{1,18})$")


class DlqError(Exception):
    """A request `oms dlq` cannot carry out (bad id, unknown service, database down)."""


@dataclass(frozen=True, slots=True)
class EntryId:
    service: str
    kind: str  # "dead_letter" | "parked"
    number: int

    def __str__(self) -> str:
        return f"{self.service}/{'d' if self.kind == 'dead_letter' else 'p'}{self.number}"

    @classmethod
    def parse(cls, text: str) -> EntryId:
        match = _ID.fullmatch(text.strip())
        if match is None:
            raise DlqError(f"{text!r} is not an entry id such as order/d12 or order/p345")
        kind = "dead_letter" if match["kind"] == "d" else "parked"
        return cls(match["service"], kind, int(match["n"]))


Databases = Mapping[str, str]
"""Service name -> DSN of its database."""


def databases_of(config: StackConfig) -> dict[str, str]:
    """The databases of the services in this checkout, on the local stack."""
    return {name: config.service_dsn(name) for name in implemented()}


async def _connect(databases: Databases, service: str) -> psycopg.AsyncConnection[Any]:
    if service not in databases:
        raise DlqError(f"there is no service {service!r} (known: {', '.join(databases)})")
    try:
        return await psycopg.AsyncConnection.connect(
            databases[service], autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as err:
        raise DlqError(f"cannot reach the {service} database: {err}") from err


async def list_entries(
    databases: Databases, *, include_done: bool = False, service: str | None = None
) -> list[dict[str, Any]]:
    """Every entry of every service (or one), newest first, with its age in seconds."""
    found: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for name in [service] if service else list(databases):
        async with await _connect(databases, name) as conn:
            try:
                rows = await deadletters.list_entries(conn, include_done=include_done)
            except psycopg.errors.UndefinedTable:
                continue  # the service has not started once yet
        for row in rows:
            entry_id = EntryId(name, row["kind"], int(row["id"]))
            at = row["at"]
            found.append(
                {
                    **row,
                    "id": str(entry_id),
                    "service": name,
                    "age_s": round((now - at).total_seconds()) if at else None,
                }
            )
    found.sort(key=lambda r: r["age_s"] if r["age_s"] is not None else 0)
    return found


async def show_entry(databases: Databases, entry: str) -> dict[str, Any]:
    parsed = EntryId.parse(entry)
    async with await _connect(databases, parsed.service) as conn:
        row = await deadletters.show_entry(conn, parsed.kind, parsed.number)
    if row is None:
        raise DlqError(f"there is no entry {parsed}")
    return {"id": str(parsed), "service": parsed.service, "kind": parsed.kind, **row}


async def replay(
    databases: Databases,
    *,
    topic: str | None = None,
    consumer: str | None = None,
    code: str | None = None,
    service: str | None = None,
    entries: list[str] | None = None,
    wait_s: float = 30.0,
) -> list[dict[str, Any]]:
    """Ask the services to replay matching entries; wait up to ``wait_s`` for outcomes."""
    wanted = [EntryId.parse(e) for e in entries or []]
    services = sorted({e.service for e in wanted}) if wanted else [service] if service else None
    requested: list[EntryId] = []
    for name in services or list(databases):
        letters = [e.number for e in wanted if e.service == name and e.kind == "dead_letter"]
        parked = [e.number for e in wanted if e.service == name and e.kind == "parked"]
        async with await _connect(databases, name) as conn:
            if not wanted or letters:
                ids = await deadletters.request_replay(
                    conn, topic=topic, consumer=consumer, code=code, ids=letters
                )
                requested += [EntryId(name, "dead_letter", i) for i in ids]
            if (not wanted and topic is None and consumer is None) or parked:
                positions = await deadletters.request_republish(conn, code=code, ids=parked)
                requested += [EntryId(name, "parked", p) for p in positions]
    return await _outcomes(databases, requested, wait_s)


async def _outcomes(
    databases: Databases, requested: list[EntryId], wait_s: float
) -> list[dict[str, Any]]:
    outcome: dict[EntryId, str | None] = dict.fromkeys(requested)
    deadline = time.monotonic() + wait_s
    while True:
        for name in sorted({e.service for e in requested}):
            async with await _connect(databases, name) as conn:
                letters = [e for e in requested if e.service == name and e.kind == "dead_letter"]
                results = await deadletters.replay_results(conn, [e.number for e in letters])
                for e in letters:
                    outcome[e] = results.get(e.number)
                for e in (e for e in requested if e.service == name and e.kind == "parked"):
                    row = await deadletters.show_entry(conn, "parked", e.number)
                    if row and row.get("published_at"):
                        outcome[e] = "published"
                    elif row and row.get("replay_requested_at") is None:
                        outcome[e] = "parked_again"
        if all(v is not None for v in outcome.values()) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    return [{"id": str(e), "outcome": outcome[e] or "pending"} for e in requested]
