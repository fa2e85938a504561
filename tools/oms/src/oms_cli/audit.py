"""`oms audit`: an order's cross-service history and state at a moment, the tamper check
over every store, and the export of events for auditors.

Everything here reads the services' own ``events`` tables (each service's database,
``StackConfig.service_dsn`` unless ``--db SERVICE=DSN`` says otherwise); nothing is
written anywhere. An order's state is folded from its events through the operations read
models' pure ``apply`` (the same functions the live projections and ``oms replay`` use),
so it is what the dashboards would have shown had they stopped at that moment.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import psycopg
from aiokafka.errors import KafkaError

from oms_cli.config import SERVICES, StackConfig

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from oms_platform.anchors import AnchorSet

SOURCE_SERVICES: tuple[str, ...] = tuple(s for s in SERVICES if s != "operations")
"""The services whose stores hold the system's events (operations publishes none)."""

MAX_ID_LENGTH = 200
_ONE_LINE = re.compile(r"^[^\x00-\x1f\x7f]+$")
NOT_STATE = frozenset({"ops_timeline"})
"""Read models not shown as state: the timeline is printed as such."""
EXPORT_COLUMNS = (
    "service",
    "position",
    "event_id",
    "stream_id",
    "stream_version",
    "type",
    "version",
    "occurred_at",
    "recorded_at",
    "actor",
    "producer",
    "correlation_id",
    "causation_id",
    "payload",
)
_SELECT = (
    "SELECT position, event_id, stream_id, stream_version, type, version, occurred_at, "
    "recorded_at, actor, producer, correlation_id, causation_id, payload::text FROM events"
)


class AuditError(Exception):
    """A request `oms audit` cannot carry out (bad argument, database unreachable)."""


# ------------------------------------------------------------------------- arguments


def databases(
    overrides: Sequence[str] | None,
    services: Iterable[str] = SERVICES,
    config: StackConfig | None = None,
) -> dict[str, str]:
    """Service -> DSN: the local stack's, each ``SERVICE=DSN`` of ``overrides`` instead."""
    config = config or StackConfig()
    found = {s: config.service_dsn(s) for s in services}
    for item in overrides or ():
        service, sep, dsn = item.partition("=")
        if not sep or service not in SERVICES or not dsn.startswith(("postgresql:", "postgres:")):
            raise AuditError(f"--db wants SERVICE=postgresql://..., got {item[:80]!r}")
        if service in found:
            found[service] = dsn
    return found


def pick(found: Mapping[str, str], services: Sequence[str] | None) -> dict[str, str]:
    """Only ``services`` of ``found`` (all when none are named)."""
    if not services:
        return dict(found)
    unknown = sorted(set(services) - set(found))
    if unknown:
        raise AuditError(f"unknown service {', '.join(unknown)} (known: {', '.join(found)})")
    return {s: found[s] for s in found if s in services}


def parse_time(text: str, *, end: bool = False) -> datetime:
    """An ISO 8601 time (UTC when no offset is given). A date alone is its midnight, or
    with ``end`` the next midnight (so ``--to 2026-05-03`` includes that day)."""
    try:
        if len(text) <= 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AuditError(f"{text[:60]!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_id(value: str, what: str = "order id") -> str:
    if not 0 < len(value) <= MAX_ID_LENGTH or not _ONE_LINE.match(value):
        raise AuditError(f"the {what} must be 1-{MAX_ID_LENGTH} printable characters, one line")
    return value


def _connect(service: str, dsn: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(dsn, connect_timeout=5, application_name="oms-audit")
    except psycopg.OperationalError as err:
        raise AuditError(f"cannot reach the {service} database: {err}") from err


# ----------------------------------------------------------------------- the records


@dataclass(frozen=True)
class StoredEvent:
    """One row of a service's ``events`` table, its payload as the stored JSON text."""

    service: str
    position: int
    event_id: str
    stream_id: str
    stream_version: int
    type: str
    version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    producer: str
    correlation_id: str
    causation_id: str | None
    payload: str

    @classmethod
    def of(cls, service: str, row: Sequence[Any]) -> StoredEvent:
        return cls(service, row[0], str(row[1]), *row[2:])

    def as_json_line(self) -> str:
        head = {k: v for k, v in self.fields().items() if k != "payload"}
        return json.dumps(head, ensure_ascii=False)[:-1] + f', "payload": {self.payload}}}'

    def fields(self) -> dict[str, Any]:
        values = asdict(self)
        values["occurred_at"] = self.occurred_at.isoformat()
        values["recorded_at"] = self.recorded_at.isoformat()
        return values

    def envelope(self) -> Any:
        from oms_events.envelope import Envelope

        return Envelope(
            event_id=self.event_id,
            type=self.type,
            version=self.version,
            stream_id=self.stream_id,
            stream_version=self.stream_version,
            occurred_at=self.occurred_at,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            actor=self.actor,
            producer=self.producer,
            payload=json.loads(self.payload),
        )


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def order_events(
    dbs: Mapping[str, str], order_id: str, as_of: datetime | None = None
) -> list[StoredEvent]:
    """Every event about ``order_id`` in every store (its payload's ``order_id``, its
    correlation, or a stream named after it: ``order-<id>``, ``fulfilment-ful-<id>-BER``),
    each store in position order, the stores merged by ``occurred_at``; with ``as_of``
    only those that had occurred by then."""
    check_id(order_id)
    query = (
        f"{_SELECT} WHERE (payload->>'order_id' = %(id)s OR correlation_id = %(id)s "
        r"OR stream_id LIKE %(tail)s ESCAPE '\' OR stream_id LIKE %(inner)s ESCAPE '\') "
        "AND (%(as_of)s::timestamptz IS NULL OR occurred_at <= %(as_of)s::timestamptz) "
        "ORDER BY position"
    )
    params = {"id": order_id, "tail": f"%-{_like(order_id)}", "as_of": as_of}
    params["inner"] = f"%-{_like(order_id)}-%"
    per_store = []
    for service, dsn in dbs.items():
        try:
            with _connect(service, dsn) as conn:
                rows = conn.execute(query, params).fetchall()
        except psycopg.Error as err:
            raise AuditError(f"cannot read the {service} store: {err}") from err
        per_store.append([StoredEvent.of(service, row) for row in rows])
    return list(heapq.merge(*per_store, key=lambda e: e.occurred_at))


def state_of(order_id: str, events: Sequence[StoredEvent]) -> dict[str, list[dict[str, Any]]]:
    """The order's read-model rows after ``events``: each projection's pure ``apply``
    over them in order, keeping the rows that belong to the order (``order_id``)."""
    from oms_events.registry import registry
    from oms_operations.projections.tables import MODELS
    from oms_operations.replay import Fold

    fold = Fold([m for m in MODELS if m.table not in NOT_STATE])
    for stored in events:
        env = stored.envelope()
        fold.apply(env, registry.parse(env))
    state: dict[str, list[dict[str, Any]]] = {}
    for table, rows in fold.rows.items():
        mine = [plain(r) for r in rows.values() if getattr(r, "order_id", None) == order_id]
        if mine:
            state[table.removeprefix("ops_")] = mine
    return state


def plain(value: Any) -> Any:
    """A row (dataclasses, tuples, decimals, times) as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# ---------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Break:
    service: str
    stream_id: str
    stream_version: int | None
    kind: str
    detail: str


@dataclass
class Verification:
    streams: int = 0
    events: int = 0
    breaks: list[Break] | None = None
    keyed: bool = False
    """The hashes were recomputed with the chain key (without it: versions, heads, anchors)."""
    anchors: int | None = None
    """Verified anchors checked against the stores (None: the anchor topic was not read)."""


async def verify(
    dbs: Mapping[str, str],
    *,
    chain_key: bytes | None = None,
    anchors: AnchorSet | None = None,
) -> Verification:
    """The tamper check (``PostgresEventStore.verify``) over every store of ``dbs``: with
    ``chain_key`` every hash recomputed, with ``anchors`` every anchored head of the
    service checked (``rewritten``, ``truncated``, ``deleted``) and every anchor that did
    not verify reported (``bad_anchor_signature``), and two anchors of one stream version
    that differ (``conflicting_anchors``)."""
    from oms_platform.db import create_engine
    from oms_platform.eventstore import PostgresEventStore

    result = Verification(breaks=[], keyed=chain_key is not None)
    assert result.breaks is not None
    if anchors is not None:
        result.anchors = sum(1 for a in anchors.anchors.values() if a.service in dbs)
        for name, reason in sorted(anchors.bad.items()):
            service, _, stream_id = name.partition("/")
            result.breaks.append(Break(service, stream_id, None, "bad_anchor_signature", reason))
        for name, reason in sorted(anchors.conflicts.items()):
            service, _, stream_id = name.partition("/")
            result.breaks.append(Break(service, stream_id, None, "conflicting_anchors", reason))
    for service, dsn in dbs.items():
        engine = create_engine(dsn, pool_size=1, application_name="oms-audit")
        store = PostgresEventStore(engine, chain_key=chain_key, pool_size=1)
        try:
            async with store.connection() as conn:
                cur = await conn.execute("SELECT count(*), count(DISTINCT stream_id) FROM events")
                row = await cur.fetchone()
            anchored = anchors.of(service) if anchors is not None else None
            findings = await store.verify(None, anchored)
        except psycopg.Error as err:
            raise AuditError(f"cannot read the {service} store: {err}") from err
        finally:
            await store.close()
            await engine.dispose()
        assert row is not None
        result.events += int(row[0])
        result.streams += int(row[1])
        result.breaks += [
            Break(service, f.stream_id, f.stream_version, f.kind, f.detail) for f in findings
        ]
    return result


def chain_key_of(path: Path) -> bytes:
    """The chain key in ``path`` (hex, as ``oms up`` writes it)."""
    from oms_platform.eventstore.hashing import ChainKeyError, chain_key_from_hex

    try:
        return chain_key_from_hex(path.read_text())
    except OSError as err:
        raise AuditError(f"cannot read the chain key {path}: {err.strerror}") from None
    except ChainKeyError as err:
        raise AuditError(f"{path}: {err}") from None


def anchor_public_key(path: Path) -> Ed25519PublicKey:
    """The public key that verifies the anchors' signatures, from its PEM file."""
    from oms_platform.anchors import AnchorError, public_key_from_pem

    try:
        return public_key_from_pem(path.read_text())
    except OSError as err:
        raise AuditError(f"cannot read the anchor public key {path}: {err.strerror}") from None
    except AnchorError as err:
        raise AuditError(f"{path}: {err}") from None


async def load_anchors(
    options: Mapping[str, Any], topic: str, public_key: Ed25519PublicKey
) -> AnchorSet:
    """The anchors on ``topic``, each record's signature checked with ``public_key``."""
    from oms_platform.anchors import AnchorError, read_anchors

    try:
        return await read_anchors(options, topic, public_key)
    except AnchorError as err:
        raise AuditError(str(err)) from None
    except (KafkaError, OSError) as err:
        raise AuditError(f"cannot read the anchors on {topic}: {type(err).__name__}") from err


# ---------------------------------------------------------------------------- export


def export_rows(
    dbs: Mapping[str, str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    stream: str | None = None,
) -> Iterator[StoredEvent]:
    """Every event that occurred in ``[start, end)`` (of ``stream`` only, if given), store
    by store in position order, read through a server-side cursor (never all in memory)."""
    query = (
        f"{_SELECT} WHERE (%(start)s::timestamptz IS NULL OR occurred_at >= %(start)s) "
        "AND (%(end)s::timestamptz IS NULL OR occurred_at < %(end)s) "
        "AND (%(stream)s::text IS NULL OR stream_id = %(stream)s) ORDER BY position"
    )
    params = {"start": start, "end": end, "stream": stream}
    for service, dsn in dbs.items():
        try:
            with _connect(service, dsn) as conn, conn.cursor(name="oms_audit_export") as cur:
                cur.itersize = 1000
                cur.execute(query, params)
                for row in cur:
                    yield StoredEvent.of(service, row)
        except psycopg.Error as err:
            raise AuditError(f"cannot read the {service} store: {err}") from err


def write_export(events: Iterable[StoredEvent], out: TextIO, fmt: str) -> int:
    """Write ``events`` as JSON lines (payload as JSON) or CSV (payload as JSON text, a
    header row first); returns how many were written."""
    count = 0
    if fmt == "jsonl":
        for event in events:
            out.write(event.as_json_line() + "\n")
            count += 1
        return count
    if fmt != "csv":
        raise AuditError(f"unknown format {fmt!r} (jsonl or csv)")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for event in events:
        values = event.fields()
        writer.writerow(["" if values[c] is None else values[c] for c in EXPORT_COLUMNS])
        count += 1
    return count


def read_export(text: str, fmt: str) -> list[dict[str, Any]]:
    """An export read back (tests, and a check an auditor can run): payloads as JSON."""
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line]
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        row["payload"] = json.loads(row["payload"])
        for name in ("position", "stream_version", "version"):
            row[name] = int(row[name])
        row["causation_id"] = row["causation_id"] or None
    return rows
